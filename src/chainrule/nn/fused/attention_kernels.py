"""Compiled (numba) scaled dot-product attention: forward and backward without BLAS, one
(batch, head) pair per thread.

The node :class:`~chainrule.nn.fused.attention.ScaledDotProductAttention` calls these kernels on
host float32 / float64 arrays when :func:`~chainrule.nn.kernel_choice.kernels_for` allows the
compiled kernels (numba installed, ``CHAINRULE_NO_NUMBA`` unset); the NumPy path of that module
stays the reference and the fallback. Notation as there: A = Q K^T scale + B (B the additive
bias, -inf where masked), P = softmax(A), O = (P * M) V (M the dropout keep mask, when there is
one), and backward with G = dO, D_l = sum_d G_ld O_ld:

    dV = (P * M)^T G,   dP = (G V^T) * M,   dA = P * (dP - D),   dQ = dA K scale,   dK = dA^T Q scale

How it runs (FlashAttention's plan, Dao et al. 2022, FlashAttention-2's D, Dao 2023): a
``prange`` over the N H (batch, head) pairs; each pair is done on one thread from contiguous
copies of its Q (scaled by scale log2(e): the exponential is exp2), K^T, V (a few tens of kB:
they stay in the core's caches), one query row at a time against the keys up to that row's
``limit`` (the number of keys before the last one any mask leaves live: the causal triangle's
masked keys are never visited). Each row's scores live in one S-long scratch row: A_l. =
B_l. + sum_c Q_lc K^T_c. (D vector passes over the row), its max m_l, E = exp2(A - m), the sum
Z_l, O_l = (E (* M)) V / Z. The row statistics m_l and 1 / Z_l are kept for the backward, which
recomputes P row by row (no (L, S) array is stored) and accumulates dK, dV of the pair in
scratch (S, d) arrays. A row whose keys are all masked gets O = 0 and no gradient (1 / Z
stored as 0 marks it), as PyTorch's ``scaled_dot_product_attention``.

exp2 is computed here and not by libm (numba has no vector math library: a scalar libm call per
score would cost more than the products): x = max(A - m, -E_min) is split as n + f with n =
floor(x), f in [0, 1), 2^f by its Chebyshev interpolant (degree 6 in float32, error 2.5e-9;
degree 11 in float64, 2.5e-15, relative) and 2^n by writing n + bias into the exponent field
of an integer scratch row read back as floats; n = -E_min (-127 or -1023) gives the float 0,
so masked scores (-inf) get exactly 0. Every loop is a plain loop over a contiguous row that
LLVM vectorizes (AVX-512 on the benchmark machine).

Rounding: the kernels are compiled with ``fastmath={"reassoc", "contract"}``: sums are
reassociated (vectorized) and multiply-adds fused, so results differ from the NumPy path by
rounding (float32: ~1e-6 relative; float64: ~1e-14). No flag assumes finite values (-inf is a
mask). Threads and the lock: as :mod:`chainrule.nn.fused.numba_kernels` (this module imports
it, which selects the ``workqueue`` layer, and holds its lock around each kernel).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import overload
from numpy.lib.stride_tricks import as_strided

from .numba_kernels import LOCK

__all__ = ["forward", "backward", "padded_width", "EXP2_COEFFICIENTS", "WIDTHS"]

_JIT = {"cache": True, "error_model": "numpy", "nogil": True, "parallel": True,
        "fastmath": {"reassoc", "contract"}}


def _exp2_coefficients(degree: int) -> tuple:
    """Power-series coefficients (lowest first) of the Chebyshev interpolant of 2^f on [0, 1]."""
    cheb = np.polynomial.chebyshev
    series = np.polynomial.Polynomial(cheb.cheb2poly(cheb.chebinterpolate(lambda u: 2.0 ** ((u + 1) / 2), degree)))
    return tuple(float(c) for c in series(np.polynomial.Polynomial([-1.0, 2.0])).coef)


#: dtype char -> the coefficients of 2^f on [0, 1] (lowest first) used for that dtype.
EXP2_COEFFICIENTS = {"f": _exp2_coefficients(6), "d": _exp2_coefficients(11)}


def exp2_row(row, chunks, top, bits, floats):  # pragma: no cover - replaced by the overload below
    """row[:n] = exp2(row[:n] - top) in place for n = ``chunks`` :data:`LANES`; returns the
    sum (see the module docstring)."""
    raise TypeError("exp2_row runs only inside compiled code")


def _exp2_implementation(dtype):
    """The compiled body of :func:`exp2_row` for one float dtype (its constants frozen)."""
    float32 = dtype == types.float32
    coefficients = EXP2_COEFFICIENTS["f" if float32 else "d"]
    scalar = np.float32 if float32 else np.float64
    c = [scalar(x) for x in coefficients] + [scalar(0.0)] * (12 - len(coefficients))
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = c
    low = scalar(-127.0 if float32 else -1023.0)
    exponent_bias = 127 if float32 else 1023
    shift = 23 if float32 else 52
    zero = scalar(0.0)

    if float32:
        def body(row, chunks, top, bits, floats):
            for j in range(chunks * 16):
                x = max(row[j] - top, low)
                n = np.floor(x)
                f = x - n
                row[j] = c0 + f * (c1 + f * (c2 + f * (c3 + f * (c4 + f * (c5 + f * c6)))))
                bits[j] = (np.int32(n) + exponent_bias) << shift
            total = zero
            for j in range(chunks * 16):
                value = row[j] * floats[j]
                row[j] = value
                total += value
            return total
        return body

    def body64(row, chunks, top, bits, floats):
        for j in range(chunks * 16):
            x = max(row[j] - top, low)
            n = np.floor(x)
            f = x - n
            row[j] = c0 + f * (c1 + f * (c2 + f * (c3 + f * (c4 + f * (c5 + f * (c6 + f * (
                c7 + f * (c8 + f * (c9 + f * (c10 + f * c11))))))))))
            bits[j] = (np.int64(n) + exponent_bias) << shift
        total = zero
        for j in range(chunks * 16):
            value = row[j] * floats[j]
            row[j] = value
            total += value
        return total
    return body64


@overload(exp2_row, inline="always", fastmath={"reassoc", "contract"})
def _exp2_row_overload(row, chunks, top, bits, floats):
    return _exp2_implementation(row.dtype)



LANES = 16  #: the key loops run over whole chunks of this many keys (the scratch rows are padded)
WIDTHS = (8, 16, 32, 64, 128)  #: the compiled head widths; d and dv are padded up to one of them
_ROW = {"cache": True, "error_model": "numpy", "inline": "always", "fastmath": {"reassoc", "contract"}}


@njit(**_ROW)
def load_transposed(flat, offset, row_stride, col_stride, rows, cols, out):  # pragma: no cover - compiled
    """out[c, j] = the element (j, c) of the (rows, cols) matrix at ``flat[offset]``; ``out``
    (width, padded) is zero beyond."""
    out[:, :] = 0
    for j in range(rows):
        for c in range(cols):
            out[c, j] = flat[offset + j * row_stride + c * col_stride]


@njit(**_ROW)
def load_row(flat, offset, stride, cols, factor, out):  # pragma: no cover - compiled
    """out[c] = flat[offset + c stride] factor for c < cols, 0 beyond."""
    out[:] = 0
    for c in range(cols):
        out[c] = flat[offset + c * stride] * factor


@njit(**_ROW)
def row_times_matrix(row, matrix, n, width, out):  # pragma: no cover - compiled
    """out[j] += sum_c row[c] matrix[c, j] for j < n (vectorized along j; ``width`` literal)."""
    for j in range(n):
        total = out[j]
        for c in range(width):
            total += row[c] * matrix[c, j]
        out[j] = total


@njit(**_ROW)
def matrix_times_row(matrix, row, n, width, out):  # pragma: no cover - compiled
    """out[c] = sum_j matrix[c, j] row[j] over j < n, for c < width."""
    for c in range(width):
        total = out.dtype.type(0)
        for j in range(n):
            total += matrix[c, j] * row[j]
        out[c] = total


@njit(**_ROW)
def add_outer(row, vector, n, width, out):  # pragma: no cover - compiled
    """out[c, j] += vector[c] row[j] for j < n, c < width (one vector loop along j per c)."""
    for c in range(width):
        factor = vector[c]
        for j in range(n):
            out[c, j] += factor * row[j]


@njit(**_ROW)
def bias_row(row, bias, offset, stride, count, n, log2e):  # pragma: no cover - compiled
    """row[:count] = the bias row log2(e) (0 without a bias), row[count:n] = 0."""
    row[:n] = 0
    if bias.size > 0:
        for j in range(count):
            row[j] = bias[offset + j * stride] * log2e


@njit(**_ROW)
def softmax_row(row, count, n, top, bits, floats):  # pragma: no cover - compiled
    """Masks row[count:n] (-inf), then row[:n] = exp2(row - m), m the max (or ``top`` when it is
    not -inf: the forward's m, for the backward); returns (m, sum); m = -inf: a dead row."""
    minus_infinity = row.dtype.type(-np.inf)
    row[count:n] = minus_infinity
    m = top
    if m == minus_infinity:
        for j in range(n):
            m = max(m, row[j])
        if m == minus_infinity:
            return m, row.dtype.type(0)
    return m, exp2_row(row, n // LANES, m, bits, floats)


@njit(**_ROW)
def at(geometry, tensor, b, h, i):  # pragma: no cover - compiled
    """The flat index of element (b, h, i, 0) of tensor number ``tensor`` (:data:`TENSORS`)."""
    return b * geometry[tensor, 0] + h * geometry[tensor, 1] + i * geometry[tensor, 2]


#: the order of the tensors' rows in ``geometry`` (element strides along N, H, L and the last dim)
TENSORS = ("q", "k", "v", "bias", "keep", "out", "grad", "dq", "dk", "dv")
Q, K, V, BIAS, KEEP, OUT, GRAD, DQ, DK, DV = range(len(TENSORS))


@njit(**_ROW)
def forward_task(task, q, k, v, bias, keep, out, geometry, sizes, limits, alpha, log2e, bits, stats,
                 width):  # pragma: no cover - compiled
    """One (batch, head) pair of the forward kernel (:func:`kernels`)."""
    h_count, length, source, d, dv = sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]
    padded = bits.shape[1]
    minus_infinity = q.dtype.type(-np.inf)
    b, h = task // h_count, task % h_count
    kt = np.empty((width, padded), dtype=q.dtype)
    load_transposed(k, at(geometry, K, b, h, 0), geometry[K, 2], geometry[K, 3], source, d, kt)
    vt = np.empty((width, padded), dtype=q.dtype)
    load_transposed(v, at(geometry, V, b, h, 0), geometry[V, 2], geometry[V, 3], source, dv, vt)
    qs, acc, row = np.empty(width, q.dtype), np.empty(width, q.dtype), np.empty(padded, q.dtype)
    task_bits = bits[task]
    floats = task_bits.view(q.dtype)
    for i in range(length):
        count = limits[i]
        n = -(-count // LANES) * LANES
        load_row(q, at(geometry, Q, b, h, i), geometry[Q, 3], d, alpha, qs)
        bias_row(row, bias, at(geometry, BIAS, b, h, i), geometry[BIAS, 3], count, n, log2e)
        row_times_matrix(qs, kt, n, width, row)
        m, total = softmax_row(row, count, n, minus_infinity, task_bits, floats)
        inverse = q.dtype.type(0) if m == minus_infinity else 1 / total
        stats[0, task, i] = q.dtype.type(0) if m == minus_infinity else m
        stats[1, task, i] = inverse
        if keep.size > 0:
            start, stride = at(geometry, KEEP, b, h, i), geometry[KEEP, 3]
            for j in range(count):
                row[j] *= keep[start + j * stride]
        if m == minus_infinity:  # a fully masked row: O = 0
            acc[:] = 0
        else:
            matrix_times_row(vt, row, n, width, acc)
        start, stride = at(geometry, OUT, b, h, i), geometry[OUT, 3]
        for c in range(dv):
            out[start + c * stride] = acc[c] * inverse


@njit(**_ROW)
def probabilities_gradient(row, dp, go, d_row, keep, start, stride, count, n, width, vt, dvt):  # pragma: no cover
    """Given P in ``row`` and G in ``go``: dV^T += (P * M) G^T (when ``dvt`` has elements),
    then row = dA = P * ((G V^T) * M - D)."""
    dp[:n] = 0
    row_times_matrix(go, vt, n, width, dp)
    if keep.size > 0:
        for j in range(count):
            factor = keep[start + j * stride]
            dp[j] *= factor
            if dvt.size > 0:
                for c in range(width):
                    dvt[c, j] += go[c] * (row[j] * factor)
    elif dvt.size > 0:
        add_outer(row, go, n, width, dvt)
    for j in range(n):
        row[j] *= dp[j] - d_row


@njit(**_ROW)
def store_transposed(matrix, factor, flat, offset, row_stride, col_stride, rows, cols):  # pragma: no cover
    """The (rows, cols) matrix at ``flat[offset]`` = matrix^T factor (nothing when ``flat`` is empty)."""
    if flat.size > 0:
        for j in range(rows):
            for c in range(cols):
                flat[offset + j * row_stride + c * col_stride] = matrix[c, j] * factor


@njit(**_ROW)
def backward_task(task, q, k, v, bias, keep, out, grad, dq, dk, dv, geometry, sizes, limits, alpha, log2e, scale,
                  bits, stats, width):  # pragma: no cover - compiled
    """One (batch, head) pair of the backward kernel (:func:`kernels`)."""
    h_count, length, source, d, dv_width = sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]
    padded, one = bits.shape[1], q.dtype.type(1)
    b, h = task // h_count, task % h_count
    kt, vt = np.empty((width, padded), q.dtype), np.empty((width, padded), q.dtype)
    load_transposed(k, at(geometry, K, b, h, 0), geometry[K, 2], geometry[K, 3], source, d, kt)
    load_transposed(v, at(geometry, V, b, h, 0), geometry[V, 2], geometry[V, 3], source, dv_width, vt)
    dkt = np.zeros((width if dk.size > 0 else 0, padded), q.dtype)
    dvt = np.zeros((width if dv.size > 0 else 0, padded), q.dtype)
    qs, go, acc = np.empty(width, q.dtype), np.empty(width, q.dtype), np.empty(width, q.dtype)
    row, dp = np.empty(padded, q.dtype), np.empty(padded, q.dtype)
    task_bits = bits[task]
    floats = task_bits.view(q.dtype)
    for i in range(length):
        inverse, count = stats[1, task, i], limits[i]
        n = -(-count // LANES) * LANES
        if inverse == 0:  # a fully masked row: no gradient
            acc[:] = 0
        else:
            load_row(q, at(geometry, Q, b, h, i), geometry[Q, 3], d, alpha, qs)
            bias_row(row, bias, at(geometry, BIAS, b, h, i), geometry[BIAS, 3], count, n, log2e)
            row_times_matrix(qs, kt, n, width, row)
            softmax_row(row, count, n, stats[0, task, i], task_bits, floats)
            for j in range(n):
                row[j] *= inverse
            load_row(grad, at(geometry, GRAD, b, h, i), geometry[GRAD, 3], dv_width, one, go)
            start, stride, d_row = at(geometry, OUT, b, h, i), geometry[OUT, 3], q.dtype.type(0)
            for c in range(dv_width):
                d_row += go[c] * out[start + c * stride]
            probabilities_gradient(row, dp, go, d_row, keep, at(geometry, KEEP, b, h, i), geometry[KEEP, 3],
                                   count, n, width, vt, dvt)
            if dq.size > 0:
                matrix_times_row(kt, row, n, width, acc)
            if dk.size > 0:
                load_row(q, at(geometry, Q, b, h, i), geometry[Q, 3], d, one, qs)
                add_outer(row, qs, n, width, dkt)
        if dq.size > 0:
            start, stride = at(geometry, DQ, b, h, i), geometry[DQ, 3]
            for c in range(d):
                dq[start + c * stride] = acc[c] * scale
    store_transposed(dkt, scale, dk, at(geometry, DK, b, h, 0), geometry[DK, 2], geometry[DK, 3], source, d)
    store_transposed(dvt, one, dv, at(geometry, DV, b, h, 0), geometry[DV, 2], geometry[DV, 3], source,
                     dv_width)


_BUILT: dict = {}  # width -> (forward kernel, backward kernel)


def kernels(width: int) -> tuple:
    """(forward, backward) parallel kernels for the compiled head width ``width`` (:data:`WIDTHS`),
    compiled once per width (a closure: ``width`` is a constant to LLVM, which unrolls and
    vectorizes the loops over it) and cached on disk. Arguments: the flat arrays of
    :data:`TENSORS` (forward: q, k, v, bias, keep, out; backward: all ten; empty where absent),
    the (10, 4) ``geometry`` of their element strides, ``sizes`` = (N, H, L, S, d, dv), the key
    ``limits`` (L,) of each query row, ``alpha`` = scale log2(e), log2(e), (backward) ``scale``,
    ``bits`` (N H, S') integer scratch as wide as the dtype (S' = S rounded up to :data:`LANES`)
    and ``stats`` (2, N H, L): the rows' m and 1 / Z (0 and 0 for a fully masked row), written
    by the forward, read by the backward."""
    if width not in _BUILT:
        @njit(**_JIT)
        def attention_forward(q, k, v, bias, keep, out, geometry, sizes, limits, alpha, log2e, bits,
                              stats):  # pragma: no cover - compiled
            for task in prange(sizes[0] * sizes[1]):
                forward_task(task, q, k, v, bias, keep, out, geometry, sizes, limits, alpha, log2e, bits, stats,
                             width)

        @njit(**_JIT)
        def attention_backward(q, k, v, bias, keep, out, grad, dq, dk, dv, geometry, sizes, limits, alpha, log2e,
                               scale, bits, stats):  # pragma: no cover - compiled
            for task in prange(sizes[0] * sizes[1]):
                backward_task(task, q, k, v, bias, keep, out, grad, dq, dk, dv, geometry, sizes, limits, alpha,
                              log2e, scale, bits, stats, width)

        _BUILT[width] = attention_forward, attention_backward
    return _BUILT[width]



# ---------------------------------------------------------------------- what the node calls


def padded_width(d: int) -> int | None:
    """The compiled width (:data:`WIDTHS`) that holds head width ``d``, or None when none does."""
    return next((w for w in WIDTHS if w >= d), None)


def flat(a, shape: tuple):
    """(``a``'s memory as a 1-D view from its first element, its element strides (4,) once
    broadcast to the 4-D ``shape``); a copy is viewed where ``a`` is read-only or has negative
    strides. None gives an empty array and zero strides."""
    if a is None:
        return np.empty(0, dtype=np.float64), (0, 0, 0, 0)
    if not a.flags.writeable or any(s < 0 or s % a.itemsize for s in a.strides):
        a = a.copy()
    extent = 1 + sum((n - 1) * (s // a.itemsize) for n, s in zip(a.shape, a.strides)) if a.size else 0
    view = as_strided(a, (extent,), (a.itemsize,))
    return view, tuple(s // a.itemsize for s in np.broadcast_to(a, shape).strides)


def layout(arrays: tuple, shapes: tuple, dtype):
    """The flat views of ``arrays`` (:data:`TENSORS` order, None where absent) and the (10, 4)
    int64 ``geometry`` of their element strides."""
    views, geometry = [], np.zeros((len(TENSORS), 4), dtype=np.int64)
    for index, (a, shape) in enumerate(zip(arrays, shapes)):
        view, strides = flat(a, shape)
        views.append(view.astype(dtype, copy=False))
        geometry[index] = strides
    return views, geometry


def key_limits(bias, length: int, source: int):
    """(limits, bias): limits (L,) int64 is, for each query row, 1 + the last key that any
    broadcast slice of ``bias`` leaves live (not -inf) (S without a bias); the bias returned is
    None when it is exactly 0 before each row's limit and -inf from it on in every slice (a
    causal or right-padding mask: the limits alone apply it), else ``bias``."""
    if bias is None:
        return np.full(length, source, dtype=np.int64), None
    full = np.broadcast_to(bias, bias.shape[:-2] + (length, source))
    live = (full != -np.inf).reshape((-1, length, source)).any(axis=0)
    limits = np.where(live.any(axis=1), source - np.argmax(live[:, ::-1], axis=1), 0).astype(np.int64)
    if full.size <= PREFIX_CHECK * length * source:
        prefix = np.where(np.arange(source) < limits[:, None], bias.dtype.type(0), bias.dtype.type(-np.inf))
        if np.array_equal(full, np.broadcast_to(prefix, full.shape)):
            return limits, None
    return limits, bias


PREFIX_CHECK = 4  #: :func:`key_limits` looks for a prefix mask in biases of up to this many (L, S) slices


def shapes_of(q, k, v) -> tuple:
    """(N, H, L, S, d, dv) of 4-D q, k, v and the 4-D shapes of the :data:`TENSORS`."""
    n, h, length, d = q.shape
    source, dv = k.shape[2], v.shape[3]
    scores, out = (n, h, length, source), (n, h, length, dv)
    return (n, h, length, source, d, dv), (q.shape, k.shape, v.shape, scores, scores, out, out, q.shape, k.shape,
                                           v.shape)


def scratch(sizes: tuple, dtype):
    """The integer scratch of :func:`attention_forward` (N H, S rounded up to LANES)."""
    rows, padded = sizes[0] * sizes[1], -(-sizes[3] // LANES) * LANES
    return np.empty((rows, padded), dtype=np.int32 if np.dtype(dtype).char == "f" else np.int64)


def forward(q, k, v, bias, keep, scale: float, out, limits):
    """O of 4-D (N, H, ., .) views into the 4-D view ``out``; ``bias``, ``keep``: arrays
    broadcastable to (N, H, L, S), or None; ``limits`` and ``bias`` as :func:`key_limits` gives
    them (the bias None where the limits apply it). Returns the row statistics (2, N H, L), for
    :func:`backward`."""
    sizes, shapes = shapes_of(q, k, v)
    views, geometry = layout((q, k, v, bias, keep, out), shapes[:6], q.dtype)
    stats = np.empty((2, sizes[0] * sizes[1], sizes[2]), dtype=q.dtype)
    scalar = q.dtype.type
    with LOCK:
        kernels(padded_width(max(sizes[4], sizes[5])))[0](
            *views, geometry, np.array(sizes, dtype=np.int64), limits, scalar(scale * LOG2E), scalar(LOG2E),
            scratch(sizes, q.dtype), stats)
    return stats


def backward(arrays: tuple, grads: tuple, stats, limits, scale: float) -> None:
    """dQ, dK, dV into the 4-D views ``grads`` (None where not needed): ``arrays`` = (q, k, v,
    bias, keep, out, grad) as in :func:`forward` (out: O, grad: dO)."""
    q, k, v = arrays[:3]
    sizes, shapes = shapes_of(q, k, v)
    views, geometry = layout(arrays + grads, shapes, q.dtype)
    scalar = q.dtype.type
    with LOCK:
        kernels(padded_width(max(sizes[4], sizes[5])))[1](
            *views, geometry, np.array(sizes, dtype=np.int64), limits, scalar(scale * LOG2E), scalar(LOG2E),
            scalar(scale), scratch(sizes, q.dtype), stats)


LOG2E = 1.4426950408889634  #: log2(e)
