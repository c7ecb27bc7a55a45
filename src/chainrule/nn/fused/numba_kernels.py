"""Compiled (numba) kernels of the deep-net fast paths: the passes NumPy runs on one core.

This module imports numba at its top, so it is itself the optional part: the fast paths ask
:func:`chainrule.engine.compiled.kernels` for it ("chainrule.nn.fused.numba_kernels") and get
None when numba is missing or ``CHAINRULE_NO_NUMBA=1``; they then run their plain-NumPy twin,
which stays the reference (tests/test_nn_numba_kernels.py checks each kernel against it in
float32 and, where it runs in float64, float64). The kernels are ``parallel=True`` loops
over independent rows, images or runs of a flat array (``prange``), on all cores, where
NumPy's elementwise passes and strided copies run on one.

* GELU (exact, ``approximate="none"``, float32): ``gelu`` writes y = a Phi(a) and Phi(a) =
  (1 + erf(a / sqrt 2)) / 2 in one pass, ``gelu_gradient`` dx = g (Phi(a) + a phi(a)),
  phi(a) = exp(-a^2 / 2) / sqrt(2 pi). The engine's op (NumPy, ``scipy.special.erf``) stays the
  textbook reference: 15 ns a float32 value on one core. The kernels evaluate each value in
  float64 and round once, branch-free, so that LLVM makes SIMD loops of them (8 float64 lanes of
  AVX-512 fused multiply-adds; numba has no vector libm, so a loop calling ``math.erf`` or
  ``math.exp`` stays scalar): erf(x) = x P(x^2) / Q(x^2) on |x| <= 3.92 and +-1 beyond, P and Q
  of degrees 6 and 5 fitted to scipy's erf (absolute error 1.4e-9; see ``_ERF_P``); exp(-a^2 / 2)
  = exp(-a^2 / 512)^256, a degree-8 polynomial in a^2 squared 8 times (relative error 1.3e-11).
  On 20M float32 values of [-10, 10] against the float64 formulas (2026-12-06): y within 0.53 ulp
  for a >= -1, 0.85 for a >= -2, 4.8 for a >= -3, 165 for a >= -4, then a growing share of the
  tiny Phi (absolute error 7e-10) until Phi = 0 below a = -5.54 (|y| < 8.3e-8 there); dy/da
  within 9e-8 absolute, 1.6 ulp outside its zero's neighbourhood (a = -0.75). torch's float32
  GELU: 5.5 ulp for a >= -1, 38 for a >= -2, 2200 for a >= -3, dy/da 2.9e-7; the float64-table
  kernel these replaced (bit-equal to the engine's op, which rounds erf and 1 + erf in float32):
  2.4, 12, 102 ulp and 1.4e-7. Special values: NaN gives NaN, +inf gives +inf (gradient 1),
  -inf gives -0 (gradient 0) where torch and the engine's op give NaN, and values near float32's
  largest stay finite (torch's overflow). One thread, 2M values (loaded machine, medians
  of 21 interleaved calls): forward 1.95 ms (the table kernel: 11.4; torch 1.2), backward 1.85 ms
  (5.3; torch 2.3).
* embedding's gradient (``add_rows_at``): total[i_p] += rows[p] for p in order, on one thread
  (rows may share an index). The same additions in the same order as ``numpy.add.at``, so the
  same bits: a GPT's (65, 128) table from 4,096 rows took 0.07 ms against 7.8 ms for
  ``numpy.add.at`` (one thread, 2026-12-06).
* attention's softmax: the bias, the column maxima and the shift in one pass
  (``shift_columns``; the exponential stays NumPy's), and the backward's (dP - D) E in one;
* layer norm: each row's statistics, normalization and affine map in one pass, and the input
  gradient in one;
* batch norm in training mode on channels-last (P, C) rows (:mod:`chainrule.nn.fused.batch_norm`,
  :mod:`chainrule.nn.fused.batch_norm_relu`): ``channel_moments`` reads each block of rows twice
  while it is in the cache (its mean, then its squared deviations, in float64) and
  :func:`batch_moments` merges the blocks by Chan, Golub and LeVeque's pairwise rule; then
  ``normalize_rows`` (x - mean) scale + beta [+ residual] [ReLU] in one pass, and backward
  ``normalize_backward_sums`` (sum D and sum D (x - mean), D the gradient through the ReLU's
  mask) and ``normalize_backward_rows`` (dx, and D itself as the residual's gradient). The
  elementwise passes do the NumPy twin's float operations in its order (equal to it bit for
  bit given the same statistics); the sums are float64 where the twin's are float32 BLAS sums.
  On one thread a 16-channel (128, 16, 32, 32) batch norm + residual + ReLU, forward and
  backward, took 11.7 ms against 16.3 for the twin as one node and 21-24 ms as three nodes.
* col2im on channels-last batches: ``scatter_windows`` sums each image's pixels from the
  windows that read them (the adjoint of im2col), in parallel over images (no two images share
  a pixel, so no write races). A compiled im2col gather was tried and removed (2026-12-06): on a
  quiet 2-core machine, two threads, Conv2d forward + backward at ResNet-20's stage shape took
  52.3 ms with it against 44.1 ms with NumPy's strided copies (medians of 15 interleaved steps);
  the window rows are copied by NumPy (:func:`chainrule.nn.im2col.copy_windows`).

Threads: numba's ``workqueue`` threading layer (set here unless ``NUMBA_THREADING_LAYER`` says
otherwise, before numba starts any thread pool). Its idle workers sleep, where the default
OpenMP layer's spin: on the 2-core machine shared with other processes, spinning OpenMP
workers beside OpenBLAS's own spinning workers made a convolution's forward + backward 4.4 s
against 1.35 s with ``workqueue`` (and 1.8 s without the kernels). ``workqueue`` must not run
two parallel loops at once, so the public functions below (the ones the layers call) hold
one lock around each kernel: concurrent callers take turns.

Flags: ``cache=True`` (the machine code is stored in ``__pycache__`` beside this file: compiling
every signature the benchmarks use took 9.5 s of CPU once per installation; each new process
still pays numba's import and the loading of the cached code on first use, about 0.5 s of
CPU; :mod:`chainrule.nn.kernel_choice` keeps small arrays from paying it), ``error_model="numpy"``
(no zero-division checks, which stop vectorization), no ``fastmath`` (no reassociation, no
fused multiply-adds: the same rounding as NumPy's operation-by-operation evaluation) except
``contract`` (fused multiply-adds, nothing else) in the GELU kernels, whose accuracy is stated
against the exact function rather than against NumPy's rounding.
"""
from __future__ import annotations

