r"""IRM: the interactive regression model of double/debiased machine learning.

    Y = g(D, X) + U,   E[U | X, D] = 0
    D = m(X) + V,      E[V | X] = 0,   D ∈ {0, 1}

with fully heterogeneous effects. The targets:

    ATE   θ = E[g(1, X) − g(0, X)]
    ATTE  θ = E[g(1, X) − g(0, X) | D = 1]

Nuisances, cross-fitted: g(0, X) and g(1, X) by ``ml_g`` fitted on the untreated and the
treated training rows of each fold (predicted on every test row), and the propensity
m(X) = P(D=1|X) by the classifier ``ml_m``. The propensities are clipped to
[ε, 1 − ε], ε = ``trimming_threshold`` (DoubleML's default 0.01; its "truncate" rule), and
with ``normalize_ipw`` the inverse weights are normalized (:mod:`chainrule.causal.scores`).
The augmented inverse-propensity scores are Neyman-orthogonal (Hahn 1998; Robins and
Rotnitzky 1995). A propensity model that predicts the treatment (almost) perfectly leaves
rows with m̂ at the clip: a warning says how many.

Reference: Chernozhukov et al. (2018), Section 5.1; DoubleML's ``DoubleMLIRM``.
"""
from __future__ import annotations

import warnings

from ..engine import backend
from .base import DMLModel
from .crossfit import out_of_fold_loss
from .learners import as_learner, is_classifier
from .scores import irm_ate, irm_atte, normalize_propensity

np = backend.host

__all__ = ["IRM"]


class IRM(DMLModel):
    """The average treatment effect (ATE) or the effect on the treated (ATTE) of a binary
    treatment, by double/debiased machine learning.

    Args:
        ml_g: learner of E[Y | D = d, X] (a regressor; a classifier for a binary outcome).
        ml_m: classifier of P(D = 1 | X) (needs ``predict_proba``).
        score: "ATE" (default) or "ATTE".
        n_folds, n_rep, random_state, se_aggregation: as for :class:`~chainrule.causal.PLR`.
        trimming_threshold: ε, the propensities are clipped to [ε, 1 − ε] (0 <= ε < 0.5).
        normalize_ipw: normalize the inverse propensity weights.

    ``fit(X, y, d, folds=None)``; the treatment must be one 0/1 column.
    """

    _model = "IRM"
    _scores = ("ATE", "ATTE")
    _one_treatment = True

    def __init__(self, ml_g, ml_m, score="ATE", n_folds=5, n_rep=1, random_state=None, trimming_threshold=1e-2,
                 normalize_ipw=False, se_aggregation="doubleml"):
        self.ml_g, self.ml_m, self.score = ml_g, ml_m, score
        self.n_folds, self.n_rep, self.random_state, self.se_aggregation = n_folds, n_rep, random_state, se_aggregation
        self.trimming_threshold, self.normalize_ipw = trimming_threshold, normalize_ipw

    def _check_learners(self, d, y):
        if not np.isin(d[:, 0], (0.0, 1.0)).all():
            values = np.unique(d[:, 0])
            raise ValueError(f"IRM: the treatment must be binary (0/1); got {values.size} distinct values "
                             f"({', '.join(f'{v:g}' for v in values[:5])}{' …' if values.size > 5 else ''})")
        threshold = self.trimming_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 0.5:
            raise ValueError(f"IRM: trimming_threshold must be a number in [0, 0.5); got {threshold!r}")
        binary_outcome = np.isin(y, (0.0, 1.0)).all()
        self._g = as_learner(self.ml_g, "ml_g", proba=bool(binary_outcome and is_classifier(self.ml_g)))
        self._m = as_learner(self.ml_m, "ml_m", proba=True)

    def _score_elements(self, X, y, d, z, folds, keep):
        treated = d == 1.0
        g0, g0_loss, g0_models = self._nuisance(self._g, X, y, folds, keep, ~treated, ~treated, "ml_g0")
        g1, g1_loss, g1_models = self._nuisance(self._g, X, y, folds, keep, treated, treated, "ml_g1")
        m_raw, _, m_models = self._nuisance(self._m, X, d, folds, keep)
        extreme = int(np.sum((m_raw < 1e-6) | (m_raw > 1 - 1e-6)))
        if extreme:
            warnings.warn(f"IRM: the propensity model predicts the treatment (almost) perfectly for {extreme} of "
                          f"{d.size} rows (P(D=1|X) within 1e-6 of 0 or 1); they are clipped to "
                          f"[{self.trimming_threshold}, {1 - self.trimming_threshold}] and the effect rests on weak "
                          f"overlap", stacklevel=4)
        m_hat = np.clip(m_raw, self.trimming_threshold, 1 - self.trimming_threshold)
        m_loss = out_of_fold_loss(d, m_hat, True)  # of the clipped propensities, as DoubleML reports it
        m_used = normalize_propensity(m_hat, d) if self.normalize_ipw else m_hat
        score = irm_ate if self.score == "ATE" else irm_atte
        psi_a, psi_b = score(y, d, g0, g1, m_used)
        preds = {"ml_g0": g0, "ml_g1": g1, "ml_m": m_hat}
        losses = {"ml_g0": g0_loss, "ml_g1": g1_loss, "ml_m": m_loss}
        return psi_a, psi_b, preds, losses, {"ml_g0": g0_models, "ml_g1": g1_models, "ml_m": m_models}
