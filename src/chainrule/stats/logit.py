r"""Logistic (binary) and multinomial (softmax) regression by maximum likelihood, with inference.

Binary model (``Logit``). For rows i = 1..n with regressors x_i (a leading 1 when
``fit_intercept``) and y_i in {0, 1}, with η_i = x_i'β and p_i = σ(η_i) = 1 / (1 + e^{-η_i}):

    log-likelihood  ℓ(β) = Σ_i [ y_i η_i − log(1 + e^{η_i}) ],
                    computed as Σ_i [ y_i η_i − max(η_i, 0) − log1p(e^{−|η_i|}) ]
                    (never the exponential of a large positive number)
    score           g(β) = ∂ℓ/∂β = X'(y − p)
    Hessian         H(β) = ∂²ℓ/∂β∂β' = −X'WX,  W = diag(p_i (1 − p_i))

Newton–Raphson (for the canonical link identical to Fisher scoring / iteratively
reweighted least squares, McCullagh & Nelder 1989, §2.5 and §4.4):

    β_{k+1} = β_k + t_k (X'W_kX)^{-1} X'(y − p_k),

where X'W_kX is a weighted Gram matrix, solved by its Cholesky factor (``cho_solve``).
Step halving: t_k = 1, 1/2, 1/4, … until ℓ(β_{k+1}) ≥ ℓ(β_k), so the log-likelihood
never decreases. The iteration stops when max_j |Δβ_j| ≤ tol (1 + max_j |β_j|).

Inference (Greene, *Econometric Analysis*, 7th ed., ch. 14 and 17): the covariance is the
inverse observed information, Cov(β̂) = (X'ŴX)^{-1}; ``bse`` its square-rooted diagonal;
z = β̂ / se with normal p-values and intervals (:func:`chainrule.stats.wald`). With
ℓ_0 the log-likelihood of the intercept-only model (always fitted with a constant, as in
statsmodels), ℓ_0 = n [ȳ log ȳ + (1 − ȳ) log(1 − ȳ)]:

    McFadden pseudo R²   1 − ℓ(β̂) / ℓ_0
    likelihood ratio     LR = 2 (ℓ(β̂) − ℓ_0) ~ χ²(df_model), df_model = k − 1
    AIC = −2ℓ + 2k,  BIC = −2ℓ + k log n,  k = number of parameters

Average marginal effects (Greene §17.3): for a continuous regressor j (not the constant),

    AME_j = (1/n) Σ_i ∂p_i/∂x_ij = β_j (1/n) Σ_i p_i (1 − p_i),

with delta-method covariance G Cov(β̂) G', where

    G_jl = ∂AME_j/∂β_l = (1/n) Σ_i [ δ_jl w_i + β_j w_i (1 − 2 p_i) x_il ],  w_i = p_i (1 − p_i).

The other points (at the means, medians, zero), the elasticities (eyex, dyex, eydx) and the
discrete changes of ``get_margeff``: :mod:`chainrule.stats.marginal_effects`.

Speed on tall data, the covariance at the last Newton iterate and the warm start:
:mod:`chainrule.stats.logit_newton`. Separation: :mod:`chainrule.stats.separation`.
Softmax regression: :mod:`chainrule.stats.mnlogit`.

References: P. McCullagh and J. A. Nelder, *Generalized Linear Models*, 2nd ed., 1989;
W. H. Greene, *Econometric Analysis*, 7th ed., 2012; A. Albert and J. A. Anderson, "On the
existence of maximum likelihood estimates in logistic regression models", *Biometrika*
71 (1984); K. Konis, *Linear programming algorithms for detecting separated data in
binary logistic regression models*, DPhil thesis, Oxford, 2007.
"""
from __future__ import annotations

import math

from scipy import linalg as _linalg
from scipy import special as _special

from ..engine import backend
from . import row_parts, tsqr
from .estimator import Estimator, accuracy
from .likelihood import (
    LikelihoodResults,
    check_on_separation,
    check_solver_and_tol,
    cholesky_or_none,
    inverse_information,
    separated_fit,
)
from .logit_newton import (
    Alarm,
    Design,
    NewtonResult,
    loglik,
    newton_binary,
    null_loglik,
    warm_start,
)
from .marginal_effects import (
    MarginalEffects,
    ObservationMarginalEffects,
    binary_margins,
    binary_margins_all,
    check_options,
)
from .separation import find_separation
from .validation import (
    as_design,
    as_design_like_fit,
    as_labels,
    check_binary,
    check_columns,
    check_enough_rows,
    warn,
)