import math
import os
import threading

import numba
import numpy as np
from numba import njit, prange

if not os.environ.get("NUMBA_THREADING_LAYER"):
    numba.config.THREADING_LAYER = "workqueue"

_lock = threading.Lock()  # one parallel loop at a time (workqueue is not thread-safe)
LOCK = _lock  #: the same lock, for the other kernel modules of the fast paths (attention_kernels)

_JIT = {"cache": True, "error_model": "numpy", "nogil": True, "parallel": True}

# the GELU kernels and their inlined helpers: fused multiply-adds allowed, no other fastmath
_JIT_FMA = {"cache": True, "error_model": "numpy", "nogil": True, "parallel": True, "fastmath": {"contract"}}
_INLINE_FMA = {"cache": True, "error_model": "numpy", "inline": "always", "fastmath": {"contract"}}

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# erf(x) = x P(x^2) / Q(x^2) on [0, 3.92], highest coefficient first; beyond 3.92 float32 rounds
# erf to 1 (1 - erf(3.92) = 2.9e-8) and the kernel says 1. Fitted (2026-12-06) in float64 to
# scipy.special.erf on 40,002 points of [0, 3.92] (Chebyshev-spaced and uniform): the linearized
# least-squares fit x P - erf Q with Q(0) = 1, reweighted by 1 / Q (Sanathanan-Koerner, 60 steps),
# then by Lawson's rule towards the minimax (200 steps): benchmarks/fit_gelu_erf.py redoes it.
# Largest absolute error 1.4e-9 (relative 1.2e-8 near 0); Q has no zero on [0, 3.92] (Q >= 1).
_ERF_CLAMP = 3.92
_ERF_P = (-1.333760434651358e-08, 4.718125305558263e-06, 0.0003803824063613263, 0.0038323789330111948,
          0.054278502320059756, 0.18470033079865347, 1.1283791808186725)
_ERF_Q = (6.342205634514332e-05, 0.0013050439662274415, 0.015430986188688023, 0.11377547508381265,
          0.4970199349241639, 1.0)
