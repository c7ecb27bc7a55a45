"""Scaled dot-product attention as one graph node: batched matmuls around a fused, stable softmax.

For queries Q (…, L, E), keys K (…, S, E), values V (…, S, Ev), an additive bias B (the float
mask, -inf where a key is masked out; broadcast to (…, L, S)) and an optional dropout keep
mask M (0 or 1 / (1 - p)):

    A = Q K^T * scale + B,   P = softmax(A) along the keys,   O = (P * M) V

Backward, G = dO, with the row sums D_l = sum_d G_ld O_ld (the identity sum_j dP_lj P_lj = D_l,
FlashAttention-2's, so no (L, S) reduction is needed):

    dV = (P * M)^T G,   dP = (G V^T) * M,   dA = P * (dP - D),
    dQ = dA K * scale,  dK = dA^T Q * scale,  dB = dA (summed over broadcast dims by the engine)

How it runs on arrays (NumPy, float32 stays float32):

* the scores are computed transposed, A^T = K Q^T (…, S, L), in base-2 units: Q is scaled by
  scale * log2(e) first (a pass over (L, E), not (L, S)), so the softmax's exponential is
  ``exp2``, and its max and sum run down the columns (``max(axis=-2)``, a ones-vector
  matmul), which NumPy vectorizes across the L queries instead of reducing short rows;
* the softmax is never normalized in place: with E = exp2(A - max) and inv = 1 / sum(E),
  O = (E^T V) * inv, and the backward folds inv into G (G' = G * inv: then dV = E^T G',
  dA = E * (V G'^T - D'), D' = rowsum(G' O)), so each (L, S) array is touched by one matmul
  write, the max, one exp2 pass, a ones-vector matmul and the matmul that reads it, and in
  backward by one matmul write, two passes and three matmul reads;
* rows whose keys are all masked give 0 (not NaN) and get no gradient, as PyTorch's
  ``scaled_dot_product_attention``;
* the matmuls read strided views: :class:`MultiheadAttentionCore` takes the projections
  in token-major layout ((N, L, H * d), or (L, N, H * d) sequence-first, or the packed
  (…, 3 E) self-attention projection), views them as (N, H, L, d) without copying, writes O
  straight into the (N, L, H * d) layout the output projection reads, and writes dQ, dK, dV
  straight into one gradient buffer of the packed projection's shape.

With numba (host float32 / float64 arrays of at most 4 dims, head widths up to 128, a
causal-like mask, :func:`attention_kernels`), the forward and backward run instead as one compiled kernel each
(:mod:`.attention_kernels`: no BLAS call, no (L, S) array; one (batch, head) pair per thread,
the keys past a causal or right-padding mask's limit never visited, P recomputed in backward
from the rows' max and 1 / sum), reading and writing the same strided layouts. A bias that
needs a gradient (a learned float mask) takes the NumPy backward (its forward's
intermediates recomputed): the kernel does not form dB = dA.

Reference composition (tests/test_nn_attention.py): ``softmax(Q K^T * scale + B) * M @ V``
with the reference ops matmul, mul, add, softmax (and ``where`` for fully masked rows);
second derivatives differentiate it (:mod:`.composed`). No loop over batch or heads: every
step is one NumPy call on the whole (N, H, …) stack.
"""
from __future__ import annotations

import math

from ...engine import backend, ops, recycled
from ...engine.autograd import Function
from ..kernel_choice import kernels_for
from .composed import ComposedBackward, constant

__all__ = ["ScaledDotProductAttention", "MultiheadAttentionCore", "LOG2E", "stacked_matmul"]

#: log2(e): exp(x) = exp2(x * log2(e)); NumPy's float32 exp2 runs about twice as fast as exp.
LOG2E = 1.0 / math.log(2.0)

#: OpenBLAS runs a product with M N K at most this on the calling thread, larger ones on its
#: thread pool (interface/gemm.c: SMP_THRESHOLD_MIN 65536 x GEMM_MULTITHREAD_THRESHOLD 4).
ONE_THREAD_WORK = 1 << 18

ATTENTION_KERNELS = "chainrule.nn.fused.attention_kernels"  #: the compiled attention (forward and backward)


