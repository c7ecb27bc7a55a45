r"""PLIV: the partially linear instrumental-variables model of double/debiased machine learning.

    Y = D θ + g(X) + ζ,   E[ζ | Z, X] = 0
    Z = m(X) + V,         E[V | X] = 0

with an endogenous treatment D and instruments Z. Nuisances, cross-fitted: ℓ(X) = E[Y|X] by
``ml_l``, m(X) = E[Z|X] by ``ml_m`` (one fit per instrument), r(X) = E[D|X] by ``ml_r``, and
for the "IV-type" score (one instrument) g(X) by ``ml_g`` fitted to Y − θ̃ D, θ̃ the
partialling-out estimate of the same folds. The "partialling out" score is the IV regression
of Y − ℓ̂ on D − r̂ with instrument Z − m̂; with several instruments, the instrument is the
fitted value of the regression of D − r̂ on the Z − m̂ (:mod:`chainrule.causal.scores`).

Reference: Chernozhukov et al. (2018), Section 4.2; Chernozhukov, Hansen and Spindler (2015);
DoubleML's ``DoubleMLPLIV`` (partialX).
"""
from __future__ import annotations

from ..engine import backend
from .base import DMLModel, as_matrix
from .learners import as_learner
from .scores import pliv_iv_type, pliv_partialling_out

np = backend.host

__all__ = ["PLIV"]


class PLIV(DMLModel):
    """Partially linear IV regression by double/debiased machine learning.

    Args:
        ml_l: learner of E[Y|X]; ml_m: of E[Z|X]; ml_r: of E[D|X];
        ml_g: of g(X) for score "IV-type" (default: a fresh copy of ``ml_l``).
        score: "partialling out" (default) or "IV-type" (one instrument).
        n_folds, n_rep, random_state, se_aggregation: as for :class:`~chainrule.causal.PLR`.

    ``fit(X, y, d, z, folds=None)`` with instruments ``z`` (n,) or (n, k).
    """

    _model = "PLIV"
    _scores = ("partialling out", "IV-type")

    def __init__(self, ml_l, ml_m, ml_r, ml_g=None, score="partialling out", n_folds=5, n_rep=1, random_state=None,
                 se_aggregation="doubleml"):
        self.ml_l, self.ml_m, self.ml_r, self.ml_g, self.score = ml_l, ml_m, ml_r, ml_g, score
        self.n_folds, self.n_rep, self.random_state, self.se_aggregation = n_folds, n_rep, random_state, se_aggregation

    def _instruments(self, z, n):
        if z is None:
            raise ValueError("PLIV: instruments z are required (fit(X, y, d, z))")
        values, _ = as_matrix(z, "z", "PLIV")
        if values.shape[0] != n:
            raise ValueError(f"PLIV: z must have {n} rows, one per row of X; got {values.shape[0]}")
        for j in range(values.shape[1]):
            if np.ptp(values[:, j]) == 0:
                raise ValueError(f"PLIV: instrument column {j} has no variation")
        if self.score == "IV-type" and values.shape[1] > 1:
            raise ValueError(f"PLIV: score 'IV-type' takes one instrument; z has {values.shape[1]} columns")
        return values

    def _check_learners(self, d, y):
        self._l = as_learner(self.ml_l, "ml_l")
        self._m = as_learner(self.ml_m, "ml_m")
        self._r = as_learner(self.ml_r, "ml_r")
        if self.score == "IV-type":
            self._g = as_learner(self.ml_l if self.ml_g is None else self.ml_g, "ml_g")

    def _score_elements(self, X, y, d, z, folds, keep):
        l_hat, l_loss, l_models = self._nuisance(self._l, X, y, folds, keep)
        r_hat, r_loss, r_models = self._nuisance(self._r, X, d, folds, keep)
        preds, losses = {"ml_l": l_hat, "ml_r": r_hat}, {"ml_l": l_loss, "ml_r": r_loss}
        models = {"ml_l": l_models, "ml_r": r_models}
        m_hat = np.empty_like(z)
        for j in range(z.shape[1]):
            name = "ml_m" if z.shape[1] == 1 else f"ml_m_z{j + 1}"
            m_hat[:, j], losses[name], models[name] = self._nuisance(self._m, X, z[:, j], folds, keep, name=name)
            preds[name] = m_hat[:, j]
        if self.score == "partialling out":
            psi_a, psi_b = pliv_partialling_out(y, d, z, l_hat, m_hat, r_hat)
            return psi_a, psi_b, preds, losses, models
        v = z[:, 0] - m_hat[:, 0]
        theta_initial = np.mean(v * (y - l_hat)) / np.mean(v * (d - r_hat))
        g_hat, losses["ml_g"], models["ml_g"] = self._nuisance(self._g, X, y - theta_initial * d, folds, keep)
        preds["ml_g"] = g_hat
        psi_a, psi_b = pliv_iv_type(y, d, z[:, 0], g_hat, m_hat[:, 0])
        return psi_a, psi_b, preds, losses, models
