"""Forward stepwise selection for least-squares regression (ISLR section 6.1.2, Algorithm 6.2).

Algorithm (James, Witten, Hastie & Tibshirani, *An Introduction to Statistical
Learning*, 2nd ed., 2021, Algorithm 6.2):

1. Let M_0 be the null model: the intercept alone (no predictors).
2. For k = 0, 1, ..., p - 1: among the p - k models that add one predictor to M_k,
   let M_{k+1} be the one with the smallest residual sum of squares RSS.
3. Choose one model among M_0, ..., M_p by Cp, AIC, BIC, adjusted R² or cross-validated
   prediction error.

Step 2 is done incrementally, without refitting: with the columns centred (when there
is an intercept), keep Q = [q_1 .. q_k], an orthonormal basis of the chosen columns,
the residual r = y - Q Q'y, and every remaining column orthogonalized against Q,
w_j = (I - Q Q') x_j. Adding column j lowers the RSS by

    ΔRSS_j = (w_j' r)² / ||w_j||²,

so the next predictor is the j with the largest ΔRSS_j. After choosing it,
q = w_j / ||w_j|| (re-orthogonalized once against Q, classical Gram-Schmidt "twice is
enough"), r <- r - q (q'r) (applied twice) and w_i <- w_i - q (q'w_i) for the remaining
columns. One step costs O(n (p - k)) instead of an O(n p k) refit.
Coefficients of M_k come from the same factorization: X_(k) = Q_k R_k with
R_k = Q_k' X_(k) upper triangular, so β_k = R_k^{-1} Q_k' y.

Criteria, for a model with d predictors, k = d + 1 parameters (d with no intercept),
n rows, RSS its residual sum of squares and TSS = Σ (y_i - ȳ)² (Σ y_i² without an
intercept):

    R²        = 1 - RSS / TSS
    adj. R²   = 1 - [RSS / (n - k)] / [TSS / (n - 1)]                 (ISLR 6.4)
    Cp        = (RSS + 2 d σ̂²) / n                                    (ISLR 6.2)
                σ̂² = RSS_full / (n - p - 1) from the model with all p predictors
    AIC       = -2 log L̂ + 2 k = n log(2π RSS / n) + n + 2 k
    BIC       = -2 log L̂ + log(n) k = n log(2π RSS / n) + n + log(n) k

AIC and BIC here are the Gaussian-likelihood forms with σ² profiled out, exactly the
values of statsmodels' ``OLS(...).fit().aic``/``.bic`` (which count k = df_model +
k_constant parameters, not σ²). They differ from the textbook n log(RSS/n) + 2k form
by the constant n (1 + log 2π), which changes no selection. ISLR's own AIC for least
squares, (RSS + 2 d σ̂²) / (n σ̂²), is proportional to Cp; choose ``criterion="cp"`` for
that ranking. AIC, BIC, Cp are minimized, adjusted R² is maximized.

``criterion="cv"``: K-fold cross-validation (ISLR section 6.5.1): the whole forward path
is rerun on each training fold (the order may differ between folds), and the
validation error of each model size d is CV(d) = Σ_folds SSE_fold(d) / n. The chosen
size d* minimizes CV(d); the model returned is M_{d*} of the path on all the data.

References:
    G. James, D. Witten, T. Hastie, R. Tibshirani, An Introduction to Statistical
    Learning (ISLR), 2nd ed., Springer 2021, chapter 6.
    G. H. Golub, C. F. Van Loan, Matrix Computations, 4th ed., section 5.2 (QR by
    Gram-Schmidt, reorthogonalization).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy import linalg as _linalg
from scipy.linalg import blas as _blas

from ..engine import backend
from .cross_validation import check_folds, kfold
from .estimator import Estimator, r_squared
from .inference import Table, format_number
from .validation import as_design, as_design_like_fit, as_target, check_columns, warn

np = backend.host

_CRITERIA = ("bic", "aic", "adjr2", "cp", "cv")
# A column whose part orthogonal to the chosen ones has ||w_j||² <= _COLLINEAR ||x_j||²
# (an angle below 1e-6 rad to their span) is collinear with them and is never added.
_COLLINEAR = 1e-12


@dataclass
class Step:
    """One model M_d of the forward path."""

    size: int                 # d, the number of predictors
    added: str | None         # the predictor added at this step (None for M_0)
    features: tuple           # the predictors of M_d, in the order they entered
    rss: float
    r2: float
    adjr2: float
    cp: float
    aic: float
    bic: float
    cv_mse: float | None      # CV(d) when criterion="cv", else None
    intercept: float
    coef: dict = field(default_factory=dict)  # predictor name -> coefficient


class ForwardStepwise(Estimator):
    """Forward stepwise selection for linear least squares, chosen by a criterion.

    The algorithm and the formulas are in this module's docstring (ISLR Algorithm 6.2,
    incremental Gram-Schmidt updates, Cp/AIC/BIC/adjusted R² as in ISLR section 6.1.3;
    AIC/BIC equal statsmodels' OLS ``aic``/``bic``).

    Args:
        criterion: "bic" (default), "aic", "adjr2", "cp" or "cv" (K-fold CV error).
        max_features: the largest model size considered (None: min(p, n - 2) with an
            intercept, min(p, n - 1) without, so the residual degrees of freedom stay > 0).
        fit_intercept: include an intercept in every model (M_0 is then the mean).
        cv: the number of folds for criterion="cv".
        random_state: None for contiguous folds, or a seed to shuffle rows into folds.

    Fitted attributes:
        path_: list of :class:`Step`, M_0 .. M_K (names, RSS, R², adj. R², Cp, AIC, BIC,
            CV error and coefficients of each).
        order_: column indices in the order they entered.
        best_size_: the chosen number of predictors d*.
        selected_: names of the chosen predictors; support_: boolean mask over columns.
        coef_ (length p, zero for unselected), intercept_: the chosen model M_{d*}.
        criterion_values_: the criterion for M_0..M_K; cv_mse_: CV(d) (criterion="cv").
        sigma2_: σ̂² of the full model used by Cp (nan when n <= p + 1).
        n_features_in_, feature_names_ (and feature_names_in_ for a DataFrame).

    ``predict(X)`` gives M_{d*}'s predictions, ``transform(X)`` its selected columns (so it
    can be a selection step in a Pipeline), ``score`` is R², ``summary()`` the path table.

    Reference: James, Witten, Hastie & Tibshirani, ISLR 2nd ed. (2021), sections 6.1.2-6.1.3.
    """

    _estimator_type = "regressor"

    def __init__(self, criterion="bic", max_features=None, fit_intercept=True, cv=5, random_state=None):
        self.criterion = criterion
        self.max_features = max_features
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.random_state = random_state

    # -------------------------------------------------------------- fit

    def fit(self, X, y):
        """Run the forward path on (X, y) and choose M_{d*}; returns self."""
        name = type(self).__name__
        if self.criterion not in _CRITERIA:
            raise ValueError(
                f"{name}: criterion must be one of {', '.join(map(repr, _CRITERIA))}; got {self.criterion!r}"
            )
        values, names = as_design(X, "X")
        target, target_name = as_target(y, values.shape[0], "y")
        n, p = values.shape
        check_columns(values, names, bool(self.fit_intercept), "X")
        limit = self._largest_size(n, p)
        Z, yc, x_mean, y_mean = self._centre(values, target)
        order, rss, Q = _forward_path(Z, yc, limit)
        if len(order) < limit:
            left = [names[j] for j in range(p) if j not in order]
            warn(f"{name}: column(s) {', '.join(map(repr, left[:10]))} are collinear with the "
                 f"selected ones and were never added; the path stops at {len(order)} predictors")
        betas = _path_coefficients(Z, yc, order, Q)
        sigma2 = self._full_model_variance(Z, yc, rss, order)
        table = _criteria(rss, float(yc @ yc), n, sigma2, int(bool(self.fit_intercept)))
        if self.criterion == "cv":
            table["cv"] = self._cross_validate(values, target, check_folds(self.cv, n, name), len(rss) - 1)
        values_of = table[self.criterion]
        if np.all(np.isnan(values_of)):
            raise ValueError(f"{name}: criterion {self.criterion!r} is undefined for every model size")
        best = int(np.nanargmax(values_of) if self.criterion == "adjr2" else np.nanargmin(values_of))

        self._remember_feature_names(X, names)
        self.feature_names_, self.target_name_, self.n_samples_ = list(names), target_name, n
        self.order_, self.sigma2_ = list(order), sigma2
        self.criterion_values_ = np.asarray(values_of, dtype=backend.float64)
        self.cv_mse_ = table.get("cv")
        self.path_ = self._steps(names, order, rss, betas, table, (x_mean, y_mean))
        self._choose(best, names, order, betas)
        return self

    def _largest_size(self, n, p) -> int:
        """The largest model size on the path: min(p, n − 1 − intercept, max_features)."""
        name, intercept = type(self).__name__, int(bool(self.fit_intercept))
        if n < 2 + intercept:
            raise ValueError(f"{name}: needs at least {2 + intercept} rows; X has {n} (n_samples={n})")
        limit = min(p, n - 1 - intercept)
        if self.max_features is not None:
            if isinstance(self.max_features, bool) or not isinstance(self.max_features, (int, np.integer)) \
                    or self.max_features < 0:
                raise ValueError(f"{name}: max_features must be None or an integer >= 0; got {self.max_features!r}")
            limit = min(limit, int(self.max_features))
        return limit

    def _full_model_variance(self, Z, yc, rss, order) -> float:
        """σ̂² = RSS_full / (n − p − 1) of the model with all p predictors (Cp's), nan when n ≤ p + 1."""
        (n, p), intercept = Z.shape, int(bool(self.fit_intercept))
        full_df = n - p - intercept
        if full_df > 0:
            rss_full = rss[-1] if len(order) == p else _lstsq_rss(Z, yc)
            return rss_full / full_df
        if self.criterion == "cp":
            raise ValueError(f"{type(self).__name__}: Cp needs σ̂² from the full model, which needs n > p + 1 "
                             f"rows; got n={n}, p={p}. Use criterion='bic', 'aic', 'adjr2' or 'cv'")
        return float("nan")

    def _steps(self, names, order, rss, betas, table, means) -> list:
        """The :class:`Step` of every model M_0..M_K of the path."""
        (x_mean, y_mean), cv_mse, steps = means, table.get("cv"), []
        for d in range(len(rss)):
            chosen = order[:d]
            beta = betas[d - 1] if d else np.zeros(0)
            icpt = float(y_mean - x_mean[chosen] @ beta) if self.fit_intercept else 0.0
            steps.append(Step(
                size=d, added=names[order[d - 1]] if d else None,
                features=tuple(names[j] for j in chosen), rss=float(rss[d]),
                r2=float(table["r2"][d]), adjr2=float(table["adjr2"][d]), cp=float(table["cp"][d]),
                aic=float(table["aic"][d]), bic=float(table["bic"][d]),
                cv_mse=None if cv_mse is None else float(cv_mse[d]),
                intercept=icpt, coef={names[j]: float(b) for j, b in zip(chosen, beta)},
            ))
        return steps

    def _choose(self, best, names, order, betas):
        """The fitted attributes of the chosen model M_{best}."""
        p = len(names)
        self.best_size_ = best
        chosen = order[:best]
        self.selected_ = [names[j] for j in chosen]
        self.support_ = np.zeros(p, dtype=bool)
        self.support_[chosen] = True
        self.coef_ = np.zeros(p)
        if best:
            self.coef_[chosen] = betas[best - 1]
        self.intercept_ = self.path_[best].intercept

    def _centre(self, values, target):
        if self.fit_intercept:
            x_mean, y_mean = values.mean(axis=0), float(target.mean())
            return values - x_mean, target - y_mean, x_mean, y_mean
        return values, target, np.zeros(values.shape[1]), 0.0

    def _cross_validate(self, values, target, folds, max_size):
        """CV(d) = Σ_folds SSE_fold(d) / n for d = 0..max_size (nan where a fold's path is shorter)."""
        n = values.shape[0]
        sse = np.zeros(max_size + 1)
        for train, test in kfold(n, folds, self.random_state):
            Z, yc, x_mean, y_mean = self._centre(values[train], target[train])
            steps = min(max_size, len(train) - 1 - int(bool(self.fit_intercept)))
            order, _, Q = _forward_path(Z, yc, max(steps, 0))
            betas = _path_coefficients(Z, yc, order, Q)
            Xt, yt = values[test] - x_mean, target[test] - y_mean
            for d in range(max_size + 1):
                if d > len(order):
                    sse[d] = np.nan
                    continue
                prediction = Xt[:, order[:d]] @ betas[d - 1] if d else np.zeros(len(test))
                resid = yt - prediction
                sse[d] += float(resid @ resid)
        return sse / n

    # -------------------------------------------------------------- use

    def predict(self, X):
        """Predictions of the chosen model M_{d*}: X β + β_0."""
        self._check_fitted("coef_")
        return as_design_like_fit(self, X) @ self.coef_ + self.intercept_

    def transform(self, X):
        """The selected columns of X (in X's column order), as a float64 array."""
        self._check_fitted("coef_")
        return as_design_like_fit(self, X)[:, self.support_]

    def fit_transform(self, X, y):
        return self.fit(X, y).transform(X)

    def score(self, X, y):
        """R² of the chosen model's predictions on (X, y)."""
        prediction = self.predict(X)
        target, _ = as_target(y, prediction.shape[0], "y")
        return r_squared(target, prediction)

    def summary(self) -> Table:
        """The forward path as a table, the chosen model marked with '*'."""
        self._check_fitted("coef_")
        headings = ["step", "added", "d", "RSS", "R2", "adj R2", "Cp", "AIC", "BIC"]
        if self.cv_mse_ is not None:
            headings.append("CV MSE")
        rows = []
        for step in self.path_:
            numbers = [step.rss, step.r2, step.adjr2, step.cp, step.aic, step.bic]
            if self.cv_mse_ is not None:
                numbers.append(step.cv_mse)
            row = [f"{step.size}{'*' if step.size == self.best_size_ else ''}", step.added or "(intercept only)",
                   str(step.size)] + [format_number(value) for value in numbers]
            rows.append(row)
        info = [
            ("Dep. variable", self.target_name_), ("Observations", self.n_samples_),
            ("Candidate predictors", self.n_features_in_),
            ("Criterion", self.criterion + (f" ({self.cv}-fold)" if self.criterion == "cv" else "")),
            ("Chosen size", self.best_size_), ("Selected", ", ".join(self.selected_) or "(none)"),
        ]
        notes = ["AIC = n log(2π RSS/n) + n + 2k, BIC = ... + log(n) k (k = d + intercept), as statsmodels OLS",
                 "Cp = (RSS + 2 d σ̂²)/n with σ̂² from the full model (ISLR 6.2)"]
        return Table("Forward Stepwise Selection", info, headings, rows, notes, left=2)


def _forward_path(Z, y, max_steps):
    """The forward-selection path of centred ``Z`` (n x p) and ``y``.

    Returns (order, rss, Q): the column indices in the order they enter, the RSS of
    M_0..M_len(order) and the orthonormal basis Q (n x len(order)) of the chosen columns.

    The remaining columns live, orthogonalized, in the first ``m`` columns of a
    Fortran-ordered work array W (a chosen column is swapped to the end and dropped),
    so each step is a few passes over the remaining n x (p - k) block: the norms, the
    products W'r, and the rank-one update W <- W - q (q'W) done in place by BLAS ger.
    """
    n, p = Z.shape
    W = np.array(Z, dtype=backend.float64, order="F", copy=True)
    position = np.arange(p)  # position -> original column index
    norms2 = np.einsum("ij,ij->j", Z, Z)
    r = np.array(y, dtype=backend.float64, copy=True)
    Q = np.empty((n, max_steps), order="F")  # Q[:, :k] stays contiguous for BLAS
    order, rss = [], [float(r @ r)]
    m = p
    for k in range(max_steps):
        Wa = W[:, :m]
        w2 = np.einsum("ij,ij->j", Wa, Wa)
        eligible = w2 > _COLLINEAR * norms2[position[:m]]
        if not eligible.any():
            break
        c = Wa.T @ r
        gain = np.full(m, -np.inf)
        gain[eligible] = c[eligible] ** 2 / w2[eligible]
        ties = np.flatnonzero(gain == gain.max())
        best = int(ties[np.argmin(position[ties])])  # exact ties: the lowest column index
        j = int(position[best])
        q = Wa[:, best] / math.sqrt(w2[best])
        if k:  # re-orthogonalize once against the chosen basis
            Qk = Q[:, :k]
            q = q - Qk @ (Qk.T @ q)
            q = q / np.linalg.norm(q)
        Q[:, k] = q
        for _ in range(2):
            r = r - q * (q @ r)
        # drop the chosen column: swap it with the last remaining one
        last = m - 1
        if best != last:
            W[:, best] = W[:, last]
            position[best], position[last] = position[last], position[best]
        m = last
        if m:
            Wa = W[:, :m]
            _blas.dger(-1.0, q, Wa.T @ q, a=Wa, overwrite_a=True)
        order.append(j)
        rss.append(float(r @ r))
    return order, np.asarray(rss), Q[:, : len(order)]


def _path_coefficients(Z, y, order, Q):
    """β of every model M_1..M_K from X_(k) = Q_k R_k: β_k = R_k^{-1} Q_k' y."""
    if not order:
        return []
    R = Q.T @ Z[:, order]
    qty = Q.T @ y
    return [_linalg.solve_triangular(R[:k, :k], qty[:k]) for k in range(1, len(order) + 1)]


def _criteria(rss, tss, n, sigma2, intercept) -> dict:
    """R², adjusted R², Cp, AIC and BIC of the models M_0..M_K from their RSS (formulas: the
    module docstring); intercept is 1 or 0."""
    sizes = np.arange(len(rss))
    k = sizes + intercept
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik_term = n * np.log(2 * np.pi * rss / n) + n
        return {
            "r2": 1 - rss / tss,
            "adjr2": 1 - (rss / (n - k)) / (tss / (n - intercept)),
            "cp": (rss + 2 * sizes * sigma2) / n,
            "aic": loglik_term + 2 * k,
            "bic": loglik_term + np.log(n) * k,
        }


def _lstsq_rss(A, y) -> float:
    """RSS of the plain least-squares fit of y on the columns of A."""
    beta = _linalg.lstsq(A, y)[0]
    resid = y - A @ beta
    return float(resid @ resid)
