"""Layer, group and RMS normalization as one graph node each.

All three normalize rows of the input by the rows' own statistics and then apply a per-feature
affine map. The input x is viewed as M rows of K values (x_r, r = 1 … M):

* layer norm (Ba et al. 2016): the rows are the trailing ``normalized_shape`` dims;
* group norm (Wu & He 2018): x (N, C, *) has one row per sample and group of C / G channels;
* RMS norm (Zhang & Sennrich 2019): the rows of layer norm, without centring.

Forward, per row (biased variance, as PyTorch):

    mu = mean(x_r),  s^2 = mean((x_r - mu)^2),  xhat = (x_r - mu) / sqrt(s^2 + eps)
    RMS norm:        ms  = mean(x_r^2),          xhat = x_r / sqrt(ms + eps)
    y = gamma * xhat + beta        (gamma, beta broadcast per feature or per channel)

Backward, G the upstream gradient, D = G * gamma viewed as rows, r = 1 / sqrt(s^2 + eps), means
over each row's K values:

    dx     = r (D - mean(D) - xhat mean(D xhat))        (RMS norm: no mean(D) term)
    dgamma = sum of G xhat over all but the affine dims,  dbeta = sum of G likewise

Reference composition (tests/test_nn_normalization_fused.py): ``(x - x.mean()) / sqrt(x.var()
+ eps) * gamma + beta`` on the rows, with the reference ops mean, sub, mul, sqrt, div;
second derivatives differentiate it (:mod:`.composed`). Row means are matrix-vector products
with a ones vector and row dot products are ``einsum``: BLAS and one pass each, no
per-row reduction overhead. With the compiled kernels (numba there and enabled) layer norm's
forward and its input gradient are one parallel pass over the rows each
(:func:`~.numba_kernels.layer_norm`, :func:`~.numba_kernels.layer_norm_backward`).
"""
from __future__ import annotations

from ...engine import backend, recycled
from ...engine.autograd import Function
from ..kernel_choice import kernels_for
from .composed import ComposedBackward

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm"]