# What the kernel evaluates, in a itself: erf(a / sqrt 2) / 2 = a P~(a^2) / Q~(a^2) on |a| <= 3.92 sqrt 2,
# P~(s) = P(s / 2) / (2 sqrt 2), Q~(s) = Q(s / 2) (a multiplication and the 1/2 saved per value).
_HALF_ERF_CLAMP = _ERF_CLAMP * math.sqrt(2.0)
_HALF_ERF_P = tuple(c / 2.0 ** (len(_ERF_P) - 1 - j) / (2.0 * math.sqrt(2.0)) for j, c in enumerate(_ERF_P))
_HALF_ERF_Q = tuple(c / 2.0 ** (len(_ERF_Q) - 1 - j) for j, c in enumerate(_ERF_Q))


def _exp_series():
    """exp(-s / 512) on s in [0, 256] as a power series in s (highest first): the degree-8
    Chebyshev interpolant on [0, 256], re-expanded (relative error 5e-14, 1.3e-11 after the
    kernel's 8 squarings)."""
    interpolant = np.polynomial.Chebyshev.interpolate(lambda s: np.exp(-s / 512.0), 8, domain=[0.0, 256.0])
    return tuple(float(c) for c in interpolant.convert(kind=np.polynomial.Polynomial).coef[::-1])


_EXP_SERIES = _exp_series()
_PHI_CLAMP = 16.0  # beyond, a phi(a) < 1e-54 rounds to 0 in float32


@njit(**_INLINE_FMA)
def _horner(coefficients, u):  # pragma: no cover - compiled
    p = 0.0
    for c in coefficients:
        p = p * u + c
    return p


@njit(**_INLINE_FMA)
def _normal_cdf(a):  # pragma: no cover - compiled
    """Phi(a) = 1/2 + erf(a / sqrt 2) / 2 for a float64 a, branch-free: the rational erf above
    (|a| clamped to 3.92 sqrt 2, then erf = +-1 there; NaN stays NaN)."""
    magnitude = abs(a)
    t = _HALF_ERF_CLAMP if magnitude > _HALF_ERF_CLAMP else magnitude
    s = t * t
    half_erf = t * _horner(_HALF_ERF_P, s) / _horner(_HALF_ERF_Q, s)
    half_erf = 0.5 if magnitude >= _HALF_ERF_CLAMP else half_erf
    return 0.5 + math.copysign(half_erf, a)


@njit(**_INLINE_FMA)
def _gelu_slope(a, cdf):  # pragma: no cover - compiled
    """Phi(a) + a phi(a), phi(a) = exp(-a^2 / 2) / sqrt(2 pi), for float64 a and Phi(a) = cdf,
    branch-free: |a| clamped to 16, exp(-a^2 / 2) = exp(-a^2 / 512)^256 (a polynomial in a^2,
    squared 8 times; relative error 1.3e-11)."""
    w = _PHI_CLAMP if a > _PHI_CLAMP else a
    w = -_PHI_CLAMP if w < -_PHI_CLAMP else w
    p = _horner(_EXP_SERIES, w * w)
    for _ in range(8):
        p = p * p
    return cdf + (w * _INV_SQRT_2PI) * p


@njit(**_JIT_FMA)
def gelu_forward_float32(a, out, cdf):  # pragma: no cover - compiled
    """out = a Phi(a), cdf = Phi(a) on flat float32 arrays, evaluated in float64 and rounded
    once; -inf gives -0 (a is clamped to the float32 range, Phi = 0 there)."""
    for i in prange(a.shape[0]):
        v = np.float64(a[i])
        c = _normal_cdf(v)
        cdf[i] = np.float32(c)
        out[i] = np.float32((-_FLOAT32_MAX if v < -_FLOAT32_MAX else v) * c)


@njit(**_JIT_FMA)
def gelu_backward(grad, a, cdf, out):  # pragma: no cover - compiled
    """out = grad (cdf + a phi(a)) on flat float32 arrays, evaluated in float64 and rounded once."""
    for i in prange(a.shape[0]):
        out[i] = np.float32(np.float64(grad[i]) * _gelu_slope(np.float64(a[i]), np.float64(cdf[i])))


