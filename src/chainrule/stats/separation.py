r"""Detecting complete and quasi-complete separation in logistic and softmax regression.

Separation (Albert & Anderson 1984, *Biometrika* 71, 1–10): the maximum-likelihood
estimate does not exist when some direction b ≠ 0 has s_i x_i'b ≥ 0 for every row
(s_i = 2y_i − 1): *complete* separation when all inequalities can be strict, and
*quasi-complete* when some must hold with equality. Newton's iterates then run off to
infinity. When the iteration shows the symptom (a fitted |η_i| > 30, a singular
information matrix, or no convergence), the fit checks each column alone (its values for
y = 0 and y = 1 do not overlap) and otherwise solves the linear program of Konis (2007)
for such a b, and raises :class:`PerfectSeparationError` naming the columns and rows.

For K classes (:func:`find_multinomial_separation`) the same linear programs are solved for
each pair of classes.

References: A. Albert and J. A. Anderson, "On the existence of maximum likelihood estimates
in logistic regression models", *Biometrika* 71 (1984); K. Konis, *Linear programming
algorithms for detecting separated data in binary logistic regression models*, DPhil
thesis, Oxford, 2007.
"""
from __future__ import annotations

from scipy import optimize as _optimize

from ..engine import backend
from .logit_newton import Design
from .validation import DataWarning, as_design, as_labels, check_binary

np = backend.host

__all__ = ["PerfectSeparationError", "PerfectSeparationWarning", "find_separation", "find_multinomial_separation"]


class PerfectSeparationError(ValueError):
    """The maximum-likelihood estimate does not exist: the data are (quasi-)completely separated.

    Attributes:
        kind: "complete" or "quasi-complete".
        columns: the names of the columns in the separating direction.
        direction: the separating direction b (one entry per parameter, constant first; for
            MNLogit a (k, K−1) matrix, one column per non-reference class).
        rows: the positions of the rows that the direction predicts perfectly (MNLogit: the
            rows with a positive margin).
        classes, pairs: MNLogit only: the classes involved, and the (observed class, other
            class) pairs that the direction ranks apart.
    """

    def __init__(self, message, kind, columns, direction, rows):
        super().__init__(message)
        self.kind, self.columns, self.direction, self.rows = kind, list(columns), direction, rows

    def __reduce__(self):  # pickles with its attributes (a fitted model keeps it in ``separation_``)
        return type(self), (*self.args, self.kind, self.columns, self.direction, self.rows), self.__dict__


class PerfectSeparationWarning(DataWarning):
    """A fit with ``on_separation="warn"`` met (quasi-)complete separation and stopped where the
    iteration did: no maximum-likelihood estimate exists and the standard errors are not valid."""


def find_separation(X, y, names=None, fit_intercept: bool = True):
    """Look for (quasi-)complete separation of a binary y by the columns of X.

    Returns ``None`` when the classes overlap (a finite maximum-likelihood estimate exists),
    else a :class:`PerfectSeparationError` (not raised) describing it. First each column
    alone is checked (with an intercept: max over one class ≤ min over the other); then
    the linear programs of Konis (2007) over all columns: maximize t subject to
    s_i x_i'b ≥ t, −1 ≤ b ≤ 1 (t > 0: complete separation), then maximize Σ_i s_i x_i'b
    subject to s_i x_i'b ≥ 0 (a positive optimum: quasi-complete separation).
    """
    X, names = as_design(X, "X") if names is None else (np.asarray(X, dtype=backend.float64), list(names))
    labels, y_name = as_labels(y, X.shape[0], "y")
    positive = check_binary(labels, y_name)[1] > 0.5
    if fit_intercept:
        found = _separating_column(X, positive, names)
        if found is not None:
            return found
    design = Design(X, fit_intercept)
    Z = design.full()
    scale = np.max(np.abs(Z), axis=0)
    scale[scale == 0] = 1.0
    S = (Z / scale) * np.where(positive, 1.0, -1.0)[:, None]
    n, k = S.shape
    bounds = [(-1.0, 1.0)] * k + [(None, 1.0)]
    # complete: max t s.t. S b >= t  <=>  -S b + t <= 0
    result = _optimize.linprog(
        np.r_[np.zeros(k), -1.0], A_ub=np.hstack([-S, np.ones((n, 1))]), b_ub=np.zeros(n),
        bounds=bounds, method="highs",
    )
    if result.status == 0 and -result.fun > 1e-7:
        return _separation_report("complete", result.x[:k] / scale, S @ result.x[:k], names, fit_intercept)
    result = _optimize.linprog(
        -S.sum(axis=0), A_ub=-S, b_ub=np.zeros(n), bounds=bounds[:k], method="highs",
    )
    if result.status == 0 and -result.fun > 1e-7:
        margins = S @ result.x
        if np.min(margins) > -1e-9 and np.any(margins > 1e-7):
            return _separation_report("quasi-complete", result.x / scale, margins, names, fit_intercept)
    return None


