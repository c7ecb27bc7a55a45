r"""The results of a double/debiased machine-learning fit, with statsmodels' names.

For treatments j = 1 … k and repetitions s = 1 … S of the sample split (estimates θ̂_js,
standard errors se_js; :mod:`chainrule.causal.scores`):

    params    θ̂_j = median_s θ̂_js
    bse       aggregated by ``se_aggregation`` (:mod:`chainrule.causal.aggregation`)
    tvalues   θ̂_j / se_j
    pvalues   2 (1 − Φ(|t_j|))    (DoubleML's ``pval``; its framework's ``pvals`` takes instead the
              median over repetitions of each repetition's p-value, which ``all_pvalues`` gives)
    conf_int(alpha)     median_s of θ̂_js ∓ z_{1−α/2} se_js
    conf_int(alpha, joint=True)   median_s of θ̂_js ∓ c_s se_js, c_s the bootstrap quantile of
                        max_j |t*_j| (:mod:`chainrule.causal.bootstrap`; call ``bootstrap()`` first)

Inference is on the normal distribution (z statistics), as in Chernozhukov et al. (2018) and
DoubleML; the numbers equal DoubleML's ``coef``, ``se``, ``t_stat``, ``pval`` and
``confint()`` on the same folds and learners.
"""
from __future__ import annotations

from scipy import stats as _distributions

from ..engine import backend
from ..stats.inference import Summary, Table
from . import bootstrap as _bootstrap
from .aggregation import aggregate

np = backend.host

__all__ = ["DMLResults"]