def stacked_matmul(xp, a, b, out=None):
    """a @ b for stacks of small matrices, the rows of each product cut into blocks small
    enough (M N K <= :data:`ONE_THREAD_WORK`) that OpenBLAS computes each on the calling thread.

    NumPy multiplies a stack one matrix at a time; with two BLAS threads each of those small
    products (128 x 128 x 32 for the heads of a transformer batch) pays a hand-off to the
    worker thread that costs more than the work it shares: measured on the 2-core benchmark
    machine, the 128 score products of a (32, 4, 128, 32) batch took 13 ms with two threads
    against 2 ms with one, and 2.3 ms cut into two 64-row blocks. Products well above the
    threshold (where two threads pay) and single matrices go to matmul as they are."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    work = m * n * k
    if out is None and xp is backend.host:  # a large result comes from engine.recycled
        out = recycled.empty(xp, xp.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (m, n), xp.result_type(a, b))
    if xp is not backend.host or a.ndim < 3 or not ONE_THREAD_WORK < work <= 16 * ONE_THREAD_WORK:
        return xp.matmul(a, b) if out is None else xp.matmul(a, b, out=out)
    rows = max(1, ONE_THREAD_WORK // (n * k))
    for start in range(0, m, rows):
        xp.matmul(a[..., start:start + rows, :], b, out=out[..., start:start + rows, :])
    return out


class ScaledDotProductAttention(ComposedBackward, Function):
    """softmax(Q K^T * scale + B) V on (…, L, E), (…, S, E), (…, S, Ev) inputs (and an
    optional float bias B as a fourth input); the output is (…, L, Ev)."""

    op = "scaled_dot_product_attention"
    saves_output = True  # dQ and dK need O (through D = rowsum(dO * O))
    packed = False

    def forward(self, *arrays, scale, keep=None, **layout):
        self.configure(arrays, layout)
        self.scale, self.keep, self.has_bias = scale, keep, len(arrays) == self.inputs + 1
        q, k, v = self.split_inputs(arrays)
        bias = arrays[-1] if self.has_bias else None
        xp = backend.namespace_of(q)
        self.q, self.k, self.v, self.bias = q, k, v, bias
        choice = attention_kernels(q, k, v, bias, keep)
        self.kernels = None if choice is None else choice[0]
        if choice is not None:
            return self.compiled_forward(xp, *choice[1:])
        exps, inv, self.dead = attention_weights(xp, q, k, bias, scale)
        weights = exps if keep is None else exps * xp.swapaxes(keep, -1, -2)
        result, out = self.output_buffer(xp, q, v)
        stacked_matmul(xp, xp.swapaxes(weights, -1, -2), v, out)
        out *= xp.swapaxes(inv, -1, -2)
        self.exps, self.weights, self.inv, self.out = exps, weights, inv, out
        return result

    def compiled_forward(self, xp, limits, kernel_bias):
        """O by the compiled kernel (:mod:`.attention_kernels`) with the key ``limits`` and the bias
        it reads (:func:`attention_kernels`); keeps the row statistics."""
        result, out = self.output_buffer(xp, self.q, self.v)
        self.limits, self.kernel_bias = limits, kernel_bias
        arrays = (self.q, self.k, self.v, kernel_bias, self.keep)
        q, k, v, bias, keep = (None if a is None else as_4d(a) for a in arrays)
        self.stats = self.kernels.forward(q, k, v, bias, keep, self.scale, as_4d(out), limits)
        inv = self.stats[1].reshape(self.q.shape[:-1] + (1,))
        self.out, self.dead = out, (None if self.bias is None or inv.all() else inv == 0)
        return result

    def compiled_backward(self, xp, grad):
        """dQ, dK, dV by the compiled kernel, P recomputed from the forward's row statistics."""
        returned, grads = self.gradient_buffers(xp)
        arrays = (self.q, self.k, self.v, self.kernel_bias, self.keep, self.out, self.split_gradient(grad))
        self.kernels.backward(tuple(None if a is None else as_4d(a) for a in arrays),
                              tuple(None if a is None else as_4d(a) for a in grads), self.stats, self.limits,
                              self.scale)
        return returned + ((None,) if self.has_bias else ())

    # ------------------------------------------------------------------ layout hooks

    inputs = 3

    def configure(self, arrays, layout):
        """Keep what the layout hooks need (nothing here: inputs are (…, L, E) already)."""

    def split_inputs(self, arrays):
        return arrays[0], arrays[1], arrays[2]

    def output_buffer(self, xp, q, v):
        """(the array the node returns, its view of shape (…, L, Ev) that O is written into)."""
        out = recycled.empty(xp, q.shape[:-1] + v.shape[-1:], q.dtype)
        return out, out

    def gradient_buffers(self, xp):
        """(the arrays returned for the inputs, views (…, L, E) for dQ, dK, dV in them)."""
        grads = tuple(recycled.empty_like(xp, a) if needed else None
                      for a, needed in zip((self.q, self.k, self.v), self.needs_input_grad))
        return grads, grads

    def split_gradient(self, grad):
        return grad

    def split_tensors(self, tensors):
        return tensors[0], tensors[1], tensors[2]

    def merge_tensor(self, out):
        return out

    # ------------------------------------------------------------------ backward

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        needs = self.needs_input_grad
        if self.kernels is not None:
            if not (self.has_bias and needs[-1]):
                return self.compiled_backward(xp, grad)
            # the bias's gradient dA (…, L, S): the NumPy path, from its forward's intermediates
            self.exps, self.inv, _ = attention_weights(xp, self.q, self.k, self.bias, self.scale)
            self.weights = self.exps if self.keep is None else self.exps * xp.swapaxes(self.keep, -1, -2)
        returned, (dq, dk, dv) = self.gradient_buffers(xp)
        scaled = self.split_gradient(grad) * xp.swapaxes(self.inv, -1, -2)  # G' = G * inv
        if dv is not None:
            stacked_matmul(xp, self.weights, scaled, dv)
        if dq is None and dk is None and not (self.has_bias and needs[-1]):
            return returned + ((None,) if self.has_bias else ())
        d_scores = stacked_matmul(xp, self.v, xp.swapaxes(scaled, -1, -2))  # (…, S, L)
        if self.keep is not None:
            d_scores *= xp.swapaxes(self.keep, -1, -2)
        rows = xp.einsum("...ld,...ld->...l", scaled, self.out)
        kernels = softmax_kernels(d_scores) if d_scores.shape == self.exps.shape else None
        if kernels is not None:
            kernels.softmax_backward(as_4d(d_scores), rows.reshape(as_4d(d_scores).shape[:2] + rows.shape[-1:]),
                                     as_4d(self.exps))
        else:
            d_scores -= rows[..., None, :]
            d_scores *= self.exps  # dA^T, in natural units
        if dq is not None:
            stacked_matmul(xp, xp.swapaxes(d_scores, -1, -2), self.k, dq)
            dq *= self.scale
        if dk is not None:
            stacked_matmul(xp, d_scores, self.q, dk)
            dk *= self.scale
        if self.has_bias:
            return returned + ((xp.swapaxes(d_scores, -1, -2) if needs[-1] else None),)
        return returned

    def reference(self, *tensors):
        """softmax(Q K^T * scale + B) (* M) V in reference ops; fully masked rows give 0."""
        q, k, v = self.split_tensors(tensors)
        scores = ops.matmul(q, k.mT) * self.scale
        if self.has_bias:
            scores = scores + tensors[-1]
        if self.dead is not None:
            dead = constant(self.dead)
            scores = ops.where(dead, 0.0, scores)  # all -inf: no NaN from the softmax, no gradient
        weights = ops.softmax(scores, -1)
        if self.dead is not None:
            weights = ops.where(dead, 0.0, weights)
        if self.keep is not None:
            weights = weights * constant(self.keep)
        return self.merge_tensor(ops.matmul(weights, v))