class _RowNormalization(ComposedBackward, Function):
    """Normalize the rows of x (``rows``: the (M, K) shape x is viewed in) by their own
    statistics, then y = xhat * weight + bias with weight and bias viewed in ``affine_shape``
    (broadcast against x's shape)."""

    centred = True
    row_affine = False  # True where the affine parameters are one value per column of the rows
    kernels = None  # the compiled kernels when forward used them

    def forward(self, x, *affine, rows, affine_shape, eps, has_weight, has_bias):
        xp = backend.namespace_of(x)
        self.shape, self.rows, self.affine_shape, self.eps = x.shape, rows, affine_shape, eps
        self.has_weight, self.has_bias = has_weight, has_bias
        self.param_shape = affine[0].shape if affine else None
        if has_weight:
            self.weight = affine[0].reshape(affine_shape)
        kernels = self.compiled_kernels(x, affine)
        if kernels is not None:
            return self.compiled_forward(xp, kernels, x, affine)
        count = rows[1]
        scale = 1.0 / count if count else 0.0  # empty rows: nothing to normalize
        flat = xp.ascontiguousarray(x).reshape(rows)
        if self.centred:
            mean = flat @ xp.ones(count, dtype=x.dtype)
            mean *= scale
            xhat = flat - mean[:, None]
        else:
            xhat = flat.copy()
        var = xp.einsum("ij,ij->i", xhat, xhat)
        var *= scale
        var += eps
        rstd = xp.sqrt(var, out=var)
        xp.divide(1.0, rstd, out=rstd)
        xhat *= rstd[:, None]
        self.xhat, self.rstd = xhat, rstd
        out = xhat.reshape(x.shape)
        if has_weight:
            out = out * self.weight
        if has_bias:
            bias = affine[-1].reshape(affine_shape)
            if has_weight:
                out += bias
            else:
                out = out + bias
        elif not has_weight:
            out = out.copy()  # never hand out the saved xhat
        return out

    def compiled_kernels(self, x, affine):
        """The compiled kernels (:mod:`.numba_kernels`) where they apply: layer norm (centred,
        one affine value per column) of non-empty rows (:func:`~chainrule.nn.kernel_choice.kernels_for`)."""
        if not (self.centred and self.row_affine) or 0 in self.rows:
            return None
        if any(a.size != self.rows[1] or a.dtype != x.dtype for a in affine):
            return None
        return kernels_for(x)

    def compiled_forward(self, xp, kernels, x, affine):
        """The forward pass as one parallel kernel over the rows (:func:`~.numba_kernels.layer_norm`)."""
        flat = xp.ascontiguousarray(x).reshape(self.rows)
        xhat, out = recycled.empty_like(xp, flat), recycled.empty_like(xp, flat)
        rstd = xp.empty(self.rows[0], dtype=x.dtype)
        none = xp.empty(0, dtype=x.dtype)
        weight = affine[0].reshape(-1) if self.has_weight else none
        bias = affine[-1].reshape(-1) if self.has_bias else none
        kernels.layer_norm(flat, weight, bias, self.eps, xhat, rstd, out)
        self.xhat, self.rstd, self.kernels = xhat, rstd, kernels
        return out.reshape(x.shape)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        needs = self.needs_input_grad
        xhat, rows = self.xhat, self.rows
        grads = [None]
        position = 1
        if self.has_weight:
            grads.append(self.affine_gradient(xp, grad * xhat.reshape(self.shape)) if needs[position] else None)
            position += 1
        if self.has_bias:
            grads.append(self.affine_gradient(xp, grad) if needs[position] else None)
        if needs[0] and self.kernels is not None:
            flat = xp.ascontiguousarray(grad, dtype=xhat.dtype).reshape(rows)
            weight = self.weight.reshape(-1) if self.has_weight else xp.empty(0, dtype=xhat.dtype)
            dx = recycled.empty_like(xp, flat)
            self.kernels.layer_norm_backward(flat, weight, xhat, self.rstd, dx)
            grads[0] = dx.reshape(self.shape)
        elif needs[0]:
            scaled = grad * self.weight if self.has_weight else xp.array(grad, copy=True)
            grads[0] = self.input_gradient(xp, xp.ascontiguousarray(scaled).reshape(rows))
        return tuple(grads)

    def input_gradient(self, xp, d):
        """r (D - mean(D) - xhat mean(D xhat)) on rows D (a fresh array, changed in place)."""
        xhat, count = self.xhat, self.rows[1]
        scale = 1.0 / count if count else 0.0
        projection = xp.einsum("ij,ij->i", d, xhat)
        projection *= scale
        if self.centred:
            mean = d @ xp.ones(count, dtype=d.dtype)
            mean *= scale
            d -= mean[:, None]
        d -= xhat * projection[:, None]
        d *= self.rstd[:, None]
        return d.reshape(self.shape)

    def affine_gradient(self, xp, values):
        """``values`` summed over every dim the affine parameters broadcast along, in their
        own shape: a column sum of rows for layer norm, a sum per channel for group norm."""
        shape, affine_shape = self.shape, self.affine_shape
        lead = len(shape) - len(affine_shape)
        if all(size == shape[lead + i] for i, size in enumerate(affine_shape)):  # trailing dims: one BLAS call
            width = 1
            for size in affine_shape:
                width *= size
            columns = xp.ascontiguousarray(values).reshape(-1, width)
            return (xp.ones(columns.shape[0], dtype=values.dtype) @ columns).reshape(self.param_shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, size in enumerate(affine_shape) if size == 1)
        return values.sum(axis=axes).reshape(self.param_shape)

    def reference(self, x, *affine):
        """The row statistics as functions of x, in reference ops."""
        flat = x.reshape(*self.rows)
        if self.centred:
            flat = flat - flat.mean(dim=1, keepdim=True)
        var = (flat * flat).mean(dim=1, keepdim=True)
        out = (flat / (var + self.eps).sqrt()).reshape(*self.shape)
        if self.has_weight:
            out = out * affine[0].reshape(*self.affine_shape)
        if self.has_bias:
            out = out + affine[-1].reshape(*self.affine_shape)
        return out


class LayerNorm(_RowNormalization):
    """Layer normalization over the trailing dims (rows (M, prod(normalized_shape)))."""

    op = "layer_norm"
    row_affine = True


class GroupNorm(_RowNormalization):
    """Group normalization: rows (N * G, C / G * prod(spatial)), affine per channel."""

    op = "group_norm"


class RMSNorm(_RowNormalization):
    """Root-mean-square normalization: layer norm's rows, not centred, no bias."""

    op = "rms_norm"
    centred = False