@njit(**_JIT)
def scatter_windows(cols, out, kernel, stride, dilation, grid, offset):  # pragma: no cover - compiled
    """col2im, channels-last, the adjoint of the im2col window copy
    (:func:`chainrule.nn.im2col.copy_windows`): out (N, H, W, C) =
    the sum over the windows of each pixel's entries of ``cols`` (N oh ow, kh kw C); parallel
    over the images (no two share a pixel), each summed in the NumPy twin's tap order."""
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    oh, ow = grid
    th, tw = offset
    height, width, channels = out.shape[1], out.shape[2], out.shape[3]
    for n in prange(out.shape[0]):
        out[n] = 0
        for i in range(kh):
            for j in range(kw):
                column = (i * kw + j) * channels
                for a in range(oh):
                    y = a * sh + i * dh - th
                    if not 0 <= y < height:
                        continue
                    for b in range(ow):
                        z = b * sw + j * dw - tw
                        if 0 <= z < width:
                            row = (n * oh + a) * ow + b
                            for c in range(channels):
                                out[n, y, z, c] += cols[row, column + c]


@njit(**_JIT)
def shift_columns(scores, bias, log2e, dead):  # pragma: no cover - compiled
    """The passes of attention's softmax before its exponential, down the columns of each
    (S, L) matrix of ``scores`` (P, Q, S, L), in place and in base-2 units: A = scores (+ bias
    log2e when ``bias`` has any elements; it is (P, Q, S, L) with any strides, ``log2e`` in the
    scores' dtype), then A - max_s A. With a bias, a column whose scores are all -inf is left
    -inf (its max taken as 0) and marked in ``dead`` (P, Q, 1, L), as the NumPy twin
    (``attention.attention_weights``) does. The exponential stays NumPy's ``exp2``, whose SIMD
    loop is several times faster than a compiled scalar one. Parallel over the P Q matrices;
    each pass runs along the contiguous rows of L queries."""
    p_count, q_count, keys, queries = scores.shape
    with_bias = bias.size > 0
    for task in prange(p_count * q_count):
        p, q = task // q_count, task % q_count
        top = np.full(queries, -np.inf, dtype=scores.dtype)
        for s in range(keys):
            for col in range(queries):
                v = scores[p, q, s, col]
                if with_bias:
                    v += bias[p, q, s, col] * log2e
                    scores[p, q, s, col] = v
                if v > top[col]:
                    top[col] = v
        for col in range(queries):
            dead[p, q, 0, col] = with_bias and top[col] == -np.inf
            if dead[p, q, 0, col]:
                top[col] = 0
        for s in range(keys):
            for col in range(queries):
                scores[p, q, s, col] -= top[col]


@njit(**_JIT)
def softmax_columns_backward(d_scores, rows, exps):  # pragma: no cover - compiled
    """dA^T = (d_scores - rows) * E in place on (P, Q, S, L) arrays, ``rows`` (P, Q, L)."""
    p_count, q_count, keys, queries = d_scores.shape
    for task in prange(p_count * q_count):
        p, q = task // q_count, task % q_count
        for s in range(keys):
            for col in range(queries):
                d_scores[p, q, s, col] = (d_scores[p, q, s, col] - rows[p, q, col]) * exps[p, q, s, col]


@njit(**_JIT)
def layer_norm_rows(x, weight, bias, scale, eps, one, xhat, rstd, out):  # pragma: no cover - compiled
    """Per row r of x (M, K): mu, s^2 = the mean and biased variance, rstd_r = 1 / sqrt(s^2 +
    eps), xhat = (x - mu) rstd_r, out = xhat weight + bias (either may be empty: left out);
    ``scale`` = 1 / K, ``eps`` and ``one`` in x's dtype; parallel over the rows (each row's
    passes run while it is in the cache)."""
    rows, count = x.shape
    with_weight, with_bias = weight.size > 0, bias.size > 0
    for r in prange(rows):
        total = one - one
        for c in range(count):
            total += x[r, c]
        mean = total * scale
        squares = one - one
        for c in range(count):
            centred = x[r, c] - mean
            xhat[r, c] = centred
            squares += centred * centred
        inv = one / math.sqrt(squares * scale + eps)
        rstd[r] = inv
        for c in range(count):
            y = xhat[r, c] * inv
            xhat[r, c] = y
            if with_weight:
                y = y * weight[c]
            if with_bias:
                y = y + bias[c]
            out[r, c] = y


