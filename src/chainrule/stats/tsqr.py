r"""Estimation on rows spread over MPI ranks: TSQR and sums of per-rank blocks.

In a distributed fit (``OLS(distributed=True)``, ``Logit(distributed=True)``) rank r holds a
block of rows A_r of the full matrix A = [A_0; A_1; …; A_{N−1}]. Everything the estimators
need from all rows is one of two kinds, and neither moves more than p x p numbers:

* **Sums over rows**, e.g. Z'Z = Σ_r Z_r'Z_r, the score Σ_i x_i (y_i − p_i), the Hessian
  Σ_i p_i(1 − p_i) x_i x_i', SSR = Σ_r e_r'e_r, the HC "meat": one all-reduce each
  (:class:`RowBlocks`).
* **The R factor of a QR factorization of A**, by TSQR (Demmel, Grigori, Hoemmen & Langou
  2012, "Communication-optimal parallel and sequential QR and LU factorizations", SIAM J.
  Sci. Comput. 34(1)): each rank factors its own block, A_r = Q_r R_r (LAPACK geqrf), and
  the small triangles are combined pairwise up a binary reduction tree,

      [R_a; R_b] = Q_ab R_ab,

  so after ⌈log₂ N⌉ levels rank 0 holds R with A = Q R, Q = diag(Q_r) · (tree of Q_ab).
  R is unique up to the signs of its rows; we make its diagonal non-negative, and then it
  is the R of a Householder QR of the whole A (R'R = A'A exactly in exact arithmetic, and
  TSQR is backward stable like Householder QR). Each tree message is one (p x p) triangle.

With a single process (no MPI) the sums are the local arrays themselves and TSQR is one
blocked QR, so the same code fits one machine's data.

Streaming (data larger than memory, e.g. ``data.ParquetDataset``) is the same reduction over
batches instead of ranks: :func:`streamed_least_squares` folds each batch's triangle into a
running R (sequential TSQR), and :class:`StreamedDesign` sums the Logit's Newton quantities
batch by batch; memory holds one batch and k x k numbers, never the data.
"""
from __future__ import annotations

import scipy.linalg as _la

from ..engine import backend
from ..engine import distributed as _dist
from .logit_newton import Alarm, Design, newton_binary

np = backend.host

__all__ = ["RowBlocks", "SummedDesign", "StreamedDesign", "streamed_least_squares", "tsqr_r", "augmented_r",
           "host_block", "newton_without_separation_check", "reduce_least_squares",
           "stream_feature_names"]

#: Rows per local QR block: bounds the scratch memory to BLOCK_ROWS x (k + 1) floats.
BLOCK_ROWS = 20_000


class RowBlocks:
    """Sums over the ranks' blocks of rows (all-reduce); identity for one process.

    ``RowBlocks(distributed=False)`` never touches MPI. With ``distributed=True`` it starts
    MPI (:func:`chainrule.distributed.init`), and every method is collective: every rank
    must call it, in the same order.
    """

    def __init__(self, distributed: bool):
        self.distributed = bool(distributed)
        self.comm = _dist.init() if self.distributed else None
        self.size = 1 if self.comm is None else self.comm.Get_size()
        self.rank = 0 if self.comm is None else self.comm.Get_rank()

    def sum(self, value):
        """Σ_r value_r for an array or a Python number (returned as float or int as given)."""
        if self.size == 1:
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(_dist.allreduce_(np.asarray([value], dtype=np.int64))[0])
        if np.isscalar(value) or (isinstance(value, np.ndarray) and value.ndim == 0):
            return float(_dist.allreduce_(np.asarray([value], dtype=np.float64))[0])
        return _dist.allreduce_(np.ascontiguousarray(value, dtype=np.float64).copy())

    def agree(self, value: int, what: str) -> int:
        """``value`` when every rank has the same; else ValueError (on every rank) listing them."""
        if self.size == 1:
            return value
        values = self.comm.allgather(int(value))
        if len(set(values)) > 1:
            raise ValueError(f"{what} differs between ranks: {values} (rank 0 first); every rank "
                             f"must hold the same columns")
        return value

    def union(self, values):
        """The sorted distinct values of every rank's ``values`` together (one allgather)."""
        local = np.unique(np.asarray(values))
        if self.size == 1:
            return local
        return np.unique(np.concatenate(self.comm.allgather(local)))

    def check(self, error, where: str) -> None:
        """Raise on every rank if any rank's local step failed (see ``fail_together``)."""
        if self.size == 1:
            if error is not None:
                raise error
            return
        _dist.fail_together(error, where)

    def tsqr_r(self, local_r):
        """R of the stacked blocks from each rank's triangle (see :func:`tsqr_r`)."""
        return tsqr_r(local_r, self.comm)


