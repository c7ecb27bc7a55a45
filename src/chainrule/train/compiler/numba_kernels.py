"""Compiled (numba) elementwise passes of a replayed step: the fused epilogues of the
buffered Linear [ReLU] chain (:mod:`.kernels`).

This module imports numba at the top, so it is the optional part: :mod:`.kernels` asks
:func:`chainrule.engine.compiled.kernels` for it and runs the NumPy twin of each pass when
numba is missing or ``CHAINRULE_NO_NUMBA=1``. Each loop does exactly its twin's arithmetic
per element (one float addition, one comparison, one multiplication by 0 or 1), so both give
the same bits; flags as in :mod:`chainrule.optim.numba_kernels` (no ``fastmath``, the numpy
error model, ``cache=True``). Arrays are 2-D and C-contiguous; ``b`` is 1-D.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_JIT)
def bias_relu(z, b, relu):  # pragma: no cover - compiled
    """z <- max(z + b, 0) (or z + b), row by row: ``add(z, b, out=z); maximum(z, 0, out=z)``."""
    rows, cols = z.shape
    for i in range(rows):
        for j in range(cols):
            v = z[i, j] + b[j]
            if relu and not v > 0 and v == v:  # NumPy's maximum(v, 0): +0.0 for -0.0, NaN kept
                v = 0.0
            z[i, j] = v


@njit(**_JIT)
def relu_mask(g, out, result):  # pragma: no cover - compiled
    """result <- g * (out > 0): ``multiply(g, greater(out, 0), out=result)``."""
    rows, cols = g.shape
    for i in range(rows):
        for j in range(cols):
            result[i, j] = g[i, j] * (1.0 if out[i, j] > 0 else 0.0)


@njit(**_JIT)
def relu_mask_sum(g, out, result, total):  # pragma: no cover - compiled
    """result <- g * (out > 0) as :func:`relu_mask`, and total <- its column sums in the same
    pass, in ``add.reduce(result, axis=0)``'s order for a C-contiguous result of two columns or
    more (the first row, then each next row added); a row of zeros when there are no rows."""
    rows, cols = g.shape
    if rows == 0:
        total[:] = 0
        return
    for j in range(cols):
        result[0, j] = g[0, j] * (1.0 if out[0, j] > 0 else 0.0)
        total[j] = result[0, j]
    for i in range(1, rows):
        for j in range(cols):
            result[i, j] = g[i, j] * (1.0 if out[i, j] > 0 else 0.0)
            total[j] += result[i, j]


@njit(**_JIT)
def column_sums(d, total):  # pragma: no cover - compiled
    """total <- ``add.reduce(d, axis=0)`` of a C-contiguous d of two columns or more, in its
    order (the first row, then each next row added); a row of zeros when there are no rows."""
    rows, cols = d.shape
    if rows == 0:
        total[:] = 0
        return
    for j in range(cols):
        total[j] = d[0, j]
    for i in range(1, rows):
        for j in range(cols):
            total[j] += d[i, j]


# ------------------------------------------------------------------ a whole small Linear [ReLU] chain
# One call per pass instead of one NumPy call per product and elementwise step (W2, W6): the
# products are BLAS calls through numba's ``np.dot``, chosen as NumPy's ``matmul`` chooses them
# (gemv where one side is a vector, else gemm), the reductions in NumPy's order, so the bits
# are eager's (tests/test_compile_fused.py).

#: NumPy's pairwise summation sums blocks of at most this many elements with eight running sums.
PAIRWISE_BLOCK = 128


@njit(**_JIT)
def block_sum(a):  # pragma: no cover - compiled
    """NumPy's ``add.reduce`` of the contiguous 1-D ``a`` of at most :data:`PAIRWISE_BLOCK`
    elements, to the bit (its pairwise summation's leaf: eight running sums, then the rest;
    longer arrays are split in halves, which :func:`chain_backward` leaves to NumPy, as a
    self-recursive kernel cannot be cached by numba)."""
    n = a.size
    if n < 8:
        s = a[0]
        for i in range(1, n):
            s += a[i]
        return s
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        s += a[i]
        i += 1
    return s


@njit(**_JIT)
def chain_forward(x, ws, bs, zs, relus):  # pragma: no cover - compiled
    """Every layer of a LinearChain with biases: z_i = h_{i-1} W_i^T (gemv when W_i has one
    row), z_i += b_i, z_i = max(z_i, 0) where ``relus[i]``; returns the last z."""
    h = x
    for i in range(len(ws)):
        w, b, z = ws[i], bs[i], zs[i]
        rows, cols = z.shape
        if cols == 1:
            np.dot(h, w[0], z.reshape(rows))
        else:
            np.dot(h, w.T, z)
        relu = relus[i]
        for r in range(rows):
            for j in range(cols):
                v = z[r, j] + b[j]
                if relu and not v > 0 and v == v:  # NumPy's maximum(v, 0): +0.0 for -0.0, NaN kept
                    v = 0.0
                z[r, j] = v
        h = z
    return h


@njit(**_JIT)
def chain_backward(grad, x, ws, zs, ms, ds, gws, gbs, relus, need_dx):  # pragma: no cover - compiled
    """The gradients of :func:`chain_forward`'s parameters from the output's ``grad``, layer L
    down to 1: D_i = G_i * [z_i > 0] (into ``ms[i]``) where layer i has a ReLU, dW_i = D_i^T
    h_{i-1} (into ``gws[i]``; gemv where a side is a vector), db_i = the column sums of D_i
    (into ``gbs[i]``, in NumPy's ``add.reduce(axis=0)`` order; left to the caller for a
    one-column D_i of more than :data:`PAIRWISE_BLOCK` rows), G_{i-1} = D_i W_i (into
    ``ds[i]``; the outer product when W_i has one row, as eager's ``times_weight``); G_0 = dx
    (into ``ds[0]``) only when ``need_dx``."""
    g = grad
    for i in range(len(ws) - 1, -1, -1):
        z = zs[i]
        rows, cols = z.shape
        d = g
        if relus[i]:
            d = ms[i]
            for r in range(rows):
                for j in range(cols):
                    d[r, j] = g[r, j] * (1.0 if z[r, j] > 0 else 0.0)
        h = x if i == 0 else zs[i - 1]
        gw = gws[i]
        if cols == 1:
            np.dot(d.reshape(rows), h, gw.reshape(gw.size))
        elif h.shape[1] == 1:
            np.dot(d.T, h.reshape(rows), gw.reshape(gw.size))
        else:
            np.dot(d.T, h, gw)
        gb = gbs[i]
        if cols == 1:
            if rows <= PAIRWISE_BLOCK:  # else the caller sums it (NumPy's recursive halves)
                gb[0] = block_sum(d.reshape(rows))
        else:
            for j in range(cols):
                gb[j] = d[0, j]
            for r in range(1, rows):
                for j in range(cols):
                    gb[j] += d[r, j]
        if i == 0 and not need_dx:
            break
        w, out = ws[i], ds[i]
        if cols == 1:
            for r in range(rows):
                for k in range(w.shape[1]):
                    out[r, k] = d[r, 0] * w[0, k]
        else:
            np.dot(d, w, out)
        g = out


# ------------------------------------------------------------------ softmax cross-entropy (plain case)
# The passes of :class:`.buffered.BufferedCrossEntropy` between NumPy's ``exp`` and ``log`` (which
# stay NumPy's calls: their SIMD routines are not the C library's, so a compiled exp would change
# bits): the row maxima and the shift, the row sums, the picked logits with the losses' sum, and
# the whole backward pass; each as the NumPy calls it replaces, element by element.

@njit(**_JIT)
def softmax_shift(z, shifted):  # pragma: no cover - compiled
    """shifted <- z - max(z, axis=1): ``maximum.reduce(z, axis=1, keepdims=True)`` (NaN wins)
    and ``subtract``; z has at least one column."""
    rows, cols = z.shape
    for r in range(rows):
        m = z[r, 0]
        for j in range(1, cols):
            v = z[r, j]
            if v > m or v != v:
                m = v
        for j in range(cols):
            shifted[r, j] = z[r, j] - m


@njit(**_JIT)
def row_sums(e, total):  # pragma: no cover - compiled
    """total[r, 0] <- ``add.reduce(e, axis=1)`` of rows of at most :data:`PAIRWISE_BLOCK` elements."""
    for r in range(e.shape[0]):
        total[r, 0] = block_sum(e[r])


@njit(**_JIT)
def picked_losses(log_total, shifted, t, losses, result, mean):  # pragma: no cover - compiled
    """losses <- log_total - shifted[r, t[r]], result[0] <- their sum (``losses.sum()``, at most
    :data:`PAIRWISE_BLOCK` rows), divided by result[1] when ``mean``; False (and nothing
    summed) when a target is outside [0, classes): the caller takes NumPy's path, which raises."""
    rows, classes = shifted.shape
    for r in range(rows):
        k = t[r]
        if k < 0 or k >= classes:
            return False
        losses[r] = log_total[r] - shifted[r, k]
    s = block_sum(losses)
    result[0] = s / result[1] if mean else s
    return True


@njit(**_JIT)
def cross_entropy_backward(exp, total, t, scale, quotient, dz):  # pragma: no cover - compiled
    """dz <- exp * (scale / total), then dz[r, t[r]] -= scale: ``true_divide``, ``multiply``
    and the take / subtract / put at the targets (checked by :func:`picked_losses`)."""
    rows, classes = exp.shape
    s = scale[0]
    for r in range(rows):
        q = s / total[r, 0]
        quotient[r, 0] = q
        for j in range(classes):
            dz[r, j] = exp[r, j] * q
        k = t[r]
        dz[r, k] = dz[r, k] - s