def find_multinomial_separation(X, y, names=None, fit_intercept: bool = True):
    r"""Look for (quasi-)complete separation of a multiclass y (Albert & Anderson 1984, §4).

    The multinomial maximum-likelihood estimate does not exist when some coefficients
    B = (β_1, …, β_{K−1}) (β_0 = 0 for the reference), not all zero, rank every row's
    observed class at or above every other class: the margins

        m_ij = x_i'(β_{y_i} − β_j) ≥ 0   for every row i and class j ≠ y_i.

    Two linear programs over −1 ≤ B ≤ 1 (columns scaled to max |x| = 1), as for the binary
    model (Konis 2007): maximize t subject to m_ij ≥ t (t > 0: *complete* separation, every
    row's class strictly first); else maximize Σ m_ij subject to m_ij ≥ 0 (a positive optimum:
    *quasi-complete*). Returns ``None`` when no such B exists (a finite estimate exists), else
    a :class:`PerfectSeparationError` (not raised) whose ``columns`` are the columns with
    non-zero coefficients, ``classes`` the classes ranked apart (pairs (observed class,
    other class) with a positive margin in ``pairs``), ``direction`` the (k, K−1) matrix B and
    ``rows`` the rows with a positive margin.
    """
    X, names = as_design(X, "X") if names is None else (np.asarray(X, dtype=backend.float64), list(names))
    labels, _ = as_labels(y, X.shape[0], "y")
    classes, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    K = classes.size
    Z = Design(X, fit_intercept).full()
    scale = np.max(np.abs(Z), axis=0)
    scale[scale == 0] = 1.0
    S, owners = _margin_rows(Z / scale, codes, K)
    m, width = S.shape
    bounds = [(-1.0, 1.0)] * width
    result = _optimize.linprog(
        np.r_[np.zeros(width), -1.0], A_ub=np.hstack([-S, np.ones((m, 1))]), b_ub=np.zeros(m),
        bounds=bounds + [(None, 1.0)], method="highs",
    )
    if result.status == 0 and -result.fun > 1e-7:
        b, kind = result.x[:width], "complete"
    else:
        result = _optimize.linprog(-S.sum(axis=0), A_ub=-S, b_ub=np.zeros(m), bounds=bounds, method="highs")
        if not (result.status == 0 and -result.fun > 1e-7):
            return None
        b, kind = result.x, "quasi-complete"
        margins = S @ b
        if np.min(margins) < -1e-9 or not np.any(margins > 1e-7):
            return None
    direction = (b.reshape(Z.shape[1], K - 1, order="F") / scale[:, None])
    return _multinomial_report(kind, direction, S @ b, owners, classes, names, fit_intercept)