#: The compiled kernel runs where its key limits leave at most this fraction of the (L, S)
#: scores to visit (a causal mask: about half). Measured on the 2-core benchmark machine
#: (quiet, 2026-12-06 19:15): on one thread it beat the BLAS path with and without a mask
#: (one attention layer forward + backward: 64.5 -> 32.1 ms causal, 52.4 -> 42.1 ms without a
#: mask; the GPT step 622 -> 457 ms); on two threads it was level on the GPT step (causal:
#: 376 -> 376 ms) and slower without a mask (bench_attn's encoder layer: 67.9 -> 81.9 ms): in
#: a step, OpenBLAS's spinning workers leave the kernel's parallel loop one core. Measured
#: again with the kernel on 4-row register tiles (quiet, 22:26): the encoder layer took 66.8
#: and 67.9 ms with the kernel for every mask against 57.3 ms with this limit, so it stays.
KERNEL_MAX_VISITED = 0.75


def attention_kernels(q, k, v, bias, keep):
    """(the compiled attention kernels (:mod:`.attention_kernels`), the key limits of each query
    row, the bias the kernels read: None where the limits apply it) for these arrays
    (:func:`~chainrule.nn.fused.attention_kernels.key_limits`, computed once here), or None:
    host float32 / float64 arrays of at most 4 dims (the bias and keep mask broadcast to the
    scores of the same), head widths up to the largest compiled width, numba allowed
    (:func:`~chainrule.nn.kernel_choice.kernels_for`), and a mask whose limits skip enough of
    the scores (:data:`KERNEL_MAX_VISITED`)."""
    arrays = (q, k, v) + tuple(a for a in (bias, keep) if a is not None)
    if bias is None and KERNEL_MAX_VISITED < 1:  # no mask: every score is visited
        return None
    if q.ndim > 4 or any(a.ndim > 4 or a.dtype != q.dtype for a in arrays) or max(q.shape[-1], v.shape[-1]) > 128:
        return None
    kernels = kernels_for(q, ATTENTION_KERNELS)
    if kernels is None:
        return None
    length, source = q.shape[-2], k.shape[-2]
    limits, kernel_bias = kernels.key_limits(bias, length, source)
    if limits.sum() > KERNEL_MAX_VISITED * length * source:
        return None
    return kernels, limits, kernel_bias


