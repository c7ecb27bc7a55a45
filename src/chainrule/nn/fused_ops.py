"""Fused neural-network ops: each is ONE graph node with a hand-written backward.

A network built from generic ops records several nodes per layer (matmul, add,
relu, log_softmax, index, mean …), and on small and medium models the per-node
bookkeeping costs as much as the arithmetic. The ops here do a layer's or a
loss's whole computation in one forward and one backward on raw arrays, and the
backward returns the closed-form gradient (softmax - onehot for cross-entropy)
rather than chaining the pieces. The user-facing wrappers, with argument checks,
live in :mod:`chainrule.nn.functional`; these classes assume valid arguments.

Ops and their gradients (G is the upstream gradient, r the reduction's weight:
1/n for mean, 1 for sum, G_i for none):

linear            y = x W^T + b;   dx = G W,  dW = G^T x,  db = sum_rows G
linear_chain      h_i = relu?(h_{i-1} W_i^T + b_i), i = 1..L;  D_i = G_i [h_i > 0],
                  dW_i = D_i^T h_{i-1},  db_i = sum_rows D_i,  G_{i-1} = D_i W_i
cross_entropy     l_i = logsumexp(z_i) - z_{i,t_i};   dz_i = r_i (softmax(z_i) - e_{t_i})
soft cross_entropy l_i = -sum_c y_ic log softmax(z_i)_c;  dz_i = r_i (softmax(z_i) sum_c y_ic - y_i)
nll_loss          l_i = -w_{t_i} a_{i,t_i};        da_{i,c} = -r_i w_{t_i} [c = t_i]
bce_with_logits   l = (1 - y) x + softplus(-x);    dx = sigmoid(x) - y,  dy = -x
binary_cross_entropy l = -(y log p + (1 - y) log(1 - p));  dp = (p - y) / (p (1 - p))
mse / l1 / huber  l = f(x - y) elementwise;        dx = f'(x - y),  dy = -f'(x - y)
dropout           y = x * m / (1 - p), m ~ Bernoulli(1 - p);  dx = G * m / (1 - p)
batch_norm        y = gamma (x - mu) / sqrt(var + eps) + beta (see BatchNorm)
polynomial_features phi_k(x) = prod_j x_j^{P_kj};  dphi_k/dx_j = P_kj x_j^{P_kj - 1} prod_{i != j} x_i^{P_ki}
l1/l2 penalty     sum_p sum |p| and sum_p sum p^2 over many tensors in one node
"""
from __future__ import annotations

from ..engine import backend
from ..engine.autograd import Function, claim_grad_slot

_host = backend.host
_HOST_ARRAY = backend.host.ndarray

# ------------------------------------------------------------------ layers


class Linear(Function):
    """y = x W^T + b with W of shape (out_features, in_features) (PyTorch's layout).

    x may have any number of leading dimensions (a 1-D x is one sample). Backward:
    dx = G W (only when x needs it: the first layer's input never does),
    dW = G^T x, db = G summed over the rows.
    """

    op = "linear"

    def forward(self, x, weight, *bias):
        self.x, self.weight = x, weight
        out = x @ weight.T
        if bias:
            out += bias[0]  # out is a fresh array: add in place, no temporary
        return out

    def backward(self, grad):
        return _linear_backward(self, grad)