np = backend.host

__all__ = ["Logit"]


class Logit(LikelihoodResults, Estimator):
    r"""Binary logistic regression by maximum likelihood, with statsmodels-style inference.

    The model, the log-likelihood, score and Hessian, the Newton iteration with step halving,
    McFadden's R², the average marginal effects with their delta-method gradient, and the
    separation check are stated in the module docstring (:mod:`chainrule.stats.logit`).

    Args:
        fit_intercept: add a constant (named "const", first) to the regressors.
        solver: "newton" (Newton–Raphson / IRLS, the default), or "gd" / "adam": first-order
            minimization of the mean cross-entropy (1/n) Σ_i BCE(η_i, y_i) with
            :func:`chainrule.optim.minimize` on chainrule float64 tensors (the loss is
            :func:`chainrule.nn.functional.binary_cross_entropy_with_logits`), stopping when
            the gradient norm is below ``tol``. The standard errors are always the
            inverse observed information at the solution found.
        tol: Newton: stop when max|Δβ| ≤ tol (1 + max|β|) (default 1e-8); gd/adam: the
            gradient-norm tolerance of the mean loss (default 1e-8 as well).
        max_iter: the most iterations (default: 100 for Newton, 100,000 for gd/adam).
        lr: the learning rate for gd/adam (default: 1/L for gd, with L = λ_max(X'X) / (4n)
            the smoothness constant of the mean loss; 0.01 for adam).
        alpha: the level of the confidence intervals in ``conf_int()`` and ``summary()``.
        distributed: fit on rows spread over MPI ranks (``mpiexec -n N``): every rank calls
            ``fit`` with its own block of rows; each Newton pass sums ℓ, the score X'(y − p)
            and the information X'WX over the ranks (one all-reduce of 1 + k + k² numbers,
            :class:`chainrule.stats.tsqr.SummedDesign`), so every rank takes the step of the
            concatenated rows and the results equal the single-process fit. The two classes
            are those of all ranks together; the start is (log(ȳ/(1 − ȳ)), 0, …) with ȳ over
            all rows (no subsample warm start); the separation check, which reads all rows,
            is replaced by the symptom checks of ``fit_stream``. Needs solver="newton";
            ``get_margeff()`` is not available.
        on_separation: what ``fit`` does when the classes are (quasi-)completely separated,
            so that no maximum-likelihood estimate exists (the diagnosis, by the linear
            programs of :func:`chainrule.stats.find_separation`, runs when the iteration shows
            a symptom: a fitted |x'b| > 30, a singular X'WX, no convergence). "raise" (the
            default, as this library's inference needs an estimate): a
            :class:`PerfectSeparationError` naming the separating columns and rows. "warn":
            the fit completes at the iterate where the iteration stopped (where the symptom
            appeared), with a :class:`PerfectSeparationWarning` carrying the same diagnosis;
            it predicts, but ``bse``, ``pvalues``, ``conf_int()``, ``summary()`` and the
            marginal effects raise a :class:`PerfectSeparationError` explaining why, since
            standard errors of an estimate that does not exist are not valid (never NaN); ``separation_`` holds
            the diagnosis. Use "warn" where a
            classifier must always fit (scikit-learn's model selection on small folds).
            ``fit_stream`` and distributed fits do not run the diagnosis.

    Data larger than memory: ``fit_stream(batches)`` runs the same Newton iteration on blocks
    of rows read by ``batches()``, one pass per iteration (see :meth:`fit_stream`).

    Targets: any two class labels (numbers, strings, booleans); ``classes_`` holds them
    sorted, the model is for P(y = classes_[1]), ``predict`` returns labels from ``classes_``
    and ``predict_proba`` has its columns in that order. A y with more than two classes is
    refused ("Only binary classification is supported": use :class:`MNLogit`), and so is a
    continuous y ("Unknown label type: continuous").

    Fitted attributes (scikit-learn): ``coef_`` (p,), ``intercept_`` (float), ``classes_``,
    ``n_iter_``, ``converged_``, ``param_names_``, ``n_features_in_``, ``feature_names_in_``
    (DataFrame input), ``separation_`` (None, or the PerfectSeparationError diagnosed by a fit
    with on_separation="warn"). Results (statsmodels names): ``params``,
    ``bse``, ``tvalues``, ``pvalues``, ``conf_int()``, ``cov_params()``, ``llf``, ``llnull``,
    ``llr``, ``llr_pvalue``, ``prsquared``, ``aic``, ``bic``, ``nobs``, ``df_model``,
    ``df_resid``, ``summary()``, ``get_margeff()``.
    """

    _estimator_type = "classifier"

    def __sklearn_tags__(self):
        """A binary classifier: scikit-learn's ``classifier_tags.multi_class`` is False."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def __init__(self, fit_intercept=True, solver="newton", tol=1e-8, max_iter=None, lr=None, alpha=0.05,
                 distributed=False, on_separation="raise"):
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.lr = lr
        self.alpha = alpha
        self.distributed = distributed
        self.on_separation = on_separation

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit by maximum likelihood; returns self. On separation: PerfectSeparationError, or a
        PerfectSeparationWarning with ``on_separation="warn"``.

        The passes over the rows run on several threads through ``threadpoolctl`` (a
        dependency; :mod:`chainrule.stats.row_parts`; ``CHAINRULE_NUM_THREADS=1`` keeps them
        on one)."""
        check_solver_and_tol("Logit", self.solver, self.tol)
        check_on_separation("Logit", self.on_separation)
        if self.distributed is not False:
            return self._fit_distributed(X, y)
        with row_parts.parallel_rows():
            return self._fit_local(X, y)

    def _fit_local(self, X, y):
        """``fit`` on the rows of this process."""
        data = X
        X, names = as_design(X, "X")
        labels, y_name = as_labels(y, X.shape[0], "y")
        check_columns(X, names, bool(self.fit_intercept))
        classes, y01 = check_binary(labels, y_name)
        self._remember_feature_names(data, names)
        design = Design(X, bool(self.fit_intercept))
        check_enough_rows(X.shape[0], design.k, "Logit")
        self.param_names_ = (["const"] if self.fit_intercept else []) + names
        self.feature_names_ = names
        self.classes_ = classes
        self.endog_name_ = y_name
        if self.solver == "newton":
            result = self._fit_newton(design, y01, X, names)
        else:
            result = self._fit_first_order(design, y01, X, names)
        beta = result.beta
        self.n_iter_, self.converged_, self.separation_ = result.iterations, result.converged, result.separation
        if result.separation is not None:  # on_separation="warn": no estimate, no standard errors
            self._cov = None
        else:
            if not result.converged:
                warn(f"Logit: {result.message}; the estimates and standard errors may be inaccurate")
            self._cov = _covariance(design, result)
        self.params_ = beta
        self._nobs = design.n
        self.llf_ = result.llf
        self.llnull_ = null_loglik(y01)
        self._design = design.without_buffers()
        self.coef_ = beta[1:].copy() if self.fit_intercept else beta.copy()
        self.intercept_ = float(beta[0]) if self.fit_intercept else 0.0
        return self

    def _fit_distributed(self, X, y):
        """``fit`` with ``distributed=True``: this rank's block of rows; Newton on the sums of all ranks."""
        if self.distributed is not True:
            raise TypeError(f"Logit: distributed: expected True or False; got {self.distributed!r}")
        if self.solver != "newton":
            raise ValueError(f"Logit: distributed=True fits by Newton (sums of per-rank scores and "
                             f"information matrices); expected solver='newton', got {self.solver!r}")
        rows = tsqr.RowBlocks(True)
        error, checked = None, None
        try:
            Xv, names = as_design(X, "X")
            target, y_name = as_labels(y, Xv.shape[0], "y")
            checked = (Xv, names, target, y_name)
        except (ValueError, TypeError) as caught:
            error = caught
        rows.check(error, "Logit.fit")  # a rank whose block is bad fails every rank, none waits
        Xv, names, target, y_name = checked
        rows.agree(Xv.shape[1], "Logit.fit: the number of columns of X")
        classes, _ = check_binary(rows.union(target), y_name)  # the same two classes on every rank
        y01 = (target == classes[1]).astype(backend.float64)
        design = tsqr.SummedDesign(Design(Xv, bool(self.fit_intercept)), rows)
        check_enough_rows(design.n, design.k, "Logit")
        ybar = rows.sum(float(y01.sum())) / design.n
        beta = np.zeros(design.k)
        if self.fit_intercept:
            beta[0] = math.log(ybar / (1.0 - ybar))
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        result = tsqr.newton_without_separation_check(design, y01, beta, float(self.tol), max_iter, "Logit.fit")
        self._remember_feature_names(X, names)
        self._set_streamed_results(design, result, names, y_name, ybar)
        self.classes_ = classes
        return self

    def fit_stream(self, batches, feature_names=None, target_name="y"):
        r"""Fit by Newton on rows read block by block: one pass over the data per iteration.

        ``batches`` is a function of no arguments returning a fresh iterator of (X_b, y_b)
        blocks (float64 (m_b, p) and (m_b,) arrays, y_b in {0, 1}); it is called once per pass
        and must yield the same rows each time. A pass sums over the blocks
        (:class:`chainrule.stats.tsqr.StreamedDesign`)

            ℓ(β) = Σ_b ℓ_b(β),   g = Σ_b X_b'(y_b − p_b),   I = Σ_b X_b'W_bX_b,

        so the iteration β_{k+1} = β_k + t_k I⁻¹ g (step halving, chord steps, stopping rule
        and covariance I⁻¹ as in ``fit``) is that of ``fit`` on the concatenated rows, with
        memory for one block and k x k numbers. It starts at β = (log(ȳ/(1 − ȳ)), 0, …)
        (without an intercept, β = 0), ȳ from the first pass that counts the rows; there is
        no subsample warm start. ℓ_0 = n [ȳ log ȳ + (1 − ȳ) log(1 − ȳ)].

        Unlike ``fit``, the separation check (a linear program over all rows) is not run: a
        singular information matrix raises ValueError naming separation or collinearity as
        the cause, and ``get_margeff()`` (which reads the rows) raises. ``classes_`` is
        [0, 1]; ``n_batches_`` the number of blocks in a pass. Needs solver="newton".

        Args:
            batches: the block factory described above.
            feature_names: the p names of X's columns (default x1 … xp), for the summary.
            target_name: the name of y, for the summary.
        """
        if self.solver != "newton":
            raise ValueError(f"Logit.fit_stream: solver: expected 'newton' (one pass over the data per "
                             f"iteration); got {self.solver!r}")
        if self.distributed is not False:
            raise ValueError(f"Logit.fit_stream: distributed: expected False (a streamed fit reads every block "
                             f"in this process); got {self.distributed!r}")
        if not (isinstance(self.tol, (int, float)) and self.tol > 0):
            raise ValueError(f"Logit: tol must be a number > 0; got {self.tol!r}")
        if not callable(batches):
            raise TypeError(f"Logit.fit_stream: batches: expected a function of no arguments returning an "
                            f"iterator of (X_block, y_block) arrays; got {type(batches).__name__}")
        design = tsqr.StreamedDesign(batches, bool(self.fit_intercept), binary=True)
        names = tsqr.stream_feature_names(feature_names, design.k - int(bool(self.fit_intercept)),
                                           "Logit.fit_stream")
        check_enough_rows(design.n, design.k, "Logit")
        if not 0 < design.y_sum < design.n:
            raise ValueError(f"Logit.fit_stream: y: expected both classes 0 and 1; all {design.n} targets "
                             f"are {int(design.y_sum > 0)}")
        ybar = design.y_sum / design.n
        beta = np.zeros(design.k)
        if self.fit_intercept:
            beta[0] = math.log(ybar / (1.0 - ybar))
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        result = tsqr.newton_without_separation_check(design, None, beta, float(self.tol), max_iter,
                                                       "Logit.fit_stream")
        self._set_streamed_results(design, result, names, str(target_name), ybar)
        self.n_batches_ = design.n_batches
        return self

    def _set_streamed_results(self, design, result, names, target_name, ybar):
        """The fitted attributes of a fit whose rows are not kept (``fit_stream``)."""
        self.n_iter_, self.converged_, self.separation_ = result.iterations, result.converged, None
        if not result.converged:
            warn(f"Logit: {result.message}; the estimates and standard errors may be inaccurate")
            information = design.newton_pass(result.beta, None)[1]
            factor = cholesky_or_none(information)
        else:
            information, factor = result.information
        self._cov = inverse_information(factor, design.k, "Logit", "the information matrix X'WX")
        beta = result.beta
        self.param_names_ = (["const"] if self.fit_intercept else []) + list(names)
        self.feature_names_, self.classes_, self.endog_name_ = list(names), np.array([0, 1]), target_name
        self._remember_feature_names(None, names)
        self.params_, self._nobs, self._design = beta, design.n, None
        self.llf_ = result.llf
        self.llnull_ = design.n * sum(share * math.log(share) for share in (ybar, 1.0 - ybar))
        self.coef_ = beta[1:].copy() if self.fit_intercept else beta.copy()
        self.intercept_ = float(beta[0]) if self.fit_intercept else 0.0

    def _start(self, y01, k):
        beta = np.zeros(k)
        if self.fit_intercept:
            mean = float(y01.mean())
            beta[0] = math.log(mean / (1.0 - mean))
        return beta

    def _fit_newton(self, design, y01, X, names):
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        beta, start_information = warm_start(design, y01, self._start(y01, design.k))
        try:
            result = newton_binary(design, y01, beta, float(self.tol), max_iter, information=start_information)
            if not result.converged:
                return self._separated(X, y01, names, result) or result
            return result
        except Alarm as alarm:
            stopped = NewtonResult(alarm.beta, loglik(design.dot(alarm.beta), y01), alarm.iterations, False,
                                   alarm.reason)
            separated = self._separated(X, y01, names, stopped)
            if separated is not None:
                return separated
            if "singular" in alarm.reason or "finite" in alarm.reason:
                raise ValueError(
                    f"Logit: {alarm.reason} although the classes are not separated: the columns are "
                    f"(nearly) collinear; drop redundant columns"
                ) from None
            # a large |η| without separation: carry on without the alarm
            return newton_binary(design, y01, alarm.beta, float(self.tol), max_iter, alarm=False)

    def _separated(self, X, y01, names, stopped):
        """None when the classes overlap; on separation, raise the PerfectSeparationError
        (on_separation="raise") or warn and return ``stopped`` (on_separation="warn")."""
        found = find_separation(X, y01, names, bool(self.fit_intercept))
        return None if found is None else separated_fit(found, self.on_separation, stopped)

    def _fit_first_order(self, design, y01, X, names):
        from .. import optim
        from ..engine.tensor import tensor
        from ..nn import functional as F

        Z = design.full()
        Zt, yt = tensor(Z, dtype=backend.float64), tensor(y01, dtype=backend.float64)
        lr = self.lr
        if lr is None:
            if self.solver == "gd":
                largest = float(_linalg.eigvalsh(Z.T @ Z, subset_by_index=[design.k - 1, design.k - 1])[0])
                lr = 4.0 * design.n / largest
            else:
                lr = 0.01
        max_iter = 100_000 if self.max_iter is None else int(self.max_iter)
        beta = tensor(self._start(y01, design.k), dtype=backend.float64, requires_grad=True)
        result = optim.minimize(
            lambda b: F.binary_cross_entropy_with_logits(Zt @ b, yt), beta,
            method=self.solver, lr=lr, tol=float(self.tol), max_iter=max_iter,
        )
        solution = result.x.numpy().astype(backend.float64)
        answer = NewtonResult(solution, loglik(design.dot(solution), y01), result.iterations, result.converged,
                              f"{self.solver} {result.message}")
        if not result.converged:
            return self._separated(X, y01, names, answer) or answer
        return answer

    # -- prediction (scikit-learn) ---------------------------------------------------------

    def _linear(self, X):
        return as_design_like_fit(self, X) @ self.coef_ + self.intercept_

    def decision_function(self, X):
        """The linear predictor η = x'β̂ for each row."""
        return self._linear(X)

    def predict_proba(self, X):
        """(n, 2) probabilities [P(y = classes_[0]), P(y = classes_[1])] (scikit-learn's layout)."""
        p = _special.expit(self._linear(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """The more probable class (p ≥ 1/2 → classes_[1]), in the labels of the fitted y."""
        positive = self._linear(X) > 0
        return self.classes_[positive.astype(int)]

    def score(self, X, y):
        """Accuracy: the fraction of rows where predict(X) equals the labels y."""
        prediction = self.predict(X)
        labels, _ = as_labels(y, prediction.shape[0], "y")
        return accuracy(labels, prediction)

    # -- results (statsmodels names) -------------------------------------------------------

    def summary(self, alpha=None):
        """A statsmodels-style table (``print`` it, or ``.as_html()``)."""
        self._check_fitted()
        info = [
            ("Dep. Variable", self.endog_name_), ("Model", "Logit"),
            ("Method", "MLE" if self.solver == "newton" else f"MLE ({self.solver})"),
            ("No. Observations", self.nobs), ("Df Residuals", self.df_resid), ("Df Model", self.df_model),
            ("converged", str(bool(self.converged_))), ("Iterations", self.n_iter_),
            ("Pseudo R-squ.", f"{self.prsquared:.4f}"), ("Log-Likelihood", f"{self.llf:.5g}"),
            ("LL-Null", f"{self.llnull:.5g}"), ("LLR p-value", f"{self.llr_pvalue:.4g}"),
            ("AIC", f"{self.aic:.5g}"), ("BIC", f"{self.bic:.5g}"),
        ]
        return self._coefficient_summary("Logit Regression Results", info, self.param_names_, alpha,
                                         notes=["Covariance: inverse observed information (X'WX)^-1"])

    def get_margeff(self, at="overall", method="dydx", atexog=None, dummy=False, count=False):
        """Marginal effects with delta-method standard errors (statsmodels' ``get_margeff``):
        a :class:`~chainrule.stats.marginal_effects.MarginalEffects`.

        Args:
            at: where the effects are evaluated: "overall" (the average of the effects over
                the rows of the fit, the default), "mean", "median" (the row of column means or
                medians), "zero" (all regressors 0, the constant 1) or "all" (the effect at each
                row of the fit: an :class:`~chainrule.stats.marginal_effects.ObservationMarginalEffects`
                whose ``margeff`` is (n, p), without inference, as statsmodels').
            method: "dydx" (dp/dx_j), "eyex" (d log p / d log x_j), "dyex" (dp / d log x_j) or
                "eydx" (d log p / dx_j).
            atexog: {regressor name or position: value}: columns set to a value before ``at``
                applies (statsmodels' ``atexog`` as a dict).
            dummy: discrete changes 0 → 1 for the 0/1 columns instead of derivatives.
            count: discrete changes (centered, one unit) for the count columns.

        Formulas: :mod:`chainrule.stats.marginal_effects`. Needs the rows of the fit (not
        ``fit_stream`` or ``distributed=True``).
        """
        self._check_fitted()
        at, method = check_options("Logit.get_margeff", at, method, dummy, count, allow_all=True)
        if self._design is None:
            raise ValueError("Logit.get_margeff: the marginal effects are evaluated on the rows of the fit, which "
                             "a fit by fit_stream or with distributed=True does not keep; fit in memory to get them")
        if at == "all":
            margeff, dummy_idx, count_idx = binary_margins_all(
                self._design, self.params_, method, atexog, dummy, count, names=self.feature_names_,
                owner="Logit.get_margeff")
            return ObservationMarginalEffects(self.feature_names_, margeff, self.endog_name_, method=method,
                                              dummy_idx=dummy_idx, count_idx=count_idx, model="Logit")
        margeff, cov, dummy_idx, count_idx = binary_margins(
            self._design, self.params_, self._cov_array(), at, method, atexog, dummy, count,
            names=self.feature_names_, owner="Logit.get_margeff")
        return MarginalEffects(self.feature_names_, margeff, cov, self.alpha, self.endog_name_, method=method, at=at,
                               dummy_idx=dummy_idx, count_idx=count_idx, model="Logit")


def _covariance(design, result):
    """Cov(β̂) = (X'ŴX)⁻¹, with the information the iteration formed at its answer, or formed here."""
    if result.information is None:
        p = _special.expit(design.dot(result.beta))
        factor = cholesky_or_none(design.gram(p * (1.0 - p)))
    else:
        factor = result.information[1]
    return inverse_information(factor, design.k, "Logit", "the information matrix X'WX")