def softmax_kernels(scores):
    """The compiled kernels for the softmax passes over ``scores`` (…, S, L) of at most 4 dims,
    or None (:func:`~chainrule.nn.kernel_choice.kernels_for`)."""
    return kernels_for(scores) if scores.ndim <= 4 else None


def as_4d(array):
    """(…, S, L) with at most 4 dims as a (P, Q, S, L) view."""
    return array.reshape((1,) * (4 - array.ndim) + array.shape)


def attention_weights(xp, q, k, bias, scale):
    """E^T = exp2(A^T - max) (…, S, L), inv = 1 / sum(E) (…, 1, L), and the (…, L, 1) bool
    array of fully masked query rows (None when there is none), for A = Q K^T scale + B; the
    passes after the product in one compiled kernel on all cores when there is one."""
    scores = stacked_matmul(xp, k, xp.swapaxes(q * (scale * LOG2E), -1, -2))  # A^T in base-2 units
    kernels = softmax_kernels(scores)
    if kernels is not None:
        return _compiled_weights(xp, kernels, scores, bias)
    if bias is not None:
        scores += xp.swapaxes(bias, -1, -2) * LOG2E
    top = scores.max(axis=-2, keepdims=True)
    dead = None
    if bias is not None:
        masked = top == -xp.inf
        if masked.any():
            dead = xp.swapaxes(masked, -1, -2)
            top[masked] = 0.0  # exp2(-inf - 0) = 0: the row's weights are 0, not NaN
    scores -= top
    xp.exp2(scores, out=scores)
    total = xp.matmul(xp.ones((1, scores.shape[-2]), dtype=scores.dtype), scores)  # (…, 1, L)
    if dead is not None:
        xp.maximum(total, 1.0, out=total)  # a live row's sum is >= 1 (its max gives exp2(0))
    xp.divide(1.0, total, out=total)
    return scores, total, dead


def _compiled_weights(xp, kernels, scores, bias):
    """:func:`attention_weights` with the bias, max and shift passes in one parallel kernel
    (:func:`~.numba_kernels.softmax_shift`); exp2 and the sums as in the NumPy twin."""
    dead = xp.empty(scores.shape[:-2] + (1, scores.shape[-1]), dtype=bool)
    if bias is None:
        bias4 = xp.empty((0, 0, 0, 0), dtype=scores.dtype)
    else:
        bias4 = as_4d(xp.broadcast_to(xp.swapaxes(bias, -1, -2), scores.shape).astype(scores.dtype, copy=False))
    kernels.softmax_shift(as_4d(scores), bias4, LOG2E, as_4d(dead))
    xp.exp2(scores, out=scores)
    total = xp.matmul(xp.ones((1, scores.shape[-2]), dtype=scores.dtype), scores)  # (…, 1, L)
    dead = xp.swapaxes(dead, -1, -2) if bias is not None and dead.any() else None
    if dead is not None:
        xp.maximum(total, 1.0, out=total)
    xp.divide(1.0, total, out=total)
    return scores, total, dead


