"""A character GPT written by hand in NumPy: the floor that bench_gpt.py measures chainrule against.

The model of ``chainrule.models.gpt`` (decoder-only, pre-norm blocks ``h + SA(LN1(h))``,
``h + W2 gelu(W1 LN2(h) + b1) + b2``, learned positions, a final LayerNorm, the output layer tied
to the token embedding), its cross-entropy over every position, the closed-form backward and
PyTorch's AdamW, float32 throughout, as a performance-minded person writes it on NumPy alone:

- one packed QKV product per block; attention as batched products on strided (N, H, T, d)
  views of it (no copies), the causal mask added once, a stable softmax in place, the heads'
  output written straight into the (N, T, H d) layout the output projection reads; backward
  with FlashAttention's D = rowsum(dO * O), dQ, dK, dV written into one packed buffer;
- LayerNorm with ones-vector products and einsum row dots, its closed-form backward;
- exact GELU through ``scipy.special.erf`` (what chainrule and torch compute);
- the embedding's gradient as a one-hot product (V = 65 rows: one small GEMM instead of a
  scatter), the tied head's added to it;
- AdamW exactly as ``torch.optim.AdamW`` (decoupled decay, bias corrections), in place.

Parameters are held under the chainrule model's state-dict names, so the three implementations
start from the same weights and their gradients compare directly.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

F32 = np.float32


def layer_norm(x, gamma, beta, eps=1e-5):
    """Rows of x (M, D) normalized: (y, xhat, rstd)."""
    width = x.shape[-1]
    mean = x @ np.full(width, 1.0 / width, F32)
    xhat = x - mean[:, None]
    var = np.einsum("ij,ij->i", xhat, xhat)
    var *= F32(1.0 / width)
    var += F32(eps)
    rstd = 1.0 / np.sqrt(var)
    xhat *= rstd[:, None]
    y = xhat * gamma
    y += beta
    return y, xhat, rstd


def layer_norm_backward(dy, xhat, rstd, gamma):
    width = dy.shape[-1]
    dgamma = np.einsum("ij,ij->j", dy, xhat)
    dbeta = np.ones(dy.shape[0], F32) @ dy
    d = dy * gamma
    proj = np.einsum("ij,ij->i", d, xhat)
    proj *= F32(1.0 / width)
    mean = d @ np.full(width, 1.0 / width, F32)
    d -= mean[:, None]
    d -= xhat * proj[:, None]
    d *= rstd[:, None]
    return d, dgamma, dbeta


class NumpyGPT:
    """Forward, backward and an AdamW step of ``chainrule.models.gpt(vocab, context, layers,
    heads, width)`` on its state dict."""

    def __init__(self, state: dict, layers: int, heads: int, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=1e-2):
        self.p = {k: np.array(v, dtype=F32) for k, v in state.items() if k != "head.weight"}
        self.layers, self.heads = layers, heads
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.moments, self.steps = {}, 0
        self.grads = {}

    # ---------------------------------------------------------------- attention
    def attention(self, qkv, n, t):
        width = qkv.shape[-1] // 3
        heads, d = self.heads, width // self.heads
        split = qkv.reshape(n, t, 3, heads, d)
        q, k, v = (split[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        scale = F32(1.0 / math.sqrt(d))
        scores = np.matmul(q * scale, k.transpose(0, 1, 3, 2))
        scores += self.mask[:t, :t]
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores *= (1.0 / (scores @ np.ones(t, F32)))[..., None]
        out = np.empty((n, t, heads, d), F32)
        np.matmul(scores, v, out=out.transpose(0, 2, 1, 3))
        return out.reshape(n * t, width), (q, k, v, scores, out, scale)

    def attention_backward(self, d_att, cache, n, t):
        q, k, v, probs, out, scale = cache
        heads, d = q.shape[1], q.shape[3]
        d_out = d_att.reshape(n, t, heads, d).transpose(0, 2, 1, 3)
        dqkv = np.empty((n, t, 3, heads, d), F32)
        dq, dk, dv = (dqkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        np.matmul(probs.transpose(0, 1, 3, 2), d_out, out=dv)
        dp = np.matmul(d_out, v.transpose(0, 1, 3, 2))
        dp -= np.einsum("bhld,bhld->bhl", d_out, out.transpose(0, 2, 1, 3))[..., None]
        dp *= probs
        np.matmul(dp, k, out=dq)
        dq *= scale
        np.matmul(dp.transpose(0, 1, 3, 2), q, out=dk)
        dk *= scale
        return dqkv.reshape(n * t, 3 * heads * d)

    # ---------------------------------------------------------------- step
    def forward(self, idx, targets):
        p = self.p
        n, t = idx.shape
        if not hasattr(self, "mask") or self.mask.shape[0] < t:
            self.mask = np.triu(np.full((t, t), -np.inf, F32), 1)
        h = p["token_embedding.weight"][idx.reshape(-1)]
        h += np.tile(p["position_embedding.weight"][:t], (n, 1))
        caches = []
        for i in range(self.layers):
            b = f"blocks.{i}."
            a, xhat1, rstd1 = layer_norm(h, p[b + "norm1.weight"], p[b + "norm1.bias"])
            qkv = a @ p[b + "self_attn.in_proj_weight"].T
            qkv += p[b + "self_attn.in_proj_bias"]
            att, att_cache = self.attention(qkv, n, t)
            o = att @ p[b + "self_attn.out_proj.weight"].T
            o += p[b + "self_attn.out_proj.bias"]
            h = h + o
            c, xhat2, rstd2 = layer_norm(h, p[b + "norm2.weight"], p[b + "norm2.bias"])
            z = c @ p[b + "linear1.weight"].T
            z += p[b + "linear1.bias"]
            cdf = erf(z * F32(1 / math.sqrt(2)))
            cdf += 1
            cdf *= F32(0.5)
            g = z * cdf
            f = g @ p[b + "linear2.weight"].T
            f += p[b + "linear2.bias"]
            h = h + f
            caches.append((a, xhat1, rstd1, att, att_cache, c, xhat2, rstd2, z, cdf, g))
        y, xhat, rstd = layer_norm(h, p["norm.weight"], p["norm.bias"])
        logits = y @ p["token_embedding.weight"].T
        top = logits.max(axis=1, keepdims=True)
        exps = np.exp(logits - top)
        total = exps.sum(axis=1, keepdims=True)
        rows, labels = np.arange(n * t), targets.reshape(-1)
        loss = float(np.mean(np.log(total[:, 0]) + top[:, 0] - logits[rows, labels]))
        exps /= total
        self.saved = (idx, labels, caches, y, xhat, rstd, exps, n, t)
        return loss

    def backward(self) -> None:
        p, grads = self.p, {}
        idx, labels, caches, y, xhat, rstd, d, n, t = self.saved
        rows = d.shape[0]
        d[np.arange(rows), labels] -= 1
        d *= F32(1.0 / rows)
        emb = p["token_embedding.weight"]
        d_emb = d.T @ y
        dy = d @ emb
        dh, grads["norm.weight"], grads["norm.bias"] = layer_norm_backward(dy, xhat, rstd, p["norm.weight"])
        for i in reversed(range(self.layers)):
            b = f"blocks.{i}."
            a, xhat1, rstd1, att, att_cache, c, xhat2, rstd2, z, cdf, g = caches[i]
            grads[b + "linear2.weight"] = dh.T @ g
            grads[b + "linear2.bias"] = np.ones(rows, F32) @ dh
            dg = dh @ p[b + "linear2.weight"]
            pdf = np.exp(z * z * F32(-0.5))
            pdf *= z
            pdf *= F32(1 / math.sqrt(2 * math.pi))
            pdf += cdf
            dg *= pdf
            grads[b + "linear1.weight"] = dg.T @ c
            grads[b + "linear1.bias"] = np.ones(rows, F32) @ dg
            dc = dg @ p[b + "linear1.weight"]
            dx, grads[b + "norm2.weight"], grads[b + "norm2.bias"] = layer_norm_backward(
                dc, xhat2, rstd2, p[b + "norm2.weight"])
            dh += dx
            grads[b + "self_attn.out_proj.weight"] = dh.T @ att
            grads[b + "self_attn.out_proj.bias"] = np.ones(rows, F32) @ dh
            d_att = dh @ p[b + "self_attn.out_proj.weight"]
            dqkv = self.attention_backward(d_att, att_cache, n, t)
            grads[b + "self_attn.in_proj_weight"] = dqkv.T @ a
            grads[b + "self_attn.in_proj_bias"] = np.ones(rows, F32) @ dqkv
            da = dqkv @ p[b + "self_attn.in_proj_weight"]
            dx, grads[b + "norm1.weight"], grads[b + "norm1.bias"] = layer_norm_backward(
                da, xhat1, rstd1, p[b + "norm1.weight"])
            dh += dx
        grads["position_embedding.weight"] = np.zeros_like(p["position_embedding.weight"])
        grads["position_embedding.weight"][:t] = dh.reshape(n, t, -1).sum(axis=0)
        one_hot = np.zeros((rows, emb.shape[0]), F32)
        one_hot[np.arange(rows), idx.reshape(-1)] = 1
        d_emb += one_hot.T @ dh
        grads["token_embedding.weight"] = d_emb
        self.grads, self.saved = grads, None

    def update(self) -> None:
        """torch.optim.AdamW: p *= 1 - lr wd; m, v moments; p -= lr/bc1 m / (sqrt(v)/sqrt(bc2) + eps)."""
        self.steps += 1
        beta1, beta2 = self.betas
        bc1, bc2 = 1 - beta1 ** self.steps, 1 - beta2 ** self.steps
        decay, step = F32(1 - self.lr * self.weight_decay), F32(self.lr / bc1)
        root_bc2, eps = F32(math.sqrt(bc2)), F32(self.eps)
        for name, grad in self.grads.items():
            param = self.p[name]
            if name not in self.moments:
                self.moments[name] = (np.zeros_like(param), np.zeros_like(param), np.empty_like(param))
            m, v, scratch = self.moments[name]
            param *= decay
            m *= F32(beta1)
            np.multiply(grad, F32(1 - beta1), out=scratch)
            m += scratch
            v *= F32(beta2)
            np.multiply(grad, grad, out=scratch)
            scratch *= F32(1 - beta2)
            v += scratch
            np.sqrt(v, out=scratch)
            scratch /= root_bc2
            scratch += eps
            np.divide(m, scratch, out=scratch)
            scratch *= step
            param -= scratch