class SummedDesign:
    r"""A logistic-regression design (``stats.logit_newton.Design``) whose row sums run over all ranks.

    A Newton iteration for the Logit touches the rows only through sums (see
    ``Design.newton_pass``): ℓ(β) = Σ_i ℓ_i, the score g = Σ_i x_i (y_i − p_i) and the
    information I = Σ_i p_i (1 − p_i) x_i x_i'. Each rank computes them on its rows and one
    all-reduce of the packed [ℓ, g, I] (1 + k + k² numbers) gives every rank the sums of
    the concatenated data, so the Newton step β ← β + I⁻¹ g, taken on every rank, is the
    single-machine step (and the largest |η_i| is reduced with a max for the separation
    alarm). ``dot`` stays local (the linear predictor of this rank's rows); ``gram(w)``
    sums X'WX over the ranks; ``subsample(s)`` takes every s-th row on every rank, which is
    again a subsample of all the rows.
    """

    def __init__(self, design, rows: RowBlocks):
        self.local, self.rows = design, rows
        self.intercept, self.k = design.intercept, design.k
        self.n = rows.sum(int(design.n))
        self.X = design.X

    def subsample(self, stride: int) -> SummedDesign:
        return SummedDesign(self.local.subsample(stride), self.rows)

    def dot(self, beta):
        return self.local.dot(beta)

    def tdot(self, r):
        return self.rows.sum(self.local.tdot(r))

    def gram(self, w):
        return self.rows.sum(self.local.gram(w))

    def misclassified(self, beta, y) -> int:
        """The number of rows of all ranks with s_i x_i'β ≤ 0, s_i = 2y_i − 1."""
        return self.rows.sum(_misclassified(self.local.dot(beta), y))

    def newton_pass(self, beta, y, hessian=True):
        """(ℓ, X'WX or None, X'(y − p), max|η|) summed (maximized) over the ranks' rows."""
        llf, information, score, largest = self.local.newton_pass(beta, y, hessian=hessian)
        k = self.k
        packed = np.empty(1 + k + (k * k if hessian else 0))
        packed[0], packed[1:1 + k] = llf, score
        if hessian:
            packed[1 + k:] = information.reshape(-1)
        packed = self.rows.sum(packed)
        largest = largest if self.rows.size == 1 else self.rows.comm.allreduce(largest, op=backend.mpi().MAX)
        information = packed[1 + k:].reshape(k, k) if hessian else None
        return float(packed[0]), information, packed[1:1 + k].copy(), largest


def augmented_r(X, y, d, intercept: bool, block_rows: int = BLOCK_ROWS):
    r"""The (k+1) x (k+1) R factor of this rank's block of [Zs, y], Zs = [1, X] D.

    Blocks of ``block_rows`` rows are factored by LAPACK geqrf and their triangles stacked
    and factored once more (sequential TSQR), so the scratch memory is one block. Rows
    beyond the block's rank are zero-padded, so every rank returns the same shape even when
    its block has fewer than k + 1 rows.
    """
    n, p = X.shape
    k = p + int(intercept)
    m = k + 1
    stacked = []
    buffer = np.empty((max(min(block_rows, n), 1), m))
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        A = buffer[: stop - start]
        if intercept:
            A[:, 0] = d[0]
            np.multiply(X[start:stop], d[1:], out=A[:, 1:k])
        else:
            np.multiply(X[start:stop], d, out=A[:, :k])
        A[:, k] = y[start:stop]
        stacked.append(_qr_r(A))
    if not stacked:
        return np.zeros((m, m))
    return _qr_r(np.vstack(stacked)) if len(stacked) > 1 else stacked[0]