class LinearChain(Function):
    """Consecutive Linear layers, each optionally followed by a ReLU, as one node.

    With h_0 = x and, for layer i = 1 … L (``layout[i - 1] = (has_bias, relu)``):

        z_i = h_{i-1} W_i^T + b_i,    h_i = max(z_i, 0) if relu else z_i,

    the output is h_L. Backward, from G_L = G (the upstream gradient) down to the lowest
    layer any input needs: D_i = G_i * [h_i > 0] where layer i has a ReLU (its gradient at
    0 taken as 0, as in :class:`~chainrule.engine.ops.activations.ReLU`), else D_i = G_i; then
    dW_i = D_i^T h_{i-1}, db_i = sum_rows D_i and G_{i-1} = D_i W_i (dx = G_0, only when
    x needs it). The inputs are
    x, W_1, [b_1], W_2, [b_2], …; weight and bias gradients go straight into the
    parameters' gradient slots when the engine offers them (see :func:`_linear_backward`).
    A whole MLP is then one node: one record in the forward pass, one visit in backward.
    """

    op = "linear_chain"

    def forward(self, x, *params, layout):
        maximum = _host.maximum if x.__class__ is _HOST_ARRAY else backend.namespace_of(x).maximum
        zero = _zero(x)
        self.x, self.params, self.layout = x, params, layout
        outs = []
        h, k = x, 0
        for has_bias, relu in layout:
            h = h @ params[k].T
            k += 1
            if has_bias:
                h += params[k]  # h is a fresh array: add in place
                k += 1
            if relu:
                maximum(h, zero, out=h)
            outs.append(h)
        self.outs = outs
        return h

    def backward(self, grad):
        needs, params, layout, outs = self.needs_input_grad, self.params, self.layout, self.outs
        parents = self.parents
        host = grad.__class__ is _HOST_ARRAY
        xp = _host if host else backend.namespace_of(grad)
        grads = [None] * len(needs)
        lowest = needs.index(True)  # the first input that needs a gradient
        starts = _WEIGHT_POSITIONS.get(layout)
        if starts is None:
            starts = _WEIGHT_POSITIONS[layout] = _weight_positions(layout)
        g = grad if grad.ndim == 2 else grad.reshape(-1, grad.shape[-1])
        zero = _zero(g)
        own = False  # whether g is an array made here (then the ReLU mask may go in place)
        for i in range(len(layout) - 1, -1, -1):
            has_bias, relu = layout[i]
            if relu:
                out = outs[i]
                mask = xp.greater(out if out.ndim == 2 else out.reshape(g.shape), zero)
                if own:
                    xp.multiply(g, mask, out=g)
                else:
                    g = g * mask
                    own = True
            w = starts[i]
            if needs[w]:
                h = self.x if i == 0 else outs[i - 1]
                rows = h if h.ndim == 2 else h.reshape(-1, h.shape[-1])
                slot = claim_grad_slot(parents[w])
                if slot is None:
                    grads[w] = g.T @ rows
                else:
                    xp.matmul(g.T, rows, out=slot)
            if has_bias and needs[w + 1]:
                slot = claim_grad_slot(parents[w + 1])
                total = _host.add.reduce(g, axis=0, out=slot) if host else g.sum(axis=0, out=slot)
                grads[w + 1] = total if slot is None else None
            if lowest >= w:
                break
            g = _times_weight(g, params[w - 1])
            own = True
        if needs[0]:
            grads[0] = g if g.shape == self.x.shape else g.reshape(self.x.shape)
        return tuple(grads)


_WEIGHT_POSITIONS: dict = {}  # layout -> the input position of each layer's weight
_ZEROS: dict = {}  # dtype -> a read-only 0-d host array 0


def _zero(like):
    """0 as a 0-d array of ``like``'s dtype: a ufunc takes it faster than the Python int 0,
    which it must convert at every call (about 0.2 µs of a 1 µs operation on small arrays)."""
    if like.__class__ is not _HOST_ARRAY:
        return 0
    zero = _ZEROS.get(like.dtype)
    if zero is None:
        zero = _ZEROS[like.dtype] = _host.zeros((), like.dtype)
        zero.flags.writeable = False
    return zero


def _weight_positions(layout: tuple) -> tuple:
    """Where each layer's weight sits among a LinearChain's inputs (x is input 0)."""
    starts, k = [], 1
    for has_bias, _ in layout:
        starts.append(k)
        k += 2 if has_bias else 1
    return tuple(starts)


def _linear_backward(node, grad):
    """dx = G W, dW = G^T x, db = sum_rows G, each only where needed.

    dW and db go straight into the parameter's gradient slot when the engine offers
    one (:func:`chainrule.autograd.claim_grad_slot`): no allocation, no copy, and None
    is returned for that input, whose gradient is then already in place.
    """
    x, weight = node.x, node.weight
    needs = node.needs_input_grad
    out_features, in_features = weight.shape
    if grad.ndim != 2:  # a single sample or extra leading dims: work on rows
        grad = grad.reshape(-1, out_features)
        rows = x.reshape(-1, in_features)
    else:
        rows = x
    parents = node.parents
    host = grad.__class__ is _HOST_ARRAY
    grad_x = None
    if needs[0]:
        grad_x = _times_weight(grad, weight)
        if grad_x.shape != x.shape:
            grad_x = grad_x.reshape(x.shape)
    grad_w = None
    if needs[1]:
        slot = claim_grad_slot(parents[1])
        if slot is None:
            grad_w = grad.T @ rows
        else:
            (_host if host else backend.namespace_of(grad)).matmul(grad.T, rows, out=slot)
    if len(needs) == 2:
        return grad_x, grad_w
    grad_b = None
    if needs[2]:
        slot = claim_grad_slot(parents[2])
        if host:  # the ufunc's own reduce skips ndarray.sum's Python wrapper
            grad_b = _host.add.reduce(grad, axis=0, out=slot)
        else:
            grad_b = grad.sum(axis=0, out=slot)
        if slot is not None:
            grad_b = None
    return grad_x, grad_w, grad_b


