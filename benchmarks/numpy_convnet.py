"""A CIFAR ResNet written by hand in NumPy: the floor that bench_conv.py measures chainrule against.

Written as a performance-minded person writes it on NumPy alone (float32 throughout):

- Activations are kept channels-last, (N, H, W, C) in memory, so that a convolution is ONE
  matrix product of the window matrix (N oh ow, kh kw C) (each output pixel's patch one
  contiguous row) with the weight as (kh kw C, O), and every output pixel's channels are
  contiguous for the next layer. Measured on the 2-core benchmark machine, this orientation
  is 20-30% faster in OpenBLAS than the channel-first (O, kh kw C) x (kh kw C, N oh ow) one for
  the thin matrices of a ResNet's first stage (16 channels).
- im2col a run of images at a time: one strided copy of a zero-padded canvas's windows
  (``as_strided``) into a ~4 MiB buffer that the product then reads from the cache (the whole
  window matrix is 75 MB at the first stage: read from memory, it makes the product twice as
  slow); the weight gradient makes the runs again from the canvas. Canvases (zero border
  written once) and buffers are allocated once and reused every step (fresh large arrays cost
  page faults in every step).
- Backward of a stride-1 convolution: dW = G^T cols (one product); dX is the convolution of the
  padded G with the flipped kernel (one im2col and one product: no col2im). Strided ones: dX by
  col2im, one strided addition per kernel tap into a padded buffer. A 1x1 convolution needs no
  im2col at all (stride 1: x itself; stride 2: the strided pixels).
- Batch normalization on the (P, C) matrix: sums by ones-vector products (BLAS), dot products
  by einsum, per-channel scale and shift on a wide view (P C / L, L) with the channel vector
  tiled L / C times (a 16-wide inner loop is several times slower in NumPy). Training mode
  keeps only its input; its backward is dx = k1 G + k2 x + k3 per channel.
- ReLU in place; its gradient a mask product. Cross-entropy through log-sum-exp; SGD with
  momentum in place (PyTorch's rule: buf = mu buf + g, p -= lr buf).

Parameters are held in PyTorch's layouts and names (the torch twin's state dict), so the
three implementations start from the same weights and their gradients compare directly.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

F32 = np.float32


# ============================================================================ convolution

def windows(xp, k: int, stride: int, grid: tuple):
    """The (N, oh, ow, k, k, C) view of the windows of a padded (N, Hp, Wp, C) array."""
    sn, sh, sw, sc = xp.strides
    return as_strided(xp, (xp.shape[0],) + grid + (k, k, xp.shape[3]),
                      (sn, sh * stride, sw * stride, sh, sw, sc), writeable=False)


BUFFERS: dict = {}  # (name, shape) -> an array reused every step
CHUNK_BYTES = 4 << 20  # window rows multiplied at a time (they stay in the cache)


def buffer(name: str, shape: tuple, dtype=F32, zero: bool = False):
    """A persistent array (zeroed when first made, if asked: padded canvases keep their border)."""
    key = (name, shape)
    if key not in BUFFERS:
        BUFFERS[key] = (np.zeros if zero else np.empty)(shape, dtype)
    return BUFFERS[key]


def padded(x, pad: int, name: str):
    """x (N, H, W, C) inside a zero border of ``pad`` pixels, in a persistent buffer (border
    zeroed once)."""
    if pad == 0:
        return x
    n, h, w, c = x.shape
    out = buffer(name, (n, h + 2 * pad, w + 2 * pad, c), x.dtype, zero=True)
    out[:, pad:h + pad, pad:w + pad] = x
    return out


def windows_times(canvas, k: int, stride: int, grid: tuple, matrix, out=None):
    """(window matrix of ``canvas``) @ matrix, a run of images at a time (rows copied into a
    small buffer that the product reads from the cache)."""
    view = windows(canvas, k, stride, grid)
    n, c = canvas.shape[0], canvas.shape[3]
    per_image = grid[0] * grid[1]
    step = max(1, min(n, CHUNK_BYTES // (per_image * k * k * c * 4)))
    rows = buffer("chunk", (step * per_image, k * k * c), canvas.dtype)
    if out is None:
        out = np.empty((n * per_image, matrix.shape[1]), canvas.dtype)
    for n0 in range(0, n, step):
        part = view[n0:n0 + step]
        block = rows[:part.shape[0] * per_image]
        np.copyto(block.reshape(part.shape), part)
        np.matmul(block, matrix, out=out[n0 * per_image:(n0 + part.shape[0]) * per_image])
    return out


def windows_gradient(canvas, k: int, stride: int, grid: tuple, g_rows):
    """G^T (window matrix of ``canvas``), summed a run of images at a time."""
    view = windows(canvas, k, stride, grid)
    n, c = canvas.shape[0], canvas.shape[3]
    per_image = grid[0] * grid[1]
    step = max(1, min(n, CHUNK_BYTES // (per_image * k * k * c * 4)))
    rows = buffer("chunk", (step * per_image, k * k * c), canvas.dtype)
    total = np.zeros((g_rows.shape[1], k * k * c), canvas.dtype)
    part_sum = np.empty_like(total)
    for n0 in range(0, n, step):
        part = view[n0:n0 + step]
        block = rows[:part.shape[0] * per_image]
        np.copyto(block.reshape(part.shape), part)
        total += np.matmul(g_rows[n0 * per_image:(n0 + part.shape[0]) * per_image].T, block, out=part_sum)
    return total


def weight_matrix(w):
    """PyTorch's (O, C, k, k) weight as the (k k C, O) matrix the window rows multiply."""
    o, c, k, _ = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(k * k * c, o)


