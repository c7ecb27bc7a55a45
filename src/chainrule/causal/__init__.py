"""Double/debiased machine learning: treatment effects with valid standard errors when the
controls enter through machine-learned nuisance functions (Chernozhukov et al. 2018).

PLR, IRM, PLIV      the partially linear, interactive and partially linear IV models
DMLResults          estimates, standard errors, p-values, intervals, the multiplier bootstrap
NetworkLearner      a chainrule network as a nuisance learner (early stopping on a held-out split)
make_folds, check_folds   cross-fitting splits (K folds, n_rep repetitions)
make_cluster_folds, cluster_fold_sets   cluster splits for ``fit(..., clusters=...)`` (cluster-robust SEs)
make_plr_CCDDHNR2018, make_irm_data   the simulated designs of the DML literature (DoubleML's draws)

Any scikit-learn-style estimator and chainrule's ``stats`` estimators are nuisance learners
as they are; results equal the DoubleML package's on the same folds and learners.
"""
from .bootstrap import draw_weights, multiplier_bootstrap
from .clusters import cluster_fold_sets, make_cluster_folds
from .datasets import make_irm_data, make_plr_CCDDHNR2018
from .folds import check_folds, make_folds
from .irm import IRM
from .learners import NetworkLearner, as_learner
from .pliv import PLIV
from .plr import PLR
from .results import DMLResults

__all__ = ["PLR", "IRM", "PLIV", "DMLResults", "NetworkLearner", "as_learner", "make_folds", "check_folds",
           "make_cluster_folds", "cluster_fold_sets", "draw_weights", "multiplier_bootstrap", "make_plr_CCDDHNR2018",
           "make_irm_data"]

# Farrell-Liang-Misra
from .flm import FLM2021, flm_ate_score, make_flm_ate_data  # noqa: E402
from .heterogeneity import (  # noqa: E402
    DeepHeterogeneity,
    influence_function,
    loss_derivatives,
    make_heterogeneity_data,
    randomized_lambda,
    structured_loss,
)

__all__ += ["FLM2021", "flm_ate_score", "make_flm_ate_data", "DeepHeterogeneity", "structured_loss",
            "influence_function", "loss_derivatives", "randomized_lambda", "make_heterogeneity_data"]
# end Farrell-Liang-Misra