def _times_weight(grad, weight):
    """G W for rows G (N, out) and W (out, in): the gradient with respect to a Linear
    layer's input. With one output (out = 1) this is the outer product of two vectors,
    which the broadcast product G * W computes exactly (every entry is one product) in
    a fraction of the time a matrix multiplication with an inner dimension of 1 takes."""
    if weight.shape[0] == 1:
        return grad * weight
    return grad @ weight


class Dropout(Function):
    """y = x * scale with scale = m / (1 - p), m a Bernoulli(1 - p) mask drawn by the caller."""

    op = "dropout"

    def forward(self, x, scale):
        self.scale = scale
        return x * scale

    def backward(self, grad):
        return (grad * self.scale,)


class BatchNorm(Function):
    """Batch normalization over ``axes`` (all but the channel axis).

    Training mode (``training=True``; ``mean`` and ``var`` are the batch's mean and
    biased variance, which depend on x): with xhat = (x - mean) / sqrt(var + eps),
    y = gamma xhat + beta and D = G gamma,

        dx = (1 / sqrt(var + eps)) (D - mean(D) - xhat mean(D xhat))

    (means over ``axes``). Evaluation mode (``training=False``; ``mean`` and ``var``
    are the running statistics, constants): dx = G gamma / sqrt(var + eps).
    In both, dgamma = sum(G xhat) and dbeta = sum(G) over ``axes``.
    """

    op = "batch_norm"

    def forward(self, x, *affine, mean, var, eps, axes, training, has_weight, has_bias):
        xp = backend.namespace_of(x)
        shape = _channel_shape(x.ndim, x.shape[1])
        self.axes, self.training, self.shape = axes, training, shape
        self.has_weight, self.has_bias = has_weight, has_bias
        self.inv_std = (1.0 / xp.sqrt(var + eps)).reshape(shape)
        self.xhat = (x - mean.reshape(shape)) * self.inv_std
        out = self.xhat
        if has_weight:
            self.weight = affine[0].reshape(shape)
            out = out * self.weight
        if has_bias:
            out = out + affine[-1].reshape(shape)
        return out

    def backward(self, grad):
        needs = self.needs_input_grad
        axes, xhat = self.axes, self.xhat
        scaled = grad * self.weight if self.has_weight else grad
        grad_x = None
        if needs[0]:
            if self.training:
                centred = scaled - scaled.mean(axis=axes, keepdims=True)
                centred -= xhat * (scaled * xhat).mean(axis=axes, keepdims=True)
                grad_x = centred * self.inv_std
            else:
                grad_x = scaled * self.inv_std
        grads = [grad_x]
        if self.has_weight:
            grads.append((grad * xhat).sum(axis=axes) if needs[len(grads)] else None)
        if self.has_bias:
            grads.append(grad.sum(axis=axes) if needs[len(grads)] else None)
        return tuple(grads)


def _channel_shape(ndim: int, channels: int) -> tuple:
    """(1, C) for (N, C) input, (1, C, 1) for (N, C, L) input."""
    return (1, channels) + (1,) * (ndim - 2)


class PolynomialFeatures(Function):
    """phi_k(x) = prod_j x_j^{P_kj} for every row of x (N, d), P the (K, d) matrix of
    exponents (one row per output feature).

    dphi_k/dx_j = P_kj x_j^{P_kj - 1} prod_{i != j} x_i^{P_ki}. The product over
    i != j is formed from prefix and suffix products, never by dividing by x_j,
    so it is exact at x_j = 0.
    """

    op = "polynomial_features"

    def forward(self, x, powers):
        self.x, self.powers = x, powers
        self.factors = x[:, None, :] ** powers  # (N, K, d): x_j^{P_kj}
        return self.factors.prod(axis=2)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        x, powers, factors = self.x, self.powers, self.factors
        ones = xp.ones(factors.shape[:2] + (1,), dtype=factors.dtype)
        before = xp.cumprod(xp.concatenate([ones, factors[:, :, :-1]], axis=2), axis=2)
        after = xp.cumprod(xp.concatenate([ones, factors[:, :, :0:-1]], axis=2), axis=2)[:, :, ::-1]
        lowered = x[:, None, :] ** xp.maximum(powers - 1, 0)
        derivative = powers * lowered * before * after  # (N, K, d)
        return ((grad[:, :, None] * derivative).sum(axis=1),)


