r"""PLR: the partially linear regression model of double/debiased machine learning.

    Y = D θ + g(X) + ζ,   E[ζ | D, X] = 0
    D = m(X) + V,         E[V | X] = 0

θ is the effect of the treatment D (continuous or binary) with the controls X entering
through an unknown g. The nuisances are learned by cross-fitting:

    "partialling out": ℓ(X) = E[Y|X] by ``ml_l`` and m(X) = E[D|X] by ``ml_m``; θ̂ is the
        regression of the residual Y − ℓ̂ on the residual D − m̂ (Robinson 1988).
    "IV-type": in addition g(X) by ``ml_g``, fitted to Y − θ̃ D with θ̃ the partialling-out
        estimate of the same folds (DoubleML's initial estimate); the score uses Y − ĝ(X).

The scores and the standard errors are in :mod:`chainrule.causal.scores`. For a binary
treatment ``ml_m`` may be a classifier; its P(D=1|X) is then used as m̂(X).

Reference: Chernozhukov et al. (2018), Section 4.1; DoubleML's ``DoubleMLPLR``.
"""
from __future__ import annotations

from ..engine import backend
from .base import DMLModel
from .learners import as_learner, is_classifier
from .scores import plr_iv_type, plr_partialling_out

np = backend.host

__all__ = ["PLR"]


class PLR(DMLModel):
    """Partially linear regression by double/debiased machine learning.

    Args:
        ml_l: learner of E[Y|X] (any scikit-learn-style regressor, chainrule estimator or network).
        ml_m: learner of E[D|X]; a classifier (``predict_proba``) for a binary D gives P(D=1|X).
        ml_g: learner of g(X) for score "IV-type" (default: a fresh copy of ``ml_l``).
        score: "partialling out" (default) or "IV-type".
        n_folds: K, the number of cross-fitting folds; n_rep: the number of sample splits.
        random_state: seeds the folds drawn by ``fit`` when none are passed.
        se_aggregation: "doubleml" or "paper", how repeated splits combine standard errors
            (:mod:`chainrule.causal.aggregation`).

    ``fit(X, y, d, folds=None)`` sets ``results_`` (:class:`~chainrule.causal.DMLResults`:
    ``params``, ``bse``, ``pvalues``, ``conf_int()``, ``summary()``, ``bootstrap()``).
    """

    _model = "PLR"
    _scores = ("partialling out", "IV-type")

    def __init__(self, ml_l, ml_m, ml_g=None, score="partialling out", n_folds=5, n_rep=1, random_state=None,
                 se_aggregation="doubleml"):
        self.ml_l, self.ml_m, self.ml_g, self.score = ml_l, ml_m, ml_g, score
        self.n_folds, self.n_rep, self.random_state, self.se_aggregation = n_folds, n_rep, random_state, se_aggregation

    def _check_learners(self, d, y):
        binary = all(np.isin(d[:, j], (0.0, 1.0)).all() for j in range(d.shape[1]))
        proba = is_classifier(self.ml_m)
        if proba and not binary:
            raise ValueError("PLR: ml_m is a classifier, but the treatment is not binary (0/1); pass a regressor")
        self._l = as_learner(self.ml_l, "ml_l")
        self._m = as_learner(self.ml_m, "ml_m", proba=proba)
        if self.score == "IV-type":
            self._g = as_learner(self.ml_l if self.ml_g is None else self.ml_g, "ml_g")

    def _score_elements(self, X, y, d, z, folds, keep):
        l_hat, l_loss, l_models = self._nuisance(self._l, X, y, folds, keep)
        m_hat, m_loss, m_models = self._nuisance(self._m, X, d, folds, keep)
        preds, losses = {"ml_l": l_hat, "ml_m": m_hat}, {"ml_l": l_loss, "ml_m": m_loss}
        models = {"ml_l": l_models, "ml_m": m_models}
        if self.score == "partialling out":
            psi_a, psi_b = plr_partialling_out(y, d, l_hat, m_hat)
            return psi_a, psi_b, preds, losses, models
        v = d - m_hat
        theta_initial = np.mean(v * (y - l_hat)) / np.mean(v * v)
        g_hat, losses["ml_g"], models["ml_g"] = self._nuisance(self._g, X, y - theta_initial * d, folds, keep)
        preds["ml_g"] = g_hat
        psi_a, psi_b = plr_iv_type(y, d, g_hat, m_hat)
        return psi_a, psi_b, preds, losses, models