def conv_forward(x, w, stride: int, pad: int, name: str = "conv"):
    """y (N, oh, ow, O) = conv(x (N, H, W, C), w (O, C, k, k)); no bias; ``name`` keys its buffers."""
    n, h, wd, c = x.shape
    k = w.shape[2]
    grid = ((h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1)
    if k == 1 and pad == 0:
        canvas = x if stride == 1 else np.ascontiguousarray(x[:, ::stride, ::stride])
        y = canvas.reshape(-1, c) @ w.reshape(w.shape[0], c).T
    else:
        canvas = padded(x, pad, name)
        y = windows_times(canvas, k, stride, grid, weight_matrix(w))
    return y.reshape((n,) + grid + (w.shape[0],)), (x.shape, canvas, stride, pad, name)


def conv_backward(g, w, cache, need_dx: bool = True):
    """(dx (N, H, W, C), dw (O, C, k, k)) from g (N, oh, ow, O)."""
    shape, canvas, stride, pad, name = cache
    o, c, k, _ = w.shape
    rows = g.reshape(-1, o)
    n, h, wd, _ = shape
    if k == 1 and pad == 0:
        dw = (rows.T @ canvas.reshape(-1, c)).reshape(o, c, 1, 1)
        if not need_dx:
            return None, dw
        d = rows @ w.reshape(o, c)
        if stride == 1:
            return d.reshape(shape), dw
        dx = np.zeros(shape, g.dtype)
        dx[:, ::stride, ::stride] = d.reshape(g.shape[:3] + (c,))
        return dx, dw
    dw = windows_gradient(canvas, k, stride, g.shape[1:3], rows).reshape(o, k, k, c).transpose(0, 3, 1, 2)
    if not need_dx:
        return None, dw
    if stride == 1 and 2 * pad == k - 1:  # dX = conv(pad(G), flipped W): no col2im
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(k * k * o, c)
        dx = windows_times(padded(g, pad, "gradient"), k, 1, (h, wd), flipped)
        return dx.reshape(shape), dw
    d_cols = (rows @ weight_matrix(w).T).reshape(g.shape[:3] + (k, k, c))
    dxp = np.zeros((n, h + 2 * pad, wd + 2 * pad, c), g.dtype)
    oh, ow = g.shape[1:3]
    for i in range(k):
        for j in range(k):
            dxp[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += d_cols[:, :, :, i, j]
    return np.ascontiguousarray(dxp[:, pad:pad + h, pad:pad + wd]), dw


# ============================================================================ batch norm

def wide(rows):
    """(P, C) as (P C / L, L) with L a multiple of C near 1024 (a view), and the tiling factor."""
    p, c = rows.shape
    tiles = 1
    while tiles * c < 1024 and p % (2 * tiles) == 0:
        tiles *= 2
    return rows.reshape(-1, tiles * c), tiles


def bn_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """Training-mode batch norm of x (N, H, W, C) over N, H, W; updates the running statistics."""
    c = x.shape[-1]
    rows = x.reshape(-1, c)
    count = rows.shape[0]
    ones = np.ones(count, x.dtype)
    mean = (ones @ rows) * F32(1.0 / count)
    xw, tiles = wide(rows)
    centred = xw - np.tile(mean, tiles)
    var = np.einsum("ij,ij->j", centred, centred).reshape(tiles, c).sum(0) * F32(1.0 / count)
    inv = 1.0 / np.sqrt(var + F32(eps))
    scale = gamma * inv
    centred *= np.tile(scale, tiles)
    centred += np.tile(beta, tiles)
    running_mean *= F32(1 - momentum)
    running_mean += F32(momentum) * mean
    running_var *= F32(1 - momentum)
    running_var += F32(momentum * count / (count - 1)) * var
    return centred.reshape(x.shape), (x, mean, inv, gamma)


def bn_backward(g, cache):
    """(dx, dgamma, dbeta): with xhat = (x - mean) inv, dbeta = sum G, dgamma = sum G xhat and
    dx = gamma inv (G - dbeta / P - xhat dgamma / P) = k1 G + k2 x + k3 per channel."""
    x, mean, inv, gamma = cache
    c = x.shape[-1]
    grows, xrows = g.reshape(-1, c), x.reshape(-1, c)
    count = grows.shape[0]
    dbeta = np.ones(count, g.dtype) @ grows
    gw, tiles = wide(grows)
    xw, _ = wide(xrows)
    gx = np.einsum("ij,ij->j", gw, xw).reshape(tiles, c).sum(0)
    dgamma = (gx - mean * dbeta) * inv
    k1 = gamma * inv
    k2 = -k1 * inv * dgamma * F32(1.0 / count)
    k3 = -k2 * mean - k1 * dbeta * F32(1.0 / count)
    dx = gw * np.tile(k1, tiles)
    dx += xw * np.tile(k2, tiles)
    dx += np.tile(k3, tiles)
    return dx.reshape(g.shape), dgamma, dbeta


# ============================================================================ the network

def resnet_layout(depth: int = 20, widths=(16, 32, 64)):
    """[(block name, in channels, out channels, stride)] of the CIFAR ResNet (He et al. 2016):
    (depth - 2) / 6 basic blocks per stage."""
    per_stage = (depth - 2) // 6
    blocks, cin = [], widths[0]
    for stage, cout in enumerate(widths):
        for b in range(per_stage):
            stride = 2 if stage > 0 and b == 0 else 1
            blocks.append((f"layer{stage + 1}.{b}", cin, cout, stride))
            cin = cout
    return blocks


class NumpyResNet:
    """Forward, backward and an SGD-momentum step of the CIFAR ResNet, on the twin's state dict
    (keys ``conv1``, ``bn1``, ``layer{s}.{b}.conv1/bn1/conv2/bn2``, ``layer{s}.{b}.downsample.0/1``
    for the 1x1 projection shortcuts, ``fc``)."""

    def __init__(self, state: dict, depth: int = 20, widths=(16, 32, 64), lr=0.1, momentum=0.9):
        self.p = {k: np.array(v, dtype=F32) for k, v in state.items() if not k.endswith("num_batches_tracked")}
        self.blocks = resnet_layout(depth, widths)
        self.lr, self.momentum = F32(lr), F32(momentum)
        self.buffers = {}
        self.grads = {}

    # ---------------------------------------------------------------- pieces
    def conv_bn(self, x, conv, bn, stride, pad):
        p = self.p
        y, conv_cache = conv_forward(x, p[conv + ".weight"], stride, pad, conv)
        z, bn_cache = bn_forward(y, p[bn + ".weight"], p[bn + ".bias"], p[bn + ".running_mean"],
                                 p[bn + ".running_var"])
        return z, (conv, bn, conv_cache, bn_cache)

    def conv_bn_backward(self, g, cache, need_dx=True):
        conv, bn, conv_cache, bn_cache = cache
        dy, self.grads[bn + ".weight"], self.grads[bn + ".bias"] = bn_backward(g, bn_cache)
        dx, self.grads[conv + ".weight"] = conv_backward(dy, self.p[conv + ".weight"], conv_cache, need_dx)
        return dx

    # ---------------------------------------------------------------- step
    def forward(self, images, labels):
        """Mean cross-entropy of the logits of ``images`` (N, 3, H, W) against ``labels``."""
        x = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        h, stem = self.conv_bn(x, "conv1", "bn1", 1, 1)
        np.maximum(h, 0, out=h)
        caches = [stem, h]
        for name, cin, cout, stride in self.blocks:
            a, c1 = self.conv_bn(h, name + ".conv1", name + ".bn1", stride, 1)
            np.maximum(a, 0, out=a)
            b, c2 = self.conv_bn(a, name + ".conv2", name + ".bn2", 1, 1)
            shortcut = None
            if stride != 1 or cin != cout:
                s, shortcut = self.conv_bn(h, name + ".downsample.0", name + ".downsample.1", stride, 0)
                b += s
            else:
                b += h
            np.maximum(b, 0, out=b)
            caches.append((c1, a, c2, shortcut, b))
            h = b
        pooled = h.mean(axis=(1, 2))
        logits = pooled @ self.p["fc.weight"].T
        logits += self.p["fc.bias"]
        top = logits.max(axis=1, keepdims=True)
        exps = np.exp(logits - top)
        total = exps.sum(axis=1, keepdims=True)
        n = labels.shape[0]
        loss = float(np.mean(np.log(total[:, 0]) + top[:, 0] - logits[np.arange(n), labels]))
        self.saved = (caches, h.shape, pooled, exps / total, labels)
        return loss

    def backward(self) -> None:
        caches, shape, pooled, probs, labels = self.saved
        n = labels.shape[0]
        d = probs
        d[np.arange(n), labels] -= 1
        d *= F32(1.0 / n)
        self.grads["fc.weight"] = d.T @ pooled
        self.grads["fc.bias"] = d.sum(0)
        dpool = d @ self.p["fc.weight"]
        g = np.empty(shape, F32)
        g[...] = (dpool * F32(1.0 / (shape[1] * shape[2])))[:, None, None, :]
        for c1, a, c2, shortcut, out in reversed(caches[2:]):
            g *= out > 0
            dx = self.conv_bn_backward(g, c2)
            dx *= a > 0
            dh = self.conv_bn_backward(dx, c1)
            dh += self.conv_bn_backward(g, shortcut) if shortcut is not None else g
            g = dh
        g *= caches[1] > 0
        self.conv_bn_backward(g, caches[0], need_dx=False)
        self.saved = None

    def update(self) -> None:
        """PyTorch's SGD with momentum: buf = mu buf + g (buf = g at the first step); p -= lr buf."""
        for name, grad in self.grads.items():
            buf = self.buffers.get(name)
            if buf is None:
                self.buffers[name] = buf = np.array(grad, dtype=F32)
            else:
                buf *= self.momentum
                buf += grad
            param = self.p[name]
            param -= self.lr * buf

    def step(self, images, labels) -> float:
        loss = self.forward(images, labels)
        self.backward()
        self.update()
        return loss
