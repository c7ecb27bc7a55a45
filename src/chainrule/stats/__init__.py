"""Classical statistical learning with inference (scikit-learn's estimator protocol,
statsmodels' result names).

OLS            least squares with nonrobust, HC0-HC3 and cluster covariances; absorb= for fixed effects
IV2SLS, IVLIML instrumental variables (k-class) with first-stage diagnostics and Sargan's test
Logit, MNLogit maximum likelihood (Newton/IRLS) with Wald inference and marginal effects
LogisticRegression(CV)   penalized logistic and softmax regression (scikit-learn's objective)
Ridge, Lasso, ElasticNet   penalized least squares, their paths and cross-validated choices
ForwardStepwise, PCA, PCR   subset selection and principal components

Tests and diagnostics (also methods of the results: ``t_test``, ``f_test``, ``wald_test``,
``get_influence()``, ``het_breuschpagan()``, ``het_white()``, ``jarque_bera()``, ``vif()``):
ContrastResults, linear_restrictions        Wald tests of linear restrictions R θ = q
OLSInfluence                                leverage, studentized residuals, Cook's D, DFFITS, DFBETAS
het_breuschpagan, het_white, jarque_bera, durbin_watson, variance_inflation_factor
"""
from .absorbed_ols import AbsorbedOLSResults
from .elastic_net import ElasticNet, ElasticNetCV, enet_path
from .estimator import Estimator, NotFittedError
from .inference import Summary, wald
from .influence import OLSInfluence
from .iv import IV2SLS, IVLIML
from .iv_results import FirstStageResults, IVResults
from .lasso import Lasso, LassoCV, lasso_path
from .least_squares import CollinearityError
from .logistic_regression import LogisticRegression, LogisticRegressionCV
from .logit import Logit
from .mnlogit import MNLogit
from .ols import OLS
from .ols_results import COV_TYPES, OLSResults
from .pca import PCA, PCR
from .restrictions import ContrastResults, linear_restrictions
from .ridge import Ridge, RidgeCV, ridge_path
from .separation import (
    PerfectSeparationError,
    PerfectSeparationWarning,
    find_multinomial_separation,
    find_separation,
)
from .specification_tests import durbin_watson, het_breuschpagan, het_white, jarque_bera, variance_inflation_factor
from .stepwise import ForwardStepwise
from .validation import DataWarning

__all__ = [
    "Estimator", "NotFittedError", "DataWarning", "Summary", "wald", "OLS", "OLSResults", "CollinearityError",
    "COV_TYPES", "AbsorbedOLSResults", "IV2SLS", "IVLIML", "IVResults", "FirstStageResults",
    "Logit", "MNLogit",
    "LogisticRegression", "LogisticRegressionCV",
    "Ridge", "RidgeCV", "ridge_path", "Lasso", "LassoCV", "lasso_path",
    "ElasticNet", "ElasticNetCV", "enet_path",
    "ForwardStepwise", "PCA", "PCR", "PerfectSeparationError", "PerfectSeparationWarning",
    "find_separation",
    "find_multinomial_separation",
    # tests of restrictions and regression diagnostics
    "ContrastResults", "linear_restrictions", "OLSInfluence", "het_breuschpagan", "het_white", "jarque_bera",
    "durbin_watson", "variance_inflation_factor",
]