# ------------------------------------------------------------------ classification losses


class CrossEntropy(Function):
    """Softmax cross-entropy with integer class targets, fused with its log-softmax.

    For logits z_i (C classes), target t_i, class weights w (1 when absent),
    smoothing eps and valid_i = [t_i != ignore_index]:

        log p_ic = z_ic - logsumexp(z_i)          (shifted by max_c z_ic: no overflow)
        l_i = valid_i ((1 - eps) w_{t_i} (-log p_{i,t_i}) + (eps / C) sum_c w_c (-log p_ic))

    Reduction "mean" divides the sum by sum_i valid_i w_{t_i} (PyTorch's rule).
    Backward, with r_i the reduction's weight of row i:

        dz_i = r_i valid_i (p_i ((1 - eps) w_{t_i} + (eps / C) sum_c w_c)
                            - (1 - eps) w_{t_i} e_{t_i} - (eps / C) w)

    which without weights and smoothing is r_i (softmax(z_i) - e_{t_i}). The scatter
    into the target positions is one fancy-index assignment on distinct rows.
    """

    op = "cross_entropy"

    def forward(self, logits, target, weight, ignore_index, reduction, label_smoothing, ignored):
        xp = backend.namespace_of(logits)
        z, self.layout = _rows_of_classes(logits)
        t = target.reshape(-1)
        n, classes = z.shape
        rows = xp.arange(n)
        shifted = z - z.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        log_total = xp.log(total[:, 0])
        self.reduction = reduction
        self.simple = weight is None and label_smoothing == 0 and not ignored
        if self.simple:
            losses = log_total - shifted[rows, t]
            self.denominator = n
            self.exp, self.total, self.rows, self.t = exp, total, rows, t
            return _reduce(losses, reduction, n, target.shape)
        keep = (t != ignore_index) if ignored else None
        t = xp.where(keep, t, 0) if ignored else t
        row_weight = weight[t] if weight is not None else xp.ones(n, dtype=z.dtype)
        if keep is not None:
            row_weight = row_weight * keep
        losses = (1 - label_smoothing) * row_weight * (log_total - shifted[rows, t])
        class_weight = weight if weight is not None else xp.ones(classes, dtype=z.dtype)
        smoothing = label_smoothing / classes
        row_valid = keep.astype(z.dtype) if keep is not None else xp.ones(n, dtype=z.dtype)
        if label_smoothing:
            smooth = class_weight.sum() * log_total - shifted @ class_weight
            losses = losses + smoothing * row_valid * smooth
        denominator = row_weight.sum() if reduction == "mean" else n
        self.exp, self.total, self.rows, self.t = exp, total, rows, t
        self.probability_coefficient = (1 - label_smoothing) * row_weight + smoothing * class_weight.sum() * row_valid
        self.target_coefficient = (1 - label_smoothing) * row_weight
        self.smoothing_vector = (smoothing * class_weight) if label_smoothing else None
        self.row_valid = row_valid
        self.denominator = denominator
        return _reduce(losses, reduction, denominator, target.shape)

    def backward(self, grad):
        scale = _row_scale(grad, self.reduction, self.denominator)
        if self.simple:
            dz = self.exp * (scale / self.total)
            dz[self.rows, self.t] -= scale[:, 0] if scale.ndim else scale
            return (_restore_layout(dz, self.layout),)
        row_scale = scale[:, 0] if scale.ndim else scale
        dz = self.exp * ((row_scale * self.probability_coefficient)[:, None] / self.total)
        dz[self.rows, self.t] -= row_scale * self.target_coefficient
        if self.smoothing_vector is not None:
            dz -= (row_scale * self.row_valid)[:, None] * self.smoothing_vector
        return (_restore_layout(dz, self.layout),)