def class_label(value):
    """A class label as shown in tables: 2.0 → "2", 0.5 → "0.5", "cat" → "cat"."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _separating_column(X, positive, names):
    for j in range(X.shape[1]):
        on, off = X[positive, j], X[~positive, j]
        for high, low, label in ((on, off, 1), (off, on, 0)):
            top, bottom = low.max(), high.min()
            if top > bottom:
                continue
            name = names[j]
            if top < bottom:
                kind, rows = "complete", np.arange(X.shape[0])
                detail = (f"every row with {name} >= {bottom:g} has y = {label} and every row with "
                          f"{name} <= {top:g} has y = {1 - label}")
            else:
                kind, rows = "quasi-complete", np.flatnonzero(X[:, j] != top)
                detail = (f"every row with {name} > {top:g} has y = {label} and every row with {name} < "
                          f"{top:g} has y = {1 - label}; only rows with {name} = {top:g} have both "
                          f"({rows.size} rows predicted perfectly)")
            message = (
                f"Logit: {kind} separation: column {name!r} alone separates the classes: {detail}. "
                f"The maximum-likelihood estimate does not exist (the coefficient of {name!r} runs to "
                f"{'+' if label == 1 else '-'}infinity; Albert & Anderson 1984). Drop or merge that "
                f"column, or fit a penalized model: chainrule.stats.LogisticRegression (an L2 penalty by default), "
                f"whose estimate exists on separated data"
            )
            direction = np.zeros(X.shape[1] + 1)
            direction[j + 1] = 1.0 if label == 1 else -1.0
            return PerfectSeparationError(message, kind, [name], direction, rows)
    return None


def _separation_report(kind, direction, margins, names, fit_intercept):
    direction = direction / np.max(np.abs(direction))
    labels = (["const"] if fit_intercept else []) + list(names)
    columns = [labels[j] for j in np.flatnonzero(np.abs(direction) > 1e-6) if labels[j] != "const" or not fit_intercept]
    rows = np.flatnonzero(margins > 1e-7)
    terms = " ".join(f"{'+' if direction[j] >= 0 else '-'} {abs(direction[j]):.3g}*{labels[j]}"
                     for j in np.flatnonzero(np.abs(direction) > 1e-6))
    message = (
        f"Logit: {kind} separation by the columns {', '.join(map(repr, columns))}: the linear combination "
        f"{terms.lstrip('+ ')} is >= 0 for every row with y = 1 and <= 0 for every row with y = 0 "
        f"({rows.size} rows predicted perfectly, first at rows {', '.join(map(str, rows[:5]))}). The "
        f"maximum-likelihood estimate does not exist (Albert & Anderson 1984). Drop or merge those "
        f"columns, or fit a penalized model: chainrule.stats.LogisticRegression (an L2 penalty by default), "
        f"whose estimate exists on separated data"
    )
    return PerfectSeparationError(message, kind, columns, direction, rows)


def _margin_rows(Z, codes, K):
    """The rows s_ij of the margins m_ij = s_ij' vec(B) (i, j ≠ y_i), and their (i, y_i, j)."""
    n, k = Z.shape
    rows, owners = [], []
    for j in range(K):
        others = np.flatnonzero(codes != j)
        block = np.zeros((others.size, k * (K - 1)))
        for i_class in range(1, K):
            members = codes[others] == i_class
            block[members, (i_class - 1) * k:i_class * k] += Z[others[members]]
        if j > 0:
            block[:, (j - 1) * k:j * k] -= Z[others]
        rows.append(block)
        owners.append(np.column_stack([others, codes[others], np.full(others.size, j)]))
    return np.vstack(rows), np.vstack(owners)


def _multinomial_report(kind, direction, margins, owners, classes, names, fit_intercept):
    direction = direction / np.max(np.abs(direction))
    labels = (["const"] if fit_intercept else []) + list(names)
    used = np.flatnonzero(np.any(np.abs(direction) > 1e-6, axis=1))
    columns = [labels[j] for j in used if not (fit_intercept and j == 0)]
    positive = margins > 1e-7
    pairs = sorted({(int(c), int(j)) for _, c, j in owners[positive]})
    rows = np.unique(owners[positive, 0])
    involved = sorted({c for pair in pairs for c in pair})
    shown = ", ".join(f"{class_label(classes[a])} over {class_label(classes[b])}" for a, b in pairs[:6])
    message = (
        f"MNLogit: {kind} separation by the columns {', '.join(map(repr, columns)) or repr('const')}: a linear "
        f"score in them ranks the observed class of every row at or above the other classes, strictly for "
        f"{rows.size} rows (first at rows {', '.join(map(str, rows[:5]))}); separated classes (observed over "
        f"other): {shown}{' …' if len(pairs) > 6 else ''}. The maximum-likelihood estimate does not exist "
        f"(Albert & Anderson 1984): some coefficients run to infinity. Drop or merge those columns or "
        f"classes, or fit a penalized model: chainrule.stats.LogisticRegression (an L2 penalty by default, "
        f"softmax for more than two classes), whose estimate exists on separated data"
    )
    error = PerfectSeparationError(message, kind, columns, direction, rows)
    error.classes = [_plain(classes[c]) for c in involved]
    error.pairs = [(_plain(classes[a]), _plain(classes[b])) for a, b in pairs]
    return error


def _plain(label):
    """A label as a Python object (NumPy scalars unwrapped)."""
    return label.item() if isinstance(label, np.generic) else label