class MultiheadAttentionCore(ScaledDotProductAttention):
    """The attention of :class:`~chainrule.nn.MultiheadAttention` between its projections:
    inputs in token-major layout, (N, L, H * d) (``batch_first``) or (L, N, H * d), either
    Q, K, V (and an optional bias (…, L, S) broadcast to (N, H, L, S)) or, ``packed``, the one
    self-attention projection (…, 3 * H * d) holding Q, K, V side by side. The heads are views
    (N, H, L, d) of these arrays, and the output is O in the inputs' layout, (N, L, H * dv) or
    (L, N, H * dv): what the output projection reads, with no copy between."""

    op = "multi_head_attention"

    def configure(self, arrays, layout):
        self.heads, self.batch_first, self.packed = layout["heads"], layout["batch_first"], layout["packed"]
        self.inputs = 1 if self.packed else 3

    def split_inputs(self, arrays):
        if self.packed:
            qkv = arrays[0]
            width = qkv.shape[-1] // 3
            self.width = width
            return tuple(self.heads_of(qkv[..., i * width:(i + 1) * width]) for i in range(3))
        return tuple(self.heads_of(a) for a in arrays[:3])

    def heads_of(self, a):
        """(N, L, H * d) or (L, N, H * d) viewed as (N, H, L, d)."""
        first, second, features = a.shape
        split = a.reshape(first, second, self.heads, features // self.heads)
        return split.transpose(0, 2, 1, 3) if self.batch_first else split.transpose(1, 2, 0, 3)

    def output_buffer(self, xp, q, v):
        n, heads, length, _ = q.shape
        width = v.shape[-1]
        if self.batch_first:
            buffer = recycled.empty(xp, (n, length, heads, width), q.dtype)
            return buffer.reshape(n, length, heads * width), buffer.transpose(0, 2, 1, 3)
        buffer = recycled.empty(xp, (length, n, heads, width), q.dtype)
        return buffer.reshape(length, n, heads * width), buffer.transpose(1, 2, 0, 3)

    def gradient_buffers(self, xp):
        needs = self.needs_input_grad
        if self.packed:
            if not needs[0]:
                return (None,), (None, None, None)
            n, _, length, _ = self.q.shape
            first, second = (n, length) if self.batch_first else (length, n)
            total = recycled.empty(xp, (first, second, 3 * self.width), self.q.dtype)
            views = tuple(self.heads_of(total[..., i * self.width:(i + 1) * self.width]) for i in range(3))
            return (total,), views
        returned, views = [], []
        for a, needed in zip((self.q, self.k, self.v), needs):
            if not needed:
                returned.append(None)
                views.append(None)
                continue
            n, heads, length, width = a.shape
            shape = (n, length, heads * width) if self.batch_first else (length, n, heads * width)
            buffer = recycled.empty(xp, shape, a.dtype)
            returned.append(buffer)
            views.append(self.heads_of(buffer))
        return tuple(returned), tuple(views)

    def split_gradient(self, grad):
        return self.heads_of(grad)

    def split_tensors(self, tensors):
        if self.packed:
            qkv, width = tensors[0], self.width
            return tuple(self.heads_tensor(qkv[..., i * width:(i + 1) * width]) for i in range(3))
        return tuple(self.heads_tensor(t) for t in tensors[:3])

    def heads_tensor(self, t):
        first, second, features = t.shape
        split = t.reshape(first, second, self.heads, features // self.heads)
        return split.permute(0, 2, 1, 3) if self.batch_first else split.permute(1, 2, 0, 3)

    def merge_tensor(self, out):
        n, heads, length, width = out.shape
        if self.batch_first:
            return out.permute(0, 2, 1, 3).reshape(n, length, heads * width)
        return out.permute(2, 0, 1, 3).reshape(length, n, heads * width)