class SoftCrossEntropy(Function):
    """Cross-entropy against class probabilities y (same shape as the logits).

    With y'_i = (1 - eps) y_i + eps / C and class weights w (1 when absent):
    l_i = -sum_c w_c y'_ic log p_ic, log p = log_softmax(z). Reduction "mean"
    divides by the number of rows. Gradients:
    dz_i = r_i (p_i sum_c w_c y'_ic - w * y'_i) and dy_ic = -r_i (1 - eps) w_c log p_ic.
    """

    op = "cross_entropy"

    def forward(self, logits, target, weight, reduction, label_smoothing):
        xp = backend.namespace_of(logits)
        z, self.layout = _rows_of_classes(logits)
        y, _ = _rows_of_classes(target)
        n, classes = z.shape
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        smoothed = (1 - label_smoothing) * y + label_smoothing / classes if label_smoothing else y
        weighted = smoothed * weight if weight is not None else smoothed
        self.log_p, self.weighted, self.weight = log_p, weighted, weight
        self.reduction, self.smoothing, self.denominator = reduction, label_smoothing, n
        losses = -(weighted * log_p).sum(axis=1)
        row_shape = () if target.ndim == 1 else target.shape[:1] + target.shape[2:]
        return _reduce(losses, reduction, n, row_shape)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        scale = _row_scale(grad, self.reduction, self.denominator)
        grad_z = grad_y = None
        if self.needs_input_grad[0]:
            p = xp.exp(self.log_p)
            grad_z = _restore_layout(
                scale * (p * self.weighted.sum(axis=1, keepdims=True) - self.weighted), self.layout
            )
        if self.needs_input_grad[1]:
            coefficient = -(1 - self.smoothing) * scale
            if self.weight is not None:
                coefficient = coefficient * self.weight
            grad_y = _restore_layout(coefficient * self.log_p, self.layout)
        return grad_z, grad_y


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities a (N, C): l_i = -valid_i w_{t_i} a_{i,t_i}.

    Reduction "mean" divides by sum_i valid_i w_{t_i}. Gradient: -r_i valid_i w_{t_i}
    at (i, t_i), zero elsewhere.
    """

    op = "nll_loss"

    def forward(self, log_probs, target, weight, ignore_index, reduction, ignored):
        xp = backend.namespace_of(log_probs)
        a, self.layout = _rows_of_classes(log_probs)
        t = target.reshape(-1)
        n = a.shape[0]
        keep = (t != ignore_index) if ignored else None
        if ignored:
            t = xp.where(keep, t, 0)
        row_weight = weight[t] if weight is not None else xp.ones(n, dtype=a.dtype)
        if keep is not None:
            row_weight = row_weight * keep
        rows = xp.arange(n)
        losses = -row_weight * a[rows, t]
        self.rows, self.t, self.row_weight, self.shape = rows, t, row_weight, a.shape
        self.reduction = reduction
        self.denominator = row_weight.sum() if reduction == "mean" else n
        return _reduce(losses, reduction, self.denominator, target.shape)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        scale = _row_scale(grad, self.reduction, self.denominator)
        row_scale = scale[:, 0] if scale.ndim else scale
        da = xp.zeros(self.shape, dtype=grad.dtype)
        da[self.rows, self.t] = -row_scale * self.row_weight
        return (_restore_layout(da, self.layout),)


class BCEWithLogits(Function):
    """Binary cross-entropy on logits x, stable for any x:

        l = w ((1 - y) x + c softplus(-x)),  c = 1 + (pos_weight - 1) y,
        softplus(-x) = log(1 + e^{-x}) = log1p(e^{-|x|}) + max(-x, 0).

    dx = w ((1 - y) - c sigmoid(-x)) (= w (sigmoid(x) - y) when pos_weight is absent),
    dy = w (-x + (pos_weight - 1) softplus(-x)).
    """

    op = "binary_cross_entropy_with_logits"

    def forward(self, x, y, weight, pos_weight, reduction):
        xp = backend.namespace_of(x)
        relu_neg = xp.maximum(-x, 0)
        log_term = xp.log1p(xp.exp(-xp.abs(x)))
        # (1 - y) x + max(-x, 0) is formed first: for y = 0 it is exactly max(x, 0),
        # so a tiny log_term (large |x|) is not lost to cancellation.
        if pos_weight is None:
            losses = ((1 - y) * x + relu_neg) + log_term
        else:
            c = 1 + (pos_weight - 1) * y
            losses = ((1 - y) * x + c * relu_neg) + c * log_term
        if weight is not None:
            losses = losses * weight
        self.x, self.y = x, y
        self.weight, self.pos_weight = weight, pos_weight
        self.reduction = reduction
        return _reduce_elements(self, losses, reduction)

    def backward(self, grad):
        scale = _element_scale(self, grad)
        if self.weight is not None:
            scale = scale * self.weight
        x, y, pos_weight = self.x, self.y, self.pos_weight
        grad_x = grad_y = None
        if self.needs_input_grad[0]:
            if pos_weight is None:
                grad_x = scale * (backend.expit(x) - y)
            else:
                grad_x = scale * ((1 - y) - (1 + (pos_weight - 1) * y) * backend.expit(-x))
        if self.needs_input_grad[1]:
            if pos_weight is None:
                grad_y = -scale * x
            else:
                xp = backend.namespace_of(x)
                softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
                grad_y = scale * ((pos_weight - 1) * softplus_neg - x)
        return grad_x, grad_y


class BinaryCrossEntropy(Function):
    """l = -w (y log p + (1 - y) log(1 - p)) with each log clamped at -100 (PyTorch's
    rule, so p = 0 or 1 gives a finite loss). dp = w (p - y) / max(p (1 - p), 1e-12),
    dy = w (log(1 - p) - log p)."""

    op = "binary_cross_entropy"

    def forward(self, p, y, weight, reduction):
        xp = backend.namespace_of(p)
        with _quiet(xp):
            log_p = xp.maximum(xp.log(p), -100)
            log_q = xp.maximum(xp.log1p(-p), -100)
        losses = -(y * log_p + (1 - y) * log_q)
        if weight is not None:
            losses = losses * weight
        self.p, self.y, self.log_p, self.log_q = p, y, log_p, log_q
        self.weight, self.reduction = weight, reduction
        return _reduce_elements(self, losses, reduction)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        scale = _element_scale(self, grad)
        if self.weight is not None:
            scale = scale * self.weight
        p, y = self.p, self.y
        grad_p = grad_y = None
        if self.needs_input_grad[0]:
            grad_p = scale * (p - y) / xp.maximum(p * (1 - p), 1e-12)
        if self.needs_input_grad[1]:
            grad_y = scale * (self.log_q - self.log_p)
        return grad_p, grad_y


# ------------------------------------------------------------------ regression losses


class _PointwiseLoss(Function):
    """l = f(x - y) elementwise, then reduced; dx = f'(x - y), dy = -f'(x - y)."""

    def forward(self, x, y, reduction, delta=None):
        self.diff, self.reduction, self.delta = x - y, reduction, delta
        return _reduce_elements(self, self.loss(self.diff), reduction)

    def backward(self, grad):
        derivative = _element_scale(self, grad) * self.derivative(self.diff)
        needs_x, needs_y = self.needs_input_grad
        return derivative if needs_x else None, -derivative if needs_y else None


class MSELoss(_PointwiseLoss):
    """f(d) = d^2, f'(d) = 2 d.

    On host arrays with reduction "mean" or "sum", the sum of squares is one dot
    product, sum(d^2) = <d, d>, instead of a square and a sum (two array passes and a
    temporary), and the backward is d times the one number 2 G / n (or 2 G): one pass.
    """

    op = "mse_loss"

    def forward(self, x, y, reduction, delta=None):
        if reduction == "none" or x.__class__ is not _HOST_ARRAY or x.size == 0:
            return super().forward(x, y, reduction, delta)
        diff = x - y
        self.diff, self.reduction, self.delta = diff, reduction, delta
        self.count, self.shape = diff.size, diff.shape
        total = _host.vdot(diff, diff)  # vdot flattens its arguments
        if reduction == "mean":
            total = total / self.count
        return _host.asarray(total, dtype=diff.dtype)

    def backward(self, grad):
        if self.reduction == "none" or grad.__class__ is not _HOST_ARRAY or self.count == 0:
            return super().backward(grad)
        scale = 2.0 * float(grad)  # G is one number here: 2 G / n is one scalar, one array pass
        if self.reduction == "mean":
            scale /= self.count
        derivative = self.diff * scale
        needs_x, needs_y = self.needs_input_grad
        return derivative if needs_x else None, -derivative if needs_y else None

    def loss(self, d):
        return d * d

    def derivative(self, d):
        return 2 * d


class L1Loss(_PointwiseLoss):
    """f(d) = |d|, f'(d) = sign(d) (0 at d = 0)."""

    op = "l1_loss"

    def loss(self, d):
        return backend.namespace_of(d).abs(d)

    def derivative(self, d):
        return backend.namespace_of(d).sign(d)