class DMLResults:
    """Estimates and inference of a DML model (``PLR``, ``IRM``, ``PLIV``).

    Attributes (arrays over the treatments, or pandas Series indexed by the treatment names
    when the treatments were named, i.e. given as a Series or DataFrame): ``params``, ``bse``,
    ``tvalues``, ``pvalues``; ``all_params`` and ``all_bse`` (k, n_rep): each repetition's;
    ``psi`` (n, k, n_rep): the scores at the estimates; ``nuisance_loss``: a dict of the
    learners' out-of-fold losses (RMSE, or log loss for propensities), each (n_rep, k);
    ``names``, ``model``, ``score``, ``nobs``, ``n_folds``, ``n_rep``, ``se_aggregation``,
    ``boot_t`` (after ``bootstrap()``). Methods: ``conf_int(alpha, joint)``, ``bootstrap(…)``,
    ``cov_params()`` (diagonal, from ``bse``), ``summary()``.
    """

    def __init__(self, all_coef, all_se, psi, J, names, model, score, n_folds, se_aggregation="doubleml",
                 nuisance_loss=None, named=False, loss_kinds=None, clusters=None):
        self.all_coef, self.all_se = np.asarray(all_coef, dtype=np.float64), np.asarray(all_se, dtype=np.float64)
        self.psi, self.J = psi, J
        self.names, self.model, self.score = list(names), model, score
        self.nobs, self.n_folds, self.n_rep = psi.shape[0], n_folds, self.all_coef.shape[1]
        self.se_aggregation = se_aggregation
        self.nuisance_loss = dict(nuisance_loss or {})
        self.loss_kinds = dict(loss_kinds or {})
        self._named = bool(named)
        self._coef, self._se = aggregate(self.all_coef, self.all_se, se_aggregation)
        self.boot_t, self.boot_method, self.n_rep_boot = None, None, None
        self.clusters = dict(clusters) if clusters else None

    # -- estimates ---------------------------------------------------------------------------
    @property
    def params(self):
        """θ̂: the median over repetitions of the estimates."""
        return self._labelled(self._coef)

    @property
    def bse(self):
        """The standard errors (aggregated over repetitions by ``se_aggregation``)."""
        return self._labelled(self._se)

    @property
    def tvalues(self):
        """z statistics params / bse."""
        return self._labelled(self._coef / self._se)

    @property
    def pvalues(self):
        """Two-sided normal p-values of ``tvalues``."""
        return self._labelled(self._pvalues())

    @property
    def all_pvalues(self):
        """Each repetition's two-sided p-values, (k, n_rep)."""
        return 2 * _distributions.norm.sf(np.abs(self.all_coef / self.all_se))

    @property
    def all_params(self):
        """The estimates of each repetition, (k, n_rep)."""
        return self.all_coef.copy()

    @property
    def all_bse(self):
        """The standard errors of each repetition, (k, n_rep)."""
        return self.all_se.copy()

    def cov_params(self):
        """diag(bse²): DML reports no covariance between the treatments' estimates."""
        return np.diag(self._se**2)

    def conf_int(self, alpha: float = 0.05, joint: bool = False):
        """(k, 2) intervals at level 1 − ``alpha``: pointwise (normal quantile), or ``joint``
        (the multiplier bootstrap's max-|t| quantile; run :meth:`bootstrap` first); per
        repetition, then the median of the bounds. A DataFrame for named results."""
        intervals = self._intervals(alpha, joint)
        if not self._named:
            return intervals
        import pandas as pd  # noqa: PLC0415 - pandas only for named results

        return pd.DataFrame(intervals, index=pd.Index(self.names), columns=[0, 1])

    def _intervals(self, alpha, joint):
        if not 0 < alpha < 1:
            raise ValueError(f"conf_int: alpha must lie in (0, 1); got {alpha!r}")
        if joint:
            if self.boot_t is None:
                raise ValueError("conf_int(joint=True) needs the bootstrap distribution: call bootstrap() first")
            critical = _bootstrap.joint_critical_values(self.boot_t, 1 - alpha)
        else:
            critical = np.repeat(_distributions.norm.ppf(1 - alpha / 2), self.n_rep)
        lower = np.median(self.all_coef - self.all_se * critical, axis=1)
        upper = np.median(self.all_coef + self.all_se * critical, axis=1)
        return np.column_stack([lower, upper])

    def bootstrap(self, method: str = "normal", n_rep_boot: int = 500, random_state=None):
        """Run the multiplier bootstrap (:mod:`chainrule.causal.bootstrap`): ``method`` "normal",
        "Bayes" or "wild", ``n_rep_boot`` draws; ``random_state`` an int, a NumPy ``RandomState``
        or ``Generator``. Stores ``boot_t`` (n_rep_boot, k, n_rep); returns self."""
        if self.clusters:
            raise ValueError(f"bootstrap: not available for a cluster-robust fit (clusters: "
                             f"{', '.join(self.clusters)}): the multiplier bootstrap draws one weight per row and "
                             f"would ignore the dependence within clusters (DoubleML refuses it too); use the "
                             f"pointwise intervals conf_int()")
        draws = _bootstrap.multiplier_bootstrap(self.psi, self.J, self.all_se, method, n_rep_boot, random_state)
        self.boot_t, self.boot_method, self.n_rep_boot = draws, method, n_rep_boot
        return self

    # -- tables ------------------------------------------------------------------------------
    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels-style table of the effects (``print`` it, or ``.as_text()``/``.as_html()``)."""
        p = self._pvalues()
        info = [("Model", self.model), ("Score", self.score), ("No. Observations", str(self.nobs)),
                ("Folds", str(self.n_folds) if self.n_folds > 1 else "1 (no sample splitting)"),
                ("Repetitions", str(self.n_rep)),
                ("SE aggregation", self.se_aggregation if self.n_rep > 1 else "-")]
        fitted = "cross-fitted nuisances" if self.n_folds > 1 else "nuisances fitted and evaluated on the whole sample"
        notes = [f"Standard errors from the Neyman-orthogonal score ({fitted}); z statistics"]
        if self.clusters:
            info.append(("Clusters", ", ".join(f"{name}: {count}" for name, count in self.clusters.items())))
            notes.append(f"Standard errors robust to clustering by {' and '.join(self.clusters)}, folds drawn by "
                         f"cluster (Chiang, Kato, Ma and Sasaki 2022)")
        notes += [f"out-of-fold {self.loss_kinds.get(name, 'loss')} of {name}: {_loss_text(values)}"
                  for name, values in self.nuisance_loss.items()]
        return Summary(f"{self.model} Double/Debiased ML Results", info, self.names, self._coef, self._se,
                       self._coef / self._se, p, self._intervals(alpha, False), statistic_name="z", alpha=alpha,
                       notes=notes)

    def nuisance_table(self) -> Table:
        """The learners' out-of-fold losses, one row per learner and treatment (mean over repetitions)."""
        rows = [[name, self.names[j], self.loss_kinds.get(name, "loss"), f"{np.nanmean(values[:, j]):.4g}"]
                for name, values in self.nuisance_loss.items() for j in range(values.shape[1])]
        return Table(f"{self.model}: out-of-fold nuisance losses", [], ["learner", "treatment", "loss", "value"],
                     rows, notes=["the mean over the repetitions of the sample split"], left=3)

    def __repr__(self) -> str:
        return self.summary().as_text()

    # -- internals ---------------------------------------------------------------------------
    def _pvalues(self):
        return 2 * _distributions.norm.sf(np.abs(self._coef / self._se))

    def _labelled(self, values):
        if not self._named:
            return values
        import pandas as pd  # noqa: PLC0415 - pandas only for named results

        return pd.Series(values, index=pd.Index(self.names))


def _loss_text(values) -> str:
    return ", ".join(f"{np.nanmean(values[:, j]):.4g}" for j in range(values.shape[1]))