def tsqr_r(local_r, comm):
    r"""Combine each rank's (m x m) triangle R_r into the R of the stacked blocks.

    Binary tree: at level ℓ = 1, 2, 4, … the rank r with r mod 2ℓ = ℓ sends its triangle to
    r − ℓ and stops; the receiver replaces its triangle by the R of [R_own; R_received].
    Rank 0 ends with the R of all rows, broadcast to every rank. ⌈log₂ N⌉ levels, one m x m
    message per rank and level. The diagonal is made non-negative (R is unique up to the
    signs of its rows). ``comm`` None: the local triangle is the answer.
    """
    R = np.ascontiguousarray(local_r, dtype=np.float64)
    if comm is not None and comm.Get_size() > 1:
        rank, size = comm.Get_rank(), comm.Get_size()
        level = 1
        while level < size:
            if rank % (2 * level) == level:
                comm.Send(R, dest=rank - level, tag=level)
                break
            partner = rank + level
            if rank % (2 * level) == 0 and partner < size:
                received = np.empty_like(R)
                comm.Recv(received, source=partner, tag=level)
                R = _qr_r(np.vstack([R, received]))
            level *= 2
        R = np.ascontiguousarray(R)
        comm.Bcast(R, root=0)
    return _positive_diagonal(R)


def streamed_least_squares(batches, intercept: bool = True) -> dict:
    r"""Least-squares sufficient statistics of blocks of rows, in one pass with bounded memory.

    ``batches`` yields (X_b, y_b) host arrays (or Tensors). Each block's (k+1) x (k+1) triangle
    of [Z_b, y_b] (Z_b = [1, X_b] with ``intercept``) is stacked on the running triangle and
    factored again, so after the last block R_aug is the R factor of [Z, y] for all rows:

        R_aug = [[R, Q'y], [0, ρ]],   β̂ = R⁻¹ Q'y,   SSR = ρ²,

    and ȳ and Σ(y − ȳ)² are merged block by block (Chan, Golub & LeVeque 1983). Returns
    ``{"R", "qty", "ssr", "nobs", "ybar", "centered_tss", "yty", "nblocks", "R_aug"}`` (yty = Σ y²,
    the uncentered total sum of squares; nblocks the number of blocks; R_aug the whole
    triangle, for :func:`reduce_least_squares`); (R'R)⁻¹ = R⁻¹R⁻ᵀ gives the
    covariance s² (R'R)⁻¹ with s² = SSR / (n − k). Raises ValueError for a block with NaN or
    inf, mismatched lengths, or a changing number of columns.
    """
    R, k, n, mean, m2, yty, nblocks = None, None, 0, 0.0, 0.0, 0.0, 0
    for position, (X_b, y_b) in enumerate(batches):
        nblocks += 1
        X_b, y_b = host_block(X_b, y_b, position)
        if k is None:
            k = X_b.shape[1] + int(intercept)
        elif X_b.shape[1] + int(intercept) != k:
            raise ValueError(f"streamed_least_squares: block {position} has {X_b.shape[1]} columns; "
                             f"the first block had {k - int(intercept)}")
        r = augmented_r(X_b, y_b, np.ones(k), intercept)
        R = r if R is None else _qr_r(np.vstack([R, r]))
        m = len(y_b)
        yty += float(y_b @ y_b)
        if m:
            block_mean = float(y_b.mean())
            block_m2 = float(((y_b - block_mean) ** 2).sum())
            delta = block_mean - mean
            mean += delta * m / (n + m)
            m2 += block_m2 + delta * delta * n * m / (n + m)
            n += m
    if R is None or n == 0:
        raise ValueError("streamed_least_squares: the batches held no rows")
    R = _positive_diagonal(R)
    return {"R": np.triu(R[:k, :k]), "qty": R[:k, k].copy(), "ssr": float(R[k, k] ** 2), "nobs": n,
            "ybar": mean, "centered_tss": m2, "yty": yty, "nblocks": nblocks, "R_aug": np.triu(R)}


