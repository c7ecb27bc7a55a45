"""A CIFAR ResNet written by hand in NumPy: the floor that bench_conv.py measures chainrule against.

Written as a performance-minded person writes it on NumPy alone (float32 throughout):

- Activations are kept channels-last, (N, H, W, C) in memory, so that a convolution is ONE
  matrix product of the window matrix (N oh ow, kh kw C) (each output pixel's patch one
  contiguous row) with the weight as (kh kw C, O), and every output pixel's channels are
  contiguous for the next layer. Measured on the 2-core benchmark machine, this orientation
  is 20-30% faster in OpenBLAS than the channel-first (O, kh kw C) x (kh kw C, N oh ow) one for
  the thin matrices of a ResNet's first stage (16 channels).
- im2col: one strided copy of a zero-padded buffer's windows (``as_strided``) into the
  window matrix, kept for the weight gradient. Window matrices live in buffers allocated once
  and reused every step (a fresh 75 MB array costs page faults on every step).
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

def padded(x, pad: int):
    """x (N, H, W, C) inside a zero border of ``pad`` pixels: a new (N, H + 2p, W + 2p, C) array."""
    if pad == 0:
        return x
    n, h, w, c = x.shape
    out = np.empty((n, h + 2 * pad, w + 2 * pad, c), x.dtype)
    out[:, :pad] = 0
    out[:, h + pad:] = 0
    out[:, pad:h + pad, :pad] = 0
    out[:, pad:h + pad, w + pad:] = 0
    out[:, pad:h + pad, pad:w + pad] = x
    return out


def windows(xp, k: int, stride: int, grid: tuple):
    """The (N, oh, ow, k, k, C) view of the windows of a padded (N, Hp, Wp, C) array."""
    sn, sh, sw, sc = xp.strides
    return as_strided(xp, (xp.shape[0],) + grid + (k, k, xp.shape[3]),
                      (sn, sh * stride, sw * stride, sh, sw, sc), writeable=False)


BUFFERS: dict = {}  # (name, shape) -> a window matrix reused every step


def buffer(name: str, shape: tuple, dtype=F32):
    key = (name, shape)
    if key not in BUFFERS:
        BUFFERS[key] = np.empty(shape, dtype)
    return BUFFERS[key]


def im2col(x, k: int, stride: int, pad: int, name: str = "cols"):
    """The window matrix (N oh ow, k k C) of x (N, H, W, C), in the buffer ``name``, and the grid."""
    n, h, w, c = x.shape
    grid = ((h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)
    if k == 1 and pad == 0:
        picked = x if stride == 1 else np.ascontiguousarray(x[:, ::stride, ::stride])
        return picked.reshape(-1, c), grid
    cols = buffer(name, (n,) + grid + (k, k, c), x.dtype)
    np.copyto(cols, windows(padded(x, pad), k, stride, grid))
    return cols.reshape(-1, k * k * c), grid


def weight_matrix(w):
    """PyTorch's (O, C, k, k) weight as the (k k C, O) matrix the window rows multiply."""
    o, c, k, _ = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(k * k * c, o)


def conv_forward(x, w, stride: int, pad: int, name: str = "cols"):
    """y (N, oh, ow, O) = conv(x (N, H, W, C), w (O, C, k, k)); no bias; windows in buffer ``name``."""
    k = w.shape[2]
    cols, grid = im2col(x, k, stride, pad, name)
    y = cols @ weight_matrix(w)
    return y.reshape((x.shape[0],) + grid + (w.shape[0],)), (x.shape, cols, stride, pad)


def conv_backward(g, w, cache, need_dx: bool = True):
    """(dx (N, H, W, C), dw (O, C, k, k)) from g (N, oh, ow, O)."""
    shape, cols, stride, pad = cache
    o, c, k, _ = w.shape
    rows = g.reshape(-1, o)
    dw = (rows.T @ cols).reshape(o, k, k, c).transpose(0, 3, 1, 2)
    if not need_dx:
        return None, dw
    n, h, wd, _ = shape
    if k == 1 and pad == 0:
        d = rows @ w.reshape(o, c)
        if stride == 1:
            return d.reshape(shape), dw
        dx = np.zeros(shape, g.dtype)
        dx[:, ::stride, ::stride] = d.reshape(g.shape[:3] + (c,))
        return dx, dw
    if stride == 1 and 2 * pad == k - 1:  # dX = conv(pad(G), flipped W): no col2im
        gcols, _ = im2col(g, k, 1, pad, "gradient windows")
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)).reshape(k * k * o, c)
        return (gcols @ flipped).reshape(shape), dw
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
