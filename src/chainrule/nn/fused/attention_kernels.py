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
copies of its K^T, V (backward: K^T, K, V^T) (a few tens of kB: they stay in the core's
caches; the next pair's rows are prefetched meanwhile, :func:`prefetch_rows`), :data:`BLOCK`
query rows at a time against the keys up to the block's largest ``limit`` (the number of keys
before the last one any mask leaves live: the causal triangle's masked keys are not visited;
each row's own limit masks the rest). Each product of a block is :func:`product` on register
tiles (4 rows x 16 columns of scalar sums, one zmm register each in float32: compiled with
LLVM's SLP vectorizer on, as :mod:`chainrule.nn.fused.direct_convolution`), on the scores
block A = B + Q K^T (Q scaled by scale log2(e): the exponential is exp2), then row by row its
max m_l, E = exp2(A - m), the sum Z_l, and O = (E (* M)) V / Z. The row statistics m_l and
1 / Z_l are kept for the backward, which recomputes P block by block (no (L, S) array is
stored): dP = G V^T, dA, dV^T += G^T (P * M), dQ = dA K, dK^T += Q^T dA (dK, dV of the pair
in scratch (d, S) arrays). A row whose keys are all masked gets O = 0 and no gradient (1 / Z
stored as 0 marks it), as PyTorch's ``scaled_dot_product_attention``.

exp2 is computed here and not by libm (numba has no vector math library: a scalar libm call per
score would cost more than the products): x = max(A - m, -E_min) is split as n + f with n =
floor(x), f in [0, 1), 2^f by its Chebyshev interpolant (degree 6 in float32, error 2.5e-9;
degree 11 in float64, 2.5e-15, relative) and 2^n by writing n + bias into the exponent field
of an integer scratch row read back as floats; n = -E_min (-127 or -1023) gives the float 0,
so masked scores (-inf) get exactly 0. Every loop is a plain loop over a contiguous row that
LLVM vectorizes (AVX-512 on the benchmark machine).

Measured (2-core Zen 4, one thread, CPU time, one GPT layer: N 32, H 4, L = S = 128, d 32,
causal, float32, packed QKV), the kernel alone: forward 11.1 -> 4.9 ms, backward 23.6 -> 10.9
ms against one query row at a time. Compiled once per dtype for every head width (the padded
width is a runtime argument: ~50 s per dtype, then cached; per width as a compile-time constant
it was ~32 s per width and dtype, eight compilations in the tests, and no faster: forward 5.33
against 5.43 ms, backward 13.74 against 12.45, medians of 40 interleaved, the same bits).

Rounding: the kernels are compiled with ``fastmath={"reassoc", "contract"}``: sums are
reassociated (vectorized) and multiply-adds fused (each product's sums are taken in order of
the inner index, fused), so results differ from the NumPy path by rounding (float32: ~1e-6
relative; float64: ~1e-14); they do not depend on the thread count (one pair, one thread). No
flag assumes finite values (-inf is a mask). Threads and the lock: as
:mod:`chainrule.nn.fused.numba_kernels` (this module imports it, which selects the
``workqueue`` layer, and holds its lock around each kernel).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import cgutils, types
from numba.extending import intrinsic, overload
from numpy.lib.stride_tricks import as_strided

from .direct_convolution import compile_vectorized
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
BLOCK = 4  #: query rows per block (the rows whose products share each load of K, V)
TILE = 4  #: rows of a register tile of :func:`product` (its columns: :data:`LANES`)
_ROW = {"cache": True, "error_model": "numpy", "inline": "always", "fastmath": {"reassoc", "contract"}}
_TILE_JIT = {"error_model": "numpy", "boundscheck": False, "fastmath": {"contract"}}


def product_source(rows: int = TILE, cols: int = LANES) -> str:
    """The source of ``product(a, b, count, inner, width, out)``: out[:count, :width] +=
    a[:count, :inner] b[:inner, :width] (count a multiple of ``rows``, width of ``cols``), a
    register tile of ``rows`` x ``cols`` scalar sums (``s{r}_{c}``) per (row, column) block.
    The block offsets are multiples of a counter from 0 (not ``range`` with a step): LLVM then
    knows they are not negative, drops numba's wraparound of negative indices and sees the
    columns' loads and stores as consecutive (else the SLP vectorizer leaves them scalar)."""
    sums = [[f"s{r}_{c}" for c in range(cols)] for r in range(rows)]
    lines = ["def product(a, b, count, inner, width, out):",
             f"    for i in range(count // {rows}):",
             f"        i0 = i * {rows}",
             f"        for j in range(width // {cols}):",
             f"            j0 = j * {cols}"]
    lines += [f"            {sums[r][c]} = out[i0 + {r}, j0 + {c}]" for r in range(rows) for c in range(cols)]
    lines += ["            for k in range(inner):"]
    lines += [f"                b{c} = b[k, j0 + {c}]" for c in range(cols)]
    lines += [f"                a{r} = a[i0 + {r}, k]" for r in range(rows)]
    lines += [f"                {sums[r][c]} += a{r} * b{c}" for r in range(rows) for c in range(cols)]
    lines += [f"            out[i0 + {r}, j0 + {c}] = {sums[r][c]}" for r in range(rows) for c in range(cols)]
    return "\n".join(lines) + "\n"


def product(a, b, count, inner, width, out):  # pragma: no cover - replaced by the overload below
    """out[:count, :width] += a[:count, :inner] b[:inner, :width] (:func:`product_source`)."""
    raise TypeError("product runs only inside compiled code")


_GENERATED: dict = {}  # the Python function of product_source (from exec), compiled into its callers
exec(compile(product_source(), f"<{__name__}: product>", "exec"), _GENERATED)  # noqa: S102


@overload(product, jit_options=_TILE_JIT)
def _product_overload(a, b, count, inner, width, out):
    return _GENERATED["product"]


@njit(**_ROW)
def load_matrix(flat, offset, row_stride, col_stride, rows, cols, out, transposed):  # pragma: no cover - compiled
    """out[j, c] (or out[c, j] when ``transposed``) = the element (j, c) of the (rows, cols) matrix
    at ``flat[offset]``; ``out`` is zero beyond."""
    out[:, :] = 0
    for j in range(rows):
        start = offset + j * row_stride
        if transposed:
            for c in range(cols):
                out[c, j] = flat[start + c * col_stride]
        elif col_stride == 1:  # the common layout: a vector loop
            for c in range(cols):
                out[j, c] = flat[start + c]
        else:
            for c in range(cols):
                out[j, c] = flat[start + c * col_stride]


@njit(**_ROW)
def at(geometry, tensor, b, h, i):  # pragma: no cover - compiled
    """The flat index of element (b, h, i, 0) of tensor number ``tensor`` (:data:`TENSORS`)."""
    return b * geometry[tensor, 0] + h * geometry[tensor, 1] + i * geometry[tensor, 2]


@njit(**_ROW)
def load_block(flat, geometry, tensor, b, h, i0, length, cols, factor, out):  # pragma: no cover - compiled
    """out[r, c] = element (b, h, i0 + r, c) of tensor ``tensor`` times ``factor`` for the rows
    before ``length`` and c < cols, 0 elsewhere."""
    out[:, :] = 0
    for r in range(min(out.shape[0], length - i0)):
        start, stride = at(geometry, tensor, b, h, i0 + r), geometry[tensor, 3]
        if stride == 1:  # the common layout: a vector loop
            for c in range(cols):
                out[r, c] = flat[start + c] * factor
        else:
            for c in range(cols):
                out[r, c] = flat[start + c * stride] * factor


@intrinsic
def prefetch(typingctx, array, index):
    """A hint to load the cache line of ``array[index]`` into the core's L2 (``llvm.prefetch``: no
    fault for any address)."""
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        pointer = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(function, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.void(array, index), codegen


@njit(**_ROW)
def prefetch_rows(flat, geometry, tensor, task, h_count, i0, length, rows, cols):  # pragma: no cover - compiled
    """Prefetches the rows of the (rows, cols) matrix of tensor ``tensor`` of (batch, head) pair
    ``task`` that match query rows [i0, i0 + BLOCK) of ``length`` (called block by block while
    the pair before it is computed: the caches' misses then overlap the work)."""
    if flat.size > 0:
        b, h, stride = task // h_count, task % h_count, geometry[tensor, 3]
        last = rows if i0 + BLOCK >= length else (i0 + BLOCK) * rows // length
        for j in range(i0 * rows // length, last):
            start = at(geometry, tensor, b, h, j)
            for c in range(0, cols, 64 // flat.itemsize):
                prefetch(flat, start + c * stride)
            prefetch(flat, start + (cols - 1) * stride)


@njit(**_ROW)
def store_block(block, factors, flat, geometry, tensor, b, h, i0, length, cols):  # pragma: no cover - compiled
    """Element (b, h, i0 + r, c) of tensor ``tensor`` = block[r, c] factors[r] for the rows before
    ``length`` and c < cols."""
    for r in range(min(block.shape[0], length - i0)):
        start, stride, factor = at(geometry, tensor, b, h, i0 + r), geometry[tensor, 3], factors[r]
        if stride == 1:  # the common layout: a vector loop
            for c in range(cols):
                flat[start + c] = block[r, c] * factor
        else:
            for c in range(cols):
                flat[start + c * stride] = block[r, c] * factor


@njit(**_ROW)
def block_limits(limits, i0, length, counts):  # pragma: no cover - compiled
    """counts[r] = the key limit of row i0 + r (0 past ``length``); returns the largest rounded up
    to :data:`LANES` (the keys the block visits)."""
    top = 0
    for r in range(counts.size):
        counts[r] = limits[i0 + r] if i0 + r < length else 0
        top = max(top, counts[r])
    return -(-top // LANES) * LANES


@njit(**_ROW)
def bias_rows(rows, bias, geometry, b, h, i0, counts, n, log2e):  # pragma: no cover - compiled
    """rows[r, :counts[r]] = the bias row i0 + r log2(e) (0 without a bias), 0 up to n."""
    rows[:, :n] = 0
    if bias.size > 0:
        for r in range(counts.size):
            start, stride = at(geometry, BIAS, b, h, i0 + r), geometry[BIAS, 3]
            for j in range(counts[r]):
                rows[r, j] = bias[start + j * stride] * log2e


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


#: the order of the tensors' rows in ``geometry`` (element strides along N, H, L and the last dim)
TENSORS = ("q", "k", "v", "bias", "keep", "out", "grad", "dq", "dk", "dv")
Q, K, V, BIAS, KEEP, OUT, GRAD, DQ, DK, DV = range(len(TENSORS))


@njit(**_ROW)
def forward_rows(task, rows, counts, n, i0, length, keep, geometry, b, h, bits, stats, inverses):  # pragma: no cover
    """The softmax of the block's score ``rows`` in place (times the keep mask; 0 for a dead row),
    their m and 1 / Z into ``stats`` and the 1 / Z of each row into ``inverses``."""
    minus_infinity, zero = rows.dtype.type(-np.inf), rows.dtype.type(0)
    task_bits = bits[task]
    floats = task_bits.view(rows.dtype)
    inverses[:] = 0
    for r in range(counts.size):
        row = rows[r]
        m, total = softmax_row(row, counts[r], n, minus_infinity, task_bits, floats)
        if m == minus_infinity:  # a fully masked row: O = 0
            row[:n] = 0
        else:
            inverses[r] = 1 / total
        if i0 + r < length:
            stats[0, task, i0 + r] = zero if m == minus_infinity else m
            stats[1, task, i0 + r] = inverses[r]
            if keep.size > 0:
                start, stride = at(geometry, KEEP, b, h, i0 + r), geometry[KEEP, 3]
                for j in range(counts[r]):
                    row[j] *= keep[start + j * stride]


@njit(**_ROW)
def forward_task(task, q, k, v, bias, keep, out, geometry, sizes, limits, alpha, log2e, bits, stats,
                 width):  # pragma: no cover - compiled
    """One (batch, head) pair of the forward kernel (:func:`attention_forward`)."""
    h_count, length, source, d, dv = sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]
    padded, wide = bits.shape[1], max(width, LANES)
    b, h = task // h_count, task % h_count
    kt, vm = np.empty((wide, padded), q.dtype), np.empty((padded, wide), q.dtype)
    load_matrix(k, at(geometry, K, b, h, 0), geometry[K, 2], geometry[K, 3], source, d, kt, True)
    load_matrix(v, at(geometry, V, b, h, 0), geometry[V, 2], geometry[V, 3], source, dv, vm, False)
    qs, acc = np.empty((BLOCK, wide), q.dtype), np.empty((BLOCK, wide), q.dtype)
    rows, counts, inverses = np.empty((BLOCK, padded), q.dtype), np.empty(BLOCK, np.int64), np.empty(BLOCK, q.dtype)
    for i0 in range(0, length, BLOCK):
        n = block_limits(limits, i0, length, counts)
        if task + 1 < sizes[0] * h_count:
            prefetch_rows(q, geometry, Q, task + 1, h_count, i0, length, length, d)
            prefetch_rows(k, geometry, K, task + 1, h_count, i0, length, source, d)
            prefetch_rows(v, geometry, V, task + 1, h_count, i0, length, source, dv)
        load_block(q, geometry, Q, b, h, i0, length, d, alpha, qs)
        bias_rows(rows, bias, geometry, b, h, i0, counts, n, log2e)
        product(qs, kt, BLOCK, d, n, rows)
        forward_rows(task, rows, counts, n, i0, length, keep, geometry, b, h, bits, stats, inverses)
        acc[:, :] = 0
        product(rows, vm, BLOCK, n, wide, acc)
        store_block(acc, inverses, out, geometry, OUT, b, h, i0, length, dv)


@njit(**_ROW)
def backward_rows(task, rows, counts, n, i0, length, bits, stats):  # pragma: no cover - compiled
    """P of the block's score ``rows`` in place from the forward's m and 1 / Z (0 for a dead row)."""
    task_bits = bits[task]
    floats = task_bits.view(rows.dtype)
    for r in range(counts.size):
        row = rows[r]
        inverse = stats[1, task, i0 + r] if i0 + r < length else rows.dtype.type(0)
        if inverse == 0:  # a fully masked row (or none): no gradient
            row[:n] = 0
        else:
            softmax_row(row, counts[r], n, stats[0, task, i0 + r], task_bits, floats)
            for j in range(n):
                row[j] *= inverse


@njit(**_ROW)
def score_gradient(rows, dp, go, out, keep, geometry, b, h, i0, counts, n, dv):  # pragma: no cover - compiled
    """Given P in ``rows`` and G V^T in ``dp``: dp = dA = P * ((G V^T) * M - D), rows = P * M."""
    for r in range(counts.size):
        start, stride, d_row = at(geometry, OUT, b, h, i0 + r), geometry[OUT, 3], rows.dtype.type(0)
        if counts[r] > 0:
            for c in range(dv):
                d_row += go[r, c] * out[start + c * stride]
        if keep.size > 0 and counts[r] > 0:
            start, stride = at(geometry, KEEP, b, h, i0 + r), geometry[KEEP, 3]
            for j in range(counts[r]):
                factor = keep[start + j * stride]
                dp[r, j] = rows[r, j] * (dp[r, j] * factor - d_row)
                rows[r, j] *= factor
            for j in range(counts[r], n):
                dp[r, j] = 0
        else:
            for j in range(n):
                dp[r, j] = rows[r, j] * (dp[r, j] - d_row)


@njit(**_ROW)
def transpose(matrix, out):  # pragma: no cover - compiled
    """out = matrix^T (both C-contiguous)."""
    for r in range(matrix.shape[0]):
        for c in range(matrix.shape[1]):
            out[c, r] = matrix[r, c]


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
    """One (batch, head) pair of the backward kernel (:func:`attention_backward`)."""
    h_count, length, source, d, dv_width = sizes[1], sizes[2], sizes[3], sizes[4], sizes[5]
    padded, wide, one = bits.shape[1], max(width, LANES), q.dtype.type(1)
    b, h = task // h_count, task % h_count
    kt, km, vt = np.empty((wide, padded), q.dtype), np.empty((padded, wide), q.dtype), np.empty((wide, padded), q.dtype)
    load_matrix(k, at(geometry, K, b, h, 0), geometry[K, 2], geometry[K, 3], source, d, kt, True)
    load_matrix(k, at(geometry, K, b, h, 0), geometry[K, 2], geometry[K, 3], source, d, km, False)
    load_matrix(v, at(geometry, V, b, h, 0), geometry[V, 2], geometry[V, 3], source, dv_width, vt, True)
    dkt, dvt = np.zeros((wide, padded), q.dtype), np.zeros((wide, padded), q.dtype)
    qs, go, acc = np.empty((BLOCK, wide), q.dtype), np.empty((BLOCK, wide), q.dtype), np.empty((BLOCK, wide), q.dtype)
    raw, qt, gt = np.empty((BLOCK, wide), q.dtype), np.empty((wide, BLOCK), q.dtype), np.empty((wide, BLOCK), q.dtype)
    rows, dp, counts = np.empty((BLOCK, padded), q.dtype), np.empty((BLOCK, padded), q.dtype), np.empty(BLOCK, np.int64)
    scales = np.full(BLOCK, scale)
    for i0 in range(0, length, BLOCK):
        n = block_limits(limits, i0, length, counts)
        if task + 1 < sizes[0] * h_count:
            for tensor, flat, extent, cols in ((Q, q, length, d), (K, k, source, d), (V, v, source, dv_width),
                                               (OUT, out, length, dv_width), (GRAD, grad, length, dv_width)):
                prefetch_rows(flat, geometry, tensor, task + 1, h_count, i0, length, extent, cols)
        load_block(q, geometry, Q, b, h, i0, length, d, one, raw)
        for r in range(BLOCK):
            for c in range(wide):
                qs[r, c] = raw[r, c] * alpha
        bias_rows(rows, bias, geometry, b, h, i0, counts, n, log2e)
        product(qs, kt, BLOCK, d, n, rows)
        backward_rows(task, rows, counts, n, i0, length, bits, stats)
        load_block(grad, geometry, GRAD, b, h, i0, length, dv_width, one, go)
        dp[:, :n] = 0
        product(go, vt, BLOCK, dv_width, n, dp)
        score_gradient(rows, dp, go, out, keep, geometry, b, h, i0, counts, n, dv_width)
        if dv.size > 0:
            transpose(go, gt)
            product(gt, rows, wide, BLOCK, n, dvt)
        if dq.size > 0:
            acc[:, :] = 0
            product(dp, km, BLOCK, n, wide, acc)
            store_block(acc, scales, dq, geometry, DQ, b, h, i0, length, d)
        if dk.size > 0:
            transpose(raw, qt)
            product(qt, dp, wide, BLOCK, n, dkt)
    store_transposed(dkt, scale, dk, at(geometry, DK, b, h, 0), geometry[DK, 2], geometry[DK, 3], source, d)
    store_transposed(dvt, one, dv, at(geometry, DV, b, h, 0), geometry[DV, 2], geometry[DV, 3], source,
                     dv_width)


@njit(**_JIT)
def attention_forward(q, k, v, bias, keep, out, geometry, sizes, limits, alpha, log2e, bits, stats,
                      width):  # pragma: no cover - compiled
    """The forward kernel over every (batch, head) pair, compiled once per dtype for every head
    width with LLVM's SLP vectorizer on (:func:`run`) and cached on disk. Arguments: the flat
    arrays of :data:`TENSORS` (q, k, v, bias, keep, out; empty where absent), the (10, 4)
    ``geometry`` of their element strides, ``sizes`` = (N, H, L, S, d, dv), the key ``limits``
    (L,) of each query row, ``alpha`` = scale log2(e), log2(e), ``bits`` (N H, S') integer
    scratch as wide as the dtype (S' = S rounded up to :data:`LANES`), ``stats`` (2, N H, L):
    the rows' m and 1 / Z (0 and 0 for a fully masked row), written here and read by the
    backward, and the padded head ``width`` (one of :data:`WIDTHS`)."""
    for task in prange(sizes[0] * sizes[1]):
        forward_task(task, q, k, v, bias, keep, out, geometry, sizes, limits, alpha, log2e, bits, stats, width)


@njit(**_JIT)
def attention_backward(q, k, v, bias, keep, out, grad, dq, dk, dv, geometry, sizes, limits, alpha, log2e,
                       scale, bits, stats, width):  # pragma: no cover - compiled
    """The backward kernel over every (batch, head) pair: the arguments of
    :func:`attention_forward` with all ten :data:`TENSORS` and ``scale``."""
    for task in prange(sizes[0] * sizes[1]):
        backward_task(task, q, k, v, bias, keep, out, grad, dq, dk, dv, geometry, sizes, limits, alpha,
                      log2e, scale, bits, stats, width)


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
    args = (*views, geometry, np.array(sizes, dtype=np.int64), limits, scalar(scale * LOG2E), scalar(LOG2E),
            scratch(sizes, q.dtype), stats, padded_width(max(sizes[4], sizes[5])))
    run(attention_forward, args)
    return stats


def backward(arrays: tuple, grads: tuple, stats, limits, scale: float) -> None:
    """dQ, dK, dV into the 4-D views ``grads`` (None where not needed): ``arrays`` = (q, k, v,
    bias, keep, out, grad) as in :func:`forward` (out: O, grad: dO)."""
    q, k, v = arrays[:3]
    sizes, shapes = shapes_of(q, k, v)
    views, geometry = layout(arrays + grads, shapes, q.dtype)
    scalar = q.dtype.type
    args = (*views, geometry, np.array(sizes, dtype=np.int64), limits, scalar(scale * LOG2E), scalar(LOG2E),
            scalar(scale), scratch(sizes, q.dtype), stats, padded_width(max(sizes[4], sizes[5])))
    run(attention_backward, args)


LOG2E = 1.4426950408889634  #: log2(e)
_READY: set = set()  # (kernel, argument kinds) compiled with the SLP vectorizer on


def run(kernel, args: tuple) -> None:
    """``kernel(*args)`` under the lock, compiled first with LLVM's SLP vectorizer on where it was
    not yet for these kinds of arguments (dtype, dims, contiguity: a cheap key; numba.typeof of
    every argument on every call would cost more than a small kernel)."""
    key = (id(kernel),) + tuple((a.dtype.char, a.ndim, a.flags.c_contiguous, a.flags.writeable)
                                if isinstance(a, np.ndarray) else type(a) for a in args)
    with LOCK:
        if key not in _READY:
            compile_vectorized(kernel, args)
            _READY.add(key)
        kernel(*args)