class HuberLoss(_PointwiseLoss):
    """f(d) = d^2 / 2 for |d| <= delta, delta (|d| - delta / 2) otherwise;
    f'(d) = clip(d, -delta, delta)."""

    op = "huber_loss"

    def loss(self, d):
        xp = backend.namespace_of(d)
        absolute = xp.abs(d)
        clipped = xp.minimum(absolute, self.delta)
        return clipped * (absolute - 0.5 * clipped)

    def derivative(self, d):
        return backend.namespace_of(d).clip(d, -self.delta, self.delta)


# ------------------------------------------------------------------ penalties


class L2Penalty(Function):
    """sum over all inputs p of sum(p^2), one node for any number of tensors; dp = 2 G p."""

    op = "l2_penalty"

    def forward(self, *params):
        self.params = params
        xp = backend.namespace_of(params[0])
        total = sum(float(xp.vdot(p.reshape(-1), p.reshape(-1))) for p in params)
        return xp.asarray(total, dtype=params[0].dtype)

    def backward(self, grad):
        twice = 2 * grad
        return tuple(p * twice if needed else None for p, needed in zip(self.params, self.needs_input_grad))


class L1Penalty(Function):
    """sum over all inputs p of sum(|p|); dp = G sign(p) (0 at p = 0)."""

    op = "l1_penalty"

    def forward(self, *params):
        self.params = params
        xp = backend.namespace_of(params[0])
        total = sum(float(xp.abs(p).sum()) for p in params)
        return xp.asarray(total, dtype=params[0].dtype)

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        return tuple(xp.sign(p) * grad if needed else None for p, needed in zip(self.params, self.needs_input_grad))