def reduce_least_squares(sums: dict, rows: RowBlocks) -> dict:
    r"""The :func:`streamed_least_squares` result of all ranks' rows from each rank's own.

    The augmented triangles R_aug,r of [Z_r, y_r] are combined by TSQR (:func:`tsqr_r`), so
    R_aug is that of the stacked rows and R, Q'y and SSR = ρ² follow as in one process; the
    counts, Σy² and the block counts are summed, and (n_r, ȳ_r, M2_r) merged by Chan, Golub &
    LeVeque's update M2 = M2_a + M2_b + δ² n_a n_b / (n_a + n_b), δ = ȳ_b − ȳ_a. Collective.
    """
    if rows.size == 1:
        return sums
    R = rows.tsqr_r(sums["R_aug"])
    k = R.shape[0] - 1
    n, mean, m2 = 0, 0.0, 0.0
    for n_r, mean_r, m2_r in rows.comm.allgather((sums["nobs"], sums["ybar"], sums["centered_tss"])):
        delta = mean_r - mean
        m2 += m2_r + delta * delta * n * n_r / (n + n_r)
        mean += delta * n_r / (n + n_r)
        n += n_r
    return {"R": np.triu(R[:k, :k]), "qty": R[:k, k].copy(), "ssr": float(R[k, k] ** 2), "nobs": n,
            "ybar": mean, "centered_tss": m2, "yty": rows.sum(float(sums["yty"])),
            "nblocks": rows.sum(int(sums["nblocks"])), "R_aug": R}


class StreamedDesign:
    r"""A logistic-regression design whose rows are read batch by batch (bounded memory).

    ``batches`` yields (X_b, y_b) blocks on every pass: either a function of no arguments
    that returns a fresh iterator (called once per pass, as ``Logit.fit_stream`` takes it)
    or a re-iterable (e.g. a ``data.ParquetDataset`` with ``shuffle=False``, whose every
    iteration reads the file again). ``newton_pass(β)`` sums ℓ, the score X'(y − p) and the
    information X'WX over the blocks,

        ℓ = Σ_b ℓ_b(β),   g = Σ_b X_b'(y_b − p_b),   I = Σ_b X_b'W_bX_b,

    each block's terms from ``stats.logit_newton.Design.newton_pass`` (the ``y`` argument is
    ignored: the targets come with the blocks), so ``stats.logit_newton.newton_binary`` runs on
    it unchanged and one Newton iteration is one pass over the data.

    Construction makes one pass that counts the rows ``n`` and blocks ``n_batches``, fixes
    the number of parameters ``k`` and sums the targets (``y_sum``); with ``binary=True`` a
    target other than 0 or 1 raises ValueError naming the block. Every later pass checks
    that the blocks have the same columns and the same total rows.
    """

    def __init__(self, batches, intercept: bool = True, binary: bool = False):
        self.batches, self.intercept = batches, bool(intercept)
        self.n, self.k, self.y_sum, self.n_batches = 0, None, 0.0, 0
        for position, (X_b, y_b) in enumerate(self._blocks()):
            X_b, y_b = host_block(X_b, y_b, position)
            self._check_width(X_b, position)
            if binary:
                _check_zero_one(y_b, position)
            self.n += X_b.shape[0]
            self.y_sum += float(y_b.sum())
            self.n_batches += 1
        if not self.n:
            raise ValueError("StreamedDesign: the batches held no rows")

    def _blocks(self):
        return self.batches() if callable(self.batches) else iter(self.batches)

    def _check_width(self, X_b, position):
        k = X_b.shape[1] + int(self.intercept)
        if self.k is None:
            self.k = k
        elif k != self.k:
            raise ValueError(f"StreamedDesign: block {position} has {X_b.shape[1]} columns; the first block had "
                             f"{self.k - int(self.intercept)}")

    def misclassified(self, beta, y=None) -> int:
        """The number of rows with s_i x_i'β ≤ 0, s_i = 2y_i − 1 (one pass)."""
        count = 0
        for position, (X_b, y_b) in enumerate(self._blocks()):
            X_b, y_b = host_block(X_b, y_b, position)
            count += _misclassified(Design(X_b, self.intercept).dot(beta), y_b)
        return count

    def newton_pass(self, beta, y=None, hessian=True):
        """(ℓ, X'WX or None, X'(y − p), max|η|) summed (maximized) over the blocks of one pass."""
        llf, information, score, largest, rows = 0.0, None, np.zeros(self.k), 0.0, 0
        for position, (X_b, y_b) in enumerate(self._blocks()):
            X_b, y_b = host_block(X_b, y_b, position)
            self._check_width(X_b, position)
            if not X_b.shape[0]:  # an empty block adds nothing (and has no max|η|)
                continue
            b_llf, b_information, b_score, b_largest = Design(X_b, self.intercept).newton_pass(
                beta, y_b, hessian=hessian)
            llf += b_llf
            score += b_score
            largest = max(largest, b_largest)
            rows += X_b.shape[0]
            if hessian:
                information = b_information if information is None else information + b_information
        if rows != self.n:
            raise ValueError(f"StreamedDesign: a pass read {rows} rows but the first read {self.n}; the batches "
                             f"must yield the same rows on every pass")
        return llf, information, score, largest