@njit(**_JIT)
def layer_norm_rows_backward(grad, weight, xhat, rstd, scale, out):  # pragma: no cover - compiled
    """dx_r = rstd_r (D - mean(D) - xhat mean(D xhat)) per row, D = grad weight (grad itself when
    ``weight`` is empty), ``scale`` = 1 / K in grad's dtype; parallel over the rows."""
    rows, count = grad.shape
    with_weight = weight.size > 0
    for r in prange(rows):
        total = scale - scale
        projection = scale - scale
        for c in range(count):
            d = grad[r, c] * weight[c] if with_weight else grad[r, c]
            out[r, c] = d
            total += d
            projection += d * xhat[r, c]
        mean, projection = total * scale, projection * scale
        inv = rstd[r]
        for c in range(count):
            out[r, c] = (out[r, c] - mean - xhat[r, c] * projection) * inv


@njit(**_JIT)
def channel_moments(rows, block, counts, means, squares):  # pragma: no cover - compiled
    """Per block k of ``block`` rows of ``rows`` (P, C) and per channel c: the count, the mean
    and the sum of squared deviations from that block's mean (float64), for Chan et al.'s
    pairwise merge (:func:`batch_moments`); parallel over the blocks, each read twice while
    it is in the cache (one pass over memory for the mean and the variance)."""
    total, channels = rows.shape
    for k in prange(counts.shape[0]):
        start = k * block
        stop = min(start + block, total)
        count = stop - start
        counts[k] = count
        for r in range(start, stop):
            for c in range(channels):
                means[k, c] += rows[r, c]
        for c in range(channels):
            means[k, c] /= count
        for r in range(start, stop):
            for c in range(channels):
                d = rows[r, c] - means[k, c]
                squares[k, c] += d * d


@njit(**_JIT)
def normalize_rows(rows, mean, scale, beta, residual, relu, zero, out):  # pragma: no cover - compiled
    """out = (rows - mean) scale + beta [+ residual] [then max(., 0)] on (P, C) rows, per-channel
    vectors (C,) in the rows' dtype (``beta``, ``residual`` empty when absent), in the NumPy
    twin's order of operations (so equal to it bit for bit); parallel over the rows."""
    total, channels = rows.shape
    with_beta, with_residual = beta.size > 0, residual.size > 0
    for r in prange(total):
        for c in range(channels):
            v = (rows[r, c] - mean[c]) * scale[c]
            if with_beta:
                v = v + beta[c]
            if with_residual:
                v = v + residual[r, c]
            if relu and v < 0:  # NaN stays NaN, as np.maximum(v, 0)
                v = zero
            out[r, c] = v


@njit(**_JIT)
def normalize_backward_sums(grad, rows, out, mean, relu, one, block, sums, dots):  # pragma: no cover - compiled
    """Per block k of ``block`` rows and per channel (float64): sums[k] = sum dz and dots[k] =
    sum dz (rows - mean), dz = grad, or grad where out > 0 when ``relu``; parallel over blocks."""
    total, channels = rows.shape
    for k in prange(sums.shape[0]):
        for r in range(k * block, min(k * block + block, total)):
            for c in range(channels):
                d = grad[r, c]
                if relu:  # grad (out > 0), as NumPy multiplies by the mask
                    d = d * (one if out[r, c] > 0 else one - one)
                sums[k, c] += d
                dots[k, c] += d * (rows[r, c] - mean[c])


@njit(**_JIT)
def normalize_backward_rows(grad, rows, out, mean, k1, k2, k3, relu, one, dx, dz):  # pragma: no cover - compiled
    """dx = dz k1 + (rows - mean) k2 + k3 (the NumPy twin's order), dz as in
    :func:`normalize_backward_sums`, written to ``dz`` too when it has elements (the residual's
    gradient); parallel over the rows."""
    total, channels = rows.shape
    with_dz = dz.size > 0
    for r in prange(total):
        for c in range(channels):
            d = grad[r, c]
            if relu:
                d = d * (one if out[r, c] > 0 else one - one)
            if with_dz:
                dz[r, c] = d
            dx[r, c] = d * k1[c] + (rows[r, c] - mean[c]) * k2[c] + k3[c]


@njit(cache=True, error_model="numpy", nogil=True)
def add_rows_at(total, indices, rows):  # pragma: no cover - compiled
    """total[indices[p]] += rows[p] for p = 0, 1, ... in order (``numpy.add.at``'s order): one
    thread, no prange (two rows may add into one row of ``total``)."""
    for p in range(indices.shape[0]):
        target = indices[p]
        for c in range(rows.shape[1]):
            total[target, c] += rows[p, c]