# ------------------------------------------------------------------ helpers


def _rows_of_classes(array):
    """View class-dim-1 data (N, C, d1, …), (N, C) or unbatched (C,) as rows (M, C).

    Returns the rows and what :func:`_restore_layout` needs to undo it.
    """
    if array.ndim == 2:
        return array, None
    if array.ndim == 1:
        return array.reshape(1, -1), array.shape
    xp = backend.namespace_of(array)
    moved = xp.moveaxis(array, 1, -1)
    return moved.reshape(-1, array.shape[1]), moved.shape


def _restore_layout(rows, layout):
    if layout is None:
        return rows
    if len(layout) == 1:
        return rows.reshape(layout)
    xp = backend.namespace_of(rows)
    return xp.moveaxis(rows.reshape(layout), -1, 1)


def _reduce(losses, reduction, denominator, shape):
    """Per-row losses reduced as asked; "none" keeps the target's shape."""
    xp = backend.namespace_of(losses)
    if reduction == "none":
        return losses.reshape(shape)
    total = losses.sum()
    if reduction == "mean":
        if isinstance(denominator, int) and denominator > 0:
            total = total / denominator
        else:  # a sum of weights, which is 0 when every row is ignored: nan, as in PyTorch
            with _quiet(xp):
                total = total / denominator
    return xp.asarray(total, dtype=losses.dtype)


def _row_scale(grad, reduction, denominator):
    """The reduction's weight of every row: (N, 1) for "none", a 0-d array otherwise."""
    if reduction == "none":
        return grad.reshape(-1, 1)
    if reduction == "mean":
        return grad / denominator
    return grad


def _reduce_elements(node, losses, reduction):
    node.count, node.shape = losses.size, losses.shape
    return _reduce(losses, reduction, losses.size, losses.shape)


def _element_scale(node, grad):
    """The reduction's weight of every element: G itself for "none", G or G / n else."""
    if node.reduction == "mean":
        return grad / node.count
    return grad


class _quiet:
    """Silence NumPy's warnings for log(0) and 0 / 0, whose results are intended."""

    def __init__(self, xp):
        self.errstate = getattr(xp, "errstate", None)

    def __enter__(self):
        if self.errstate is not None:
            self.context = self.errstate(divide="ignore", invalid="ignore")
            self.context.__enter__()

    def __exit__(self, *exc_info):
        if self.errstate is not None:
            self.context.__exit__(*exc_info)
        return False