def newton_without_separation_check(design, y, beta, tol: float, max_iter: int, where: str):
    r"""``stats.logit_newton.newton_binary`` on a design whose rows are not all in this process.

    The in-memory ``Logit.fit`` answers an alarm of the iteration (|η_i| > 30, a singular
    or non-finite step) by a separation check (a linear program on all the rows) that a
    streamed or rank-split design cannot run. Here: a large |η| alone lets the iteration
    go on without the alarm (as ``fit`` does when the check finds no separation) and raises
    ValueError if it then does not converge in ``max_iter`` or converges (relative to the
    size of β, which grows without bound) to a β̂ with s_i x_i'β̂ > 0 for every row,
    s_i = 2y_i − 1: β̂ is then itself a separating direction, a certificate of complete
    separation (one more pass counts the rows it misclassifies); a singular information matrix
    or a non-finite step raises that ValueError at once. It names the two possible causes,
    (quasi-)complete separation or collinear columns. The branches depend only on the
    summed quantities, so every rank of a distributed fit takes the same one.
    """
    reason = None
    try:
        try:
            return newton_binary(design, y, beta, tol, max_iter)
        except Alarm as alarm:
            if "exceeds" not in alarm.reason:
                raise
            reason = alarm.reason
            result = newton_binary(design, y, alarm.beta, tol, max_iter, alarm=False)
            if result.converged and design.misclassified(result.beta, y):
                return result
            if result.converged:  # β̂ itself separates: s_i x_i'β̂ > 0 for every row
                reason += ", and the estimate classifies every row correctly (complete separation)"
            else:
                reason += f", and Newton did not converge in max_iter={max_iter} iterations"
    except Alarm as alarm:
        reason = alarm.reason
    raise ValueError(
        f"{where}: {reason}: the classes "
        f"are (quasi-)completely separated by some combination of the columns, or the columns are "
        f"collinear; find_separation (which needs the rows in memory) on the data or a sample of it says which"
    )


def host_block(X_b, y_b, position: int):
    X_b = np.asarray(X_b.numpy() if hasattr(X_b, "numpy") else X_b, dtype=np.float64)
    y_b = np.asarray(y_b.numpy() if hasattr(y_b, "numpy") else y_b, dtype=np.float64).reshape(-1)
    if X_b.ndim == 1:
        X_b = X_b[:, None]
    if X_b.shape[0] != y_b.shape[0]:
        raise ValueError(f"block {position}: X has {X_b.shape[0]} rows but y has {y_b.shape[0]}")
    if not (np.isfinite(X_b).all() and np.isfinite(y_b).all()):
        raise ValueError(f"block {position}: NaN or inf values; drop or impute them first")
    return np.ascontiguousarray(X_b), y_b


def stream_feature_names(feature_names, p: int, where: str) -> list:
    """The p names of X's columns for a streamed fit: as given (checked), else x1 … xp."""
    if feature_names is None:
        return [f"x{j + 1}" for j in range(p)]
    names = [str(name) for name in feature_names]
    if len(names) != p:
        raise ValueError(f"{where}: feature_names: expected {p} names (one per column of X); got {len(names)}")
    return names


def _qr_r(A):
    """The m x m R of A (m = A's columns), zero-padded when A has fewer rows than columns."""
    m = A.shape[1]
    r = _la.qr(A, mode="r", check_finite=False)[0][:m]
    if r.shape[0] < m:
        r = np.vstack([r, np.zeros((m - r.shape[0], m))])
    return np.triu(r)


def _positive_diagonal(R):
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return R * signs[:, None]


def _misclassified(eta, y) -> int:
    return int(np.count_nonzero((2.0 * np.asarray(y) - 1.0) * eta <= 0.0))


def _check_zero_one(y_b, position):
    bad = (y_b != 0.0) & (y_b != 1.0)
    if bad.any():
        values = np.unique(y_b[bad])[:5].tolist()
        raise ValueError(f"block {position}: y: expected targets 0 or 1; got {int(bad.sum())} other values, "
                         f"e.g. {values}")