# ---------------------------------------------------------------------- what the layers call


def gelu(a, out, cdf) -> None:
    """out = a Phi(a), cdf = Phi(a) on flat float32 arrays."""
    with _lock:
        gelu_forward_float32(a, out, cdf)


def gelu_gradient(grad, a, cdf, out) -> None:
    """out = grad (cdf + a phi(a)) on flat float32 arrays."""
    with _lock:
        gelu_backward(grad, a, cdf, out)


def add_rows(total, indices, rows) -> None:
    """:func:`add_rows_at`: ``numpy.add.at(total, indices, rows)`` for a 2-D ``total`` and
    ``rows`` of one dtype and 1-D integer ``indices`` (one per row)."""
    add_rows_at(total, indices, rows)


def scatter(cols, image, geometry: tuple) -> None:
    """:func:`scatter_windows` with ``geometry`` = (kernel, stride, dilation, grid, offset)."""
    with _lock:
        scatter_windows(cols, image, *geometry)


def softmax_shift(scores, bias, log2e: float, dead) -> None:
    """:func:`shift_columns` on 4-D arrays (``bias`` an empty array when there is none)."""
    with _lock:
        shift_columns(scores, bias, scores.dtype.type(log2e), dead)


def softmax_backward(d_scores, rows, exps) -> None:
    """:func:`softmax_columns_backward` on 4-D arrays."""
    with _lock:
        softmax_columns_backward(d_scores, rows, exps)


def layer_norm(x, weight, bias, eps: float, xhat, rstd, out) -> None:
    """:func:`layer_norm_rows` (``weight``, ``bias``: (K,) or empty arrays of x's dtype; K > 0)."""
    scalar = x.dtype.type
    with _lock:
        layer_norm_rows(x, weight, bias, scalar(1.0 / x.shape[1]), scalar(eps), scalar(1), xhat, rstd, out)


def layer_norm_backward(grad, weight, xhat, rstd, out) -> None:
    """:func:`layer_norm_rows_backward` (K > 0)."""
    with _lock:
        layer_norm_rows_backward(grad, weight, xhat, rstd, grad.dtype.type(1.0 / grad.shape[1]), out)


MOMENT_BLOCK = 512  #: rows per block of the batch-norm reductions


def _blocks(rows) -> int:
    return max(1, -(-rows.shape[0] // MOMENT_BLOCK))


def batch_moments(rows):
    """The per-channel mean and biased variance (float64, (C,)) of ``rows`` (P, C), P > 0:
    :func:`channel_moments` per block, merged by Chan, Golub and LeVeque's pairwise rule
    (M2 = sum_k M2_k + n_k (mean_k - mean)^2)."""
    blocks, channels = _blocks(rows), rows.shape[1]
    counts = np.empty(blocks)
    means, squares = np.zeros((blocks, channels)), np.zeros((blocks, channels))
    with _lock:
        channel_moments(rows, MOMENT_BLOCK, counts, means, squares)
    mean = counts @ means / rows.shape[0]
    spread = means - mean
    return mean, (squares.sum(axis=0) + counts @ (spread * spread)) / rows.shape[0]


def normalize(rows, mean, scale, beta, residual, relu: bool, out) -> None:
    """:func:`normalize_rows` (``beta``, ``residual``: empty arrays when absent)."""
    with _lock:
        normalize_rows(rows, mean, scale, beta, residual, relu, rows.dtype.type(0), out)


def normalize_backward(grad, rows, out, mean, relu: bool):
    """(sum dz, sum dz (rows - mean)) per channel, float64: :func:`normalize_backward_sums`."""
    blocks, channels = _blocks(rows), rows.shape[1]
    sums, dots = np.zeros((blocks, channels)), np.zeros((blocks, channels))
    with _lock:
        normalize_backward_sums(grad, rows, out, mean, relu, grad.dtype.type(1), MOMENT_BLOCK, sums, dots)
    return sums.sum(axis=0), dots.sum(axis=0)


def normalize_gradient(grad, rows, out, mean, coefficients, relu: bool, dx, dz) -> None:
    """:func:`normalize_backward_rows` with ``coefficients`` = (k1, k2, k3)."""
    with _lock:
        normalize_backward_rows(grad, rows, out, mean, *coefficients, relu, grad.dtype.type(1), dx, dz)
