"""Forward values and gradients of random compositions equal PyTorch's.

Hypothesis draws a chain of 2-6 ops from a table; each op maps a 2-D float64 tensor
to another 2-D tensor and may introduce new leaves (weights, biases, noise). The same
chain runs in chainrule and in PyTorch on the same numbers; the outputs and the
gradient of every leaf must agree to float64 round-off. Ops whose gradient depends
on ties (max/min, std at zero spread) act on ``h + noise`` with a random leaf
``noise``, so ties have probability zero.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


# ---------------------------------------------------------------------- the op table

class Leaf:
    """A float64 array that becomes a requires-grad leaf in both libraries."""

    def __init__(self, array):
        self.array = np.asarray(array, dtype=np.float64)


class Const:
    """An array that becomes a constant tensor (index arrays, masks) in both libraries."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _normal(rng, shape, scale=1.0):
    return Leaf(rng.standard_normal(shape) * scale)


def _dim(rng):
    return int(rng.integers(0, 2))


def _no_args(rng, shape):
    return []


def _dim_arg(rng, shape):
    return [_dim(rng)]


def _noise_and_dim(rng, shape):
    return [_normal(rng, shape), _dim(rng)]


def _std_args(rng, shape):
    d = _dim(rng)
    return [_normal(rng, shape), d, int(rng.integers(0, min(2, shape[d] - 1) + 1))]


def _row_index(rng, shape):
    count = int(rng.integers(2, 5))
    return [Const(rng.integers(0, shape[0], size=count))]  # repeats are likely: grads accumulate


def _row_mask(rng, shape):
    mask = rng.random(shape[0]) < 0.6
    mask[rng.choice(shape[0], size=2, replace=False)] = True  # at least 2 rows survive
    return [Const(mask)]


def _column_slice(rng, shape):
    return [1 if shape[1] >= 3 else 0]


def _cat_args(rng, shape):
    d = _dim(rng)
    extra = list(shape)
    extra[d] = int(rng.integers(1, 3))
    return [_normal(rng, tuple(extra)), d]


def _pad_args(rng, shape):
    return [tuple(int(w) for w in rng.integers(0, 3, size=4)), float(rng.standard_normal())]


def _chunk_args(rng, shape):
    return [_dim(rng)]


def _same_shape_index(rng, shape):
    d = _dim(rng)
    return [d, Const(rng.integers(0, shape[d], size=shape))]


def _square_leaf(rng, shape):
    return [Leaf(np.eye(shape[0]) * 3.0 + rng.standard_normal((shape[0], shape[0])) * 0.3)]


def _setitem(h, b):
    out = h * 1.0
    out[0] = b
    return out


def _setitem_torch(h, b):
    out = h * 1.0
    out[0] = b
    return out


# Each row: name, prepare(rng, shape) -> extra args, chainrule fn(h, *args), torch fn(h, *args).
OPS = [
    # elementwise unary
    ("neg", _no_args, lambda h: -h, lambda h: -h),
    ("exp", _no_args, lambda h: (h * 0.3).exp(), lambda h: (h * 0.3).exp()),
    ("log", _no_args, lambda h: cr.log(h * h + 1.0), lambda h: torch.log(h * h + 1.0)),
    ("log1p", _no_args, lambda h: cr.log1p(h * h), lambda h: torch.log1p(h * h)),
    ("sqrt", _no_args, lambda h: (h * h + 0.5).sqrt(), lambda h: (h * h + 0.5).sqrt()),
    ("abs", _no_args, lambda h: abs(h), lambda h: abs(h)),
    ("sin", _no_args, cr.sin, torch.sin),
    ("cos", _no_args, cr.cos, torch.cos),
    ("tanh", _no_args, cr.tanh, torch.tanh),
    ("sigmoid", _no_args, cr.sigmoid, torch.sigmoid),
    ("relu", _no_args, cr.relu, torch.relu),
    ("leaky_relu", _no_args, lambda h: cr.leaky_relu(h, 0.1), lambda h: F.leaky_relu(h, 0.1)),
    ("gelu", _no_args, lambda h: cr.gelu(h), lambda h: F.gelu(h)),
    ("gelu_tanh", _no_args, lambda h: cr.gelu(h, approximate="tanh"), lambda h: F.gelu(h, approximate="tanh")),
    ("clamp", _no_args, lambda h: h.clamp(-0.5, 0.7), lambda h: h.clamp(-0.5, 0.7)),
    ("clamp_min", _no_args, lambda h: cr.clamp(h, min=0.1), lambda h: torch.clamp(h, min=0.1)),
    ("clamp_max", _no_args, lambda h: h.clamp(max=0.2), lambda h: h.clamp(max=0.2)),
    ("square", _no_args, lambda h: h ** 2, lambda h: h ** 2),
    ("cube", _no_args, lambda h: h ** 3 * 0.5, lambda h: h ** 3 * 0.5),
    ("rpow", _no_args, lambda h: 2.0 ** (h * 0.5), lambda h: 2.0 ** (h * 0.5)),
    ("rsub", _no_args, lambda h: 1.0 - h, lambda h: 1.0 - h),
    ("rdiv", _no_args, lambda h: 1.0 / (h * h + 1.0), lambda h: 1.0 / (h * h + 1.0)),
    ("scalar_div", _no_args, lambda h: h / 3.0 + 0.25, lambda h: h / 3.0 + 0.25),
    # binary with new leaves, broadcasting
    ("add_row", lambda r, s: [_normal(r, (s[1],))], lambda h, b: h + b, lambda h, b: h + b),
    ("sub_col", lambda r, s: [_normal(r, (s[0], 1))], lambda h, b: b - h, lambda h, b: b - h),
    ("mul", lambda r, s: [_normal(r, s)], lambda h, b: h * b, lambda h, b: h * b),
    ("div", lambda r, s: [_normal(r, (s[1],))], lambda h, b: h / (b * b + 1.0), lambda h, b: h / (b * b + 1.0)),
    ("pow_tensor", lambda r, s: [_normal(r, (1, s[1]))], lambda h, e: (h * h + 1.0) ** e,
     lambda h, e: (h * h + 1.0) ** e),
    ("maximum", lambda r, s: [_normal(r, s)], cr.maximum, torch.maximum),
    ("minimum", lambda r, s: [_normal(r, (s[1],))], cr.minimum, torch.minimum),
    ("where", lambda r, s: [_normal(r, s)], lambda h, b: cr.where(h > 0, h, b * 2.0),
     lambda h, b: torch.where(h > 0, h, b * 2.0)),
    # matrix products
    ("matmul_right", lambda r, s: [_normal(r, (s[1], int(r.integers(2, 5))), s[1] ** -0.5)], lambda h, w: h @ w,
     lambda h, w: h @ w),
    ("matmul_left", lambda r, s: [_normal(r, (int(r.integers(2, 5)), s[0]), s[0] ** -0.5)], lambda h, w: w @ h,
     lambda h, w: w @ h),
    ("matmul_batched", lambda r, s: [_normal(r, (2, s[1], 3), s[1] ** -0.5)],
     lambda h, w: (h.unsqueeze(0) @ w).sum(dim=0), lambda h, w: (h.unsqueeze(0) @ w).sum(dim=0)),
    ("matvec", lambda r, s: [_normal(r, (s[1],))], lambda h, v: (h @ v).unsqueeze(1) * h,
     lambda h, v: (h @ v).unsqueeze(1) * h),
    ("vecmat", lambda r, s: [_normal(r, (s[0],))], lambda h, v: (v @ h).unsqueeze(0) + h,
     lambda h, v: (v @ h).unsqueeze(0) + h),
    ("gram", _no_args, lambda h: h @ h.T * 0.3, lambda h: h @ h.T * 0.3),
    # normalizations and reductions (broadcast back to 2-D)
    ("softmax", _dim_arg, lambda h, d: cr.softmax(h, dim=d), lambda h, d: torch.softmax(h, dim=d)),
    ("log_softmax", _dim_arg, lambda h, d: h.log_softmax(d), lambda h, d: torch.log_softmax(h, dim=d)),
    ("logsumexp", _dim_arg, lambda h, d: h - cr.logsumexp(h, dim=d, keepdim=True),
     lambda h, d: h - torch.logsumexp(h, dim=d, keepdim=True)),
    ("logsumexp_all", _no_args, lambda h: h * cr.logsumexp(h), lambda h: h * torch.logsumexp(h, dim=(0, 1))),
    ("center", _dim_arg, lambda h, d: h - h.mean(dim=d, keepdim=True), lambda h, d: h - h.mean(dim=d, keepdim=True)),
    ("sum_scale", _dim_arg, lambda h, d: h * h.sum(axis=d, keepdims=True) * 0.2,
     lambda h, d: h * h.sum(dim=d, keepdim=True) * 0.2),
    ("normalize", _no_args, lambda h: h / ((h * h).sum() + 1.0).sqrt(), lambda h: h / ((h * h).sum() + 1.0).sqrt()),
    ("mean_all", _no_args, lambda h: h - h.mean(), lambda h: h - h.mean()),
    ("var", _std_args, lambda h, n, d, c: h * (h + n).var(dim=d, keepdim=True, correction=c),
     lambda h, n, d, c: h * (h + n).var(dim=d, keepdim=True, correction=c)),
    ("std", _std_args, lambda h, n, d, c: h / ((h + n).std(dim=d, keepdim=True, correction=c) + 1.0),
     lambda h, n, d, c: h / ((h + n).std(dim=d, keepdim=True, correction=c) + 1.0)),
    ("std_nokeep", _noise_and_dim, lambda h, n, d: (h + n).std(dim=d).unsqueeze(d) * h,
     lambda h, n, d: (h + n).std(dim=d).unsqueeze(d) * h),
    ("max", _noise_and_dim, lambda h, n, d: h - (h + n).max(dim=d, keepdim=True).values,
     lambda h, n, d: h - (h + n).max(dim=d, keepdim=True).values),
    ("min", _noise_and_dim, lambda h, n, d: h * (h + n).min(dim=d).values.unsqueeze(d),
     lambda h, n, d: h * (h + n).min(dim=d).values.unsqueeze(d)),
    ("amax", _noise_and_dim, lambda h, n, d: h - (h + n).amax(dim=d, keepdim=True),
     lambda h, n, d: h - torch.amax(h + n, dim=d, keepdim=True)),
    ("max_all", lambda r, s: [_normal(r, s)], lambda h, n: h + cr.max(h + n), lambda h, n: h + torch.amax(h + n)),
    ("min_all", lambda r, s: [_normal(r, s)], lambda h, n: h * (h + n).min(), lambda h, n: h * torch.amin(h + n)),
    # shapes, indexing, joining
    ("transpose", _no_args, lambda h: h.T, lambda h: h.T),
    ("t", _no_args, lambda h: h.t(), lambda h: h.t()),
    ("reshape", _no_args, lambda h: h.reshape(h.shape[1], h.shape[0]), lambda h: h.reshape(h.shape[1], h.shape[0])),
    ("flatten_back", _no_args, lambda h: h.flatten().reshape(-1, h.shape[1]),
     lambda h: h.flatten().reshape(-1, h.shape[1])),
    ("expand_sum", _no_args, lambda h: h.unsqueeze(0).expand(3, -1, -1).sum(0) * 0.5,
     lambda h: h.unsqueeze(0).expand(3, -1, -1).sum(0) * 0.5),
    ("index_rows", _row_index, lambda h, i: h[cr.tensor(i)], lambda h, i: h[i]),
    ("mask_rows", _row_mask, lambda h, m: h[m], lambda h, m: h[m]),
    ("slice", _column_slice, lambda h, k: h[:, k:], lambda h, k: h[:, k:]),
    ("index_pair", lambda r, s: [Const(r.integers(0, s[0], 3)), Const(r.integers(0, s[1], 3))],
     lambda h, i, j: h[i, j].reshape(1, 3) + h[:, :1], lambda h, i, j: h[i, j].reshape(1, 3) + h[:, :1]),
    ("cat", _cat_args, lambda h, b, d: cr.cat([h, b], dim=d), lambda h, b, d: torch.cat([h, b], dim=d)),
    ("cat_self", _dim_arg, lambda h, d: cr.cat([h, cr.sin(h)], d), lambda h, d: torch.cat([h, torch.sin(h)], d)),
    ("stack", _no_args, lambda h: cr.stack([h, h * h], dim=1).reshape(h.shape[0] * 2, -1),
     lambda h: torch.stack([h, h * h], dim=1).reshape(h.shape[0] * 2, -1)),
    ("chunk_swap", _chunk_args, lambda h, d: cr.cat(list(h.chunk(2, dim=d))[::-1], dim=d),
     lambda h, d: torch.cat(list(h.chunk(2, dim=d))[::-1], dim=d)),
    ("split_mix", _no_args,
     lambda h: cr.cat([p * (k + 1.0) for k, p in enumerate(h.split([1, h.shape[1] - 1], dim=1))], dim=1),
     lambda h: torch.cat([p * (k + 1.0) for k, p in enumerate(h.split([1, h.shape[1] - 1], dim=1))], dim=1)),
    ("pad", _pad_args, lambda h, p, v: cr.pad(h, p, value=v), lambda h, p, v: F.pad(h, p, value=v)),
    ("permute", _no_args, lambda h: h.permute(1, 0) * 1.5, lambda h: h.permute(1, 0) * 1.5),
    # more elementwise functions (issue 16)
    ("softplus", _no_args, lambda h: cr.ops.softplus(h), lambda h: F.softplus(h)),
    ("silu", _no_args, lambda h: cr.ops.silu(h), lambda h: F.silu(h)),
    ("elu", _no_args, lambda h: cr.ops.elu(h), lambda h: F.elu(h)),
    ("selu", _no_args, cr.selu, torch.selu),
    ("hardtanh", _no_args, lambda h: cr.ops.hardtanh(h * 2.0), lambda h: F.hardtanh(h * 2.0)),
    ("expm1", _no_args, lambda h: (h * 0.5).expm1(), lambda h: (h * 0.5).expm1()),
    ("erf", _no_args, cr.erf, torch.erf),
    ("floor_sign", _no_args, lambda h: h * h.floor() + h.sign() * h + h.round(decimals=1),
     lambda h: h * h.floor() + h.sign() * h + h.round(decimals=1)),
    ("ceil_trunc", _no_args, lambda h: h * cr.ceil(h) - cr.trunc(h * 3.0),
     lambda h: h * torch.ceil(h) - torch.trunc(h * 3.0)),
    ("atan2", lambda r, s: [_normal(r, (s[1],))], cr.atan2, torch.atan2),
    ("logaddexp", lambda r, s: [_normal(r, s)], cr.logaddexp, torch.logaddexp),
    ("lerp", lambda r, s: [_normal(r, s), _normal(r, (s[1],))], lambda h, e, w: cr.lerp(h, e, w),
     lambda h, e, w: torch.lerp(h, e, w)),
    # gathering and scattering
    ("gather", _same_shape_index, lambda h, d, i: h.gather(d, i), lambda h, d, i: h.gather(d, i)),
    ("take_along_dim", _same_shape_index, lambda h, d, i: cr.take_along_dim(h, i, d),
     lambda h, d, i: torch.take_along_dim(h, i, d)),
    ("scatter_add", lambda r, s: [_normal(r, s), *_same_shape_index(r, s)],
     lambda h, src, d, i: h.scatter_add(d, i, src), lambda h, src, d, i: h.scatter_add(d, i, src)),
    ("scatter_amax", lambda r, s: [_normal(r, s), *_same_shape_index(r, s)],
     lambda h, src, d, i: h.scatter_reduce(d, i, src, "amax"),
     lambda h, src, d, i: h.scatter_reduce(d, i, src, "amax")),
    ("scatter_mean", lambda r, s: [_normal(r, s), *_same_shape_index(r, s)],
     lambda h, src, d, i: h.scatter_reduce(d, i, src, "mean", include_self=False),
     lambda h, src, d, i: h.scatter_reduce(d, i, src, "mean", include_self=False)),
    ("index_select", _row_index, lambda h, i: h.index_select(0, i), lambda h, i: h.index_select(0, i)),
    ("index_add", lambda r, s: [Const(r.integers(0, s[0], size=3)), _normal(r, (3, s[1]))],
     lambda h, i, src: h.index_add(0, i, src), lambda h, i, src: h.index_add(0, i, src)),
    ("masked_fill", lambda r, s: [Const(r.random(s) < 0.4)], lambda h, m: h.masked_fill(m, 0.5),
     lambda h, m: h.masked_fill(m, 0.5)),
    ("setitem_row", lambda r, s: [_normal(r, (s[1],))], _setitem, _setitem_torch),
    # linear algebra and contractions
    ("einsum", lambda r, s: [_normal(r, (3, s[1]))], lambda h, w: cr.einsum("ij,kj->ik", h, w),
     lambda h, w: torch.einsum("ij,kj->ik", h, w)),
    ("einsum_trace", _no_args, lambda h: h * cr.einsum("ij,ij->", h, h), lambda h: h * torch.einsum("ij,ij->", h, h)),
    ("mm_outer", lambda r, s: [_normal(r, (s[0],))], lambda h, v: cr.outer(v, v) @ h * 0.3 + h,
     lambda h, v: torch.outer(v, v) @ h * 0.3 + h),
    ("diag_trace", _no_args, lambda h: h * cr.diagonal(h.T @ h) + cr.trace(h @ h.T) * 0.1,
     lambda h: h * torch.diagonal(h.T @ h) + torch.trace(h @ h.T) * 0.1),
    ("tril_triu", _no_args, lambda h: h.tril() - h.triu(1) * 2.0, lambda h: h.tril() - h.triu(1) * 2.0),
    ("vector_norm", _dim_arg, lambda h, d: h / (cr.linalg.vector_norm(h, 2, dim=d, keepdim=True) + 1.0),
     lambda h, d: h / (torch.linalg.vector_norm(h, 2, dim=d, keepdim=True) + 1.0)),
    ("norm_l1_inf", _no_args, lambda h: h * cr.linalg.vector_norm(h, 1) - cr.linalg.vector_norm(h, float("inf")),
     lambda h: h * torch.linalg.vector_norm(h, 1) - torch.linalg.vector_norm(h, float("inf"))),
    ("matrix_norm", _no_args, lambda h: h / (cr.linalg.matrix_norm(h) + 1.0),
     lambda h: h / (torch.linalg.matrix_norm(h) + 1.0)),
    ("solve", _square_leaf, lambda h, a: cr.linalg.solve(a, h), lambda h, a: torch.linalg.solve(a, h)),
    ("inv_det", _square_leaf, lambda h, a: cr.linalg.inv(a) @ h * cr.linalg.det(a),
     lambda h, a: torch.linalg.inv(a) @ h * torch.linalg.det(a)),
    ("cholesky_slogdet", _no_args,
     lambda h: cr.linalg.cholesky(h @ h.T + cr.eye(h.shape[0], dtype=cr.float64)) @ h
     + cr.linalg.slogdet(h @ h.T + cr.eye(h.shape[0], dtype=cr.float64))[1],
     lambda h: torch.linalg.cholesky(h @ h.T + torch.eye(h.shape[0], dtype=torch.float64)) @ h
     + torch.linalg.slogdet(h @ h.T + torch.eye(h.shape[0], dtype=torch.float64))[1]),
    ("svdvals", _no_args, lambda h: h * cr.linalg.svdvals(h).sum(), lambda h: h * torch.linalg.svdvals(h).sum()),
    # scans and sorting
    ("cumsum", _dim_arg, lambda h, d: h.cumsum(d), lambda h, d: h.cumsum(d)),
    ("cumprod", _dim_arg, lambda h, d: h.cumprod(d), lambda h, d: h.cumprod(d)),
    ("prod", _dim_arg, lambda h, d: h * h.prod(d, keepdim=True), lambda h, d: h * h.prod(d, keepdim=True)),
    ("sort", _dim_arg, lambda h, d: h.sort(d, descending=True).values * 2.0 + h,
     lambda h, d: h.sort(d, descending=True).values * 2.0 + h),
    ("topk", _no_args, lambda h: h[:, :2] * h.topk(2, dim=1).values, lambda h: h[:, :2] * h.topk(2, dim=1).values),
    ("amin", _noise_and_dim, lambda h, n, d: h - (h + n).amin(dim=d, keepdim=True),
     lambda h, n, d: h - torch.amin(h + n, dim=d, keepdim=True)),
    # more shapes
    ("repeat", _no_args, lambda h: h.repeat(2, 1) * 0.5, lambda h: h.repeat(2, 1) * 0.5),
    ("tile", _no_args, lambda h: cr.tile(h, (1, 2)), lambda h: torch.tile(h, (1, 2))),
    ("flip", _dim_arg, lambda h, d: h.flip(d) * h, lambda h, d: h.flip(d) * h),
    ("roll", _dim_arg, lambda h, d: h.roll(1, d) - h, lambda h, d: h.roll(1, d) - h),
    ("movedim", _no_args, lambda h: h.movedim(0, 1), lambda h: h.movedim(0, 1)),
    ("unflatten", _no_args, lambda h: h.flatten().unflatten(0, (h.shape[1], h.shape[0])),
     lambda h: h.flatten().unflatten(0, (h.shape[1], h.shape[0]))),
    ("narrow", _no_args, lambda h: h.narrow(1, 0, 2) * 2.0, lambda h: h.narrow(1, 0, 2) * 2.0),
    ("concatenate_axis", _dim_arg, lambda h, d: cr.concatenate([h, h * 2.0], axis=d),
     lambda h, d: torch.cat([h, h * 2.0], dim=d)),
]
OPS_BY_NAME = {row[0]: row for row in OPS}
assert len(OPS_BY_NAME) == len(OPS)


# ---------------------------------------------------------------------- running a chain

def _run_chain(names, seed, shape):
    """Run the chain in both libraries; return outputs, leaves and the loss weights."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    plan, current = [], shape
    # Plan every op's arguments on the forward shapes (computed with NumPy-free shape logic:
    # run chainrule once without leaves to learn the shapes).
    h_probe = cr.tensor(x)
    for name in names:
        _, prepare, cr_fn, _ = OPS_BY_NAME[name]
        args = prepare(rng, current)
        plan.append(args)
        h_probe = cr_fn(h_probe, *[_convert(a, "cr", False) for a in args])
        current = tuple(h_probe.shape)
    weights = rng.standard_normal(current)

    results = {}
    for lib in ("cr", "torch"):
        leaves = [_make(lib, Leaf(x))]
        h = leaves[0]
        for name, args in zip(names, plan):
            fn = OPS_BY_NAME[name][2 if lib == "cr" else 3]
            converted = []
            for a in args:
                c = _convert(a, lib, True)
                if isinstance(a, Leaf):
                    leaves.append(c)
                converted.append(c)
            h = fn(h, *converted)
        loss = (h * _make(lib, Const(weights))).sum()
        loss.backward()
        results[lib] = (h, loss, leaves)
    return results


def _make(lib, arg):
    if lib == "cr":
        return cr.tensor(arg.array, requires_grad=isinstance(arg, Leaf))
    return torch.tensor(arg.array, requires_grad=isinstance(arg, Leaf))


def _convert(arg, lib, leaves_require_grad):
    if isinstance(arg, Leaf):
        if not leaves_require_grad:
            return cr.tensor(arg.array) if lib == "cr" else torch.tensor(arg.array)
        return _make(lib, arg)
    if isinstance(arg, Const):
        return _make(lib, arg)
    return arg


def _assert_parity(results, names):
    out_c, loss_c, leaves_c = results["cr"]
    out_t, loss_t, leaves_t = results["torch"]
    context = f"chain {names}"
    assert tuple(out_c.shape) == tuple(out_t.shape), context
    assert out_c.dtype == np.float64, context
    np.testing.assert_allclose(out_c.numpy(), out_t.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=context)
    np.testing.assert_allclose(loss_c.item(), loss_t.item(), rtol=RTOL, atol=ATOL, err_msg=context)
    assert len(leaves_c) == len(leaves_t)
    for k, (lc, lt) in enumerate(zip(leaves_c, leaves_t)):
        expected = lt.grad.numpy() if lt.grad is not None else np.zeros(tuple(lt.shape))
        got = lc.grad.numpy() if lc.grad is not None else np.zeros(lc.shape)
        assert got.shape == expected.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=f"{context}: leaf {k}")


# ---------------------------------------------------------------------- tests

@pytest.mark.parametrize("name", sorted(OPS_BY_NAME))
def test_each_op_alone_matches_torch(name):
    results = _run_chain([name], seed=sum(map(ord, name)), shape=(3, 4))
    _assert_parity(results, [name])


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.sampled_from(sorted(OPS_BY_NAME)), min_size=2, max_size=6),
    seed=st.integers(0, 2 ** 32 - 1),
    rows=st.integers(2, 4),
    cols=st.integers(2, 4),
)
def test_random_compositions_match_torch(names, seed, rows, cols):
    results = _run_chain(names, seed, (rows, cols))
    _assert_parity(results, names)


@pytest.mark.parametrize(
    "names",
    [
        ["matmul_right", "relu", "matmul_right", "log_softmax"],
        ["gelu", "matmul_left", "tanh", "gram", "softmax"],
        ["std", "leaky_relu", "cat", "pad", "max"],
        ["index_rows", "where", "clamp", "var", "logsumexp"],
        ["mask_rows", "stack", "gelu_tanh", "chunk_swap", "min_all"],
        ["einsum", "softplus", "gather", "cumprod", "sort", "solve"],
        ["scatter_amax", "setitem_row", "svdvals", "roll", "logaddexp", "matrix_norm"],
        ["tile", "index_add", "cholesky_slogdet", "topk", "silu", "inv_det"],
        ["movedim", "diag_trace", "scatter_mean", "cumsum", "lerp", "vector_norm"],
    ],
)
def test_fixed_long_compositions_match_torch(names):
    _assert_parity(_run_chain(names, seed=7, shape=(4, 3)), names)


# ---------------------------------------------------------------------- a small MLP

def _mlp_data():
    rng = np.random.default_rng(42)
    n, d, hidden, classes = 16, 5, 8, 3
    return {
        "X": rng.standard_normal((n, d)),
        "y": rng.integers(0, classes, size=n),
        "W1": rng.standard_normal((d, hidden)) * 0.5,
        "b1": rng.standard_normal(hidden) * 0.1,
        "W2": rng.standard_normal((hidden, classes)) * 0.5,
        "b2": rng.standard_normal(classes) * 0.1,
    }


@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-12, 1e-14), ("float32", 2e-5, 1e-6)])
def test_two_layer_mlp_nll_matches_torch(dtype, rtol, atol):
    data = _mlp_data()
    names = ("W1", "b1", "W2", "b2")

    params = {k: cr.tensor(data[k].astype(dtype), requires_grad=True) for k in names}
    X, y = cr.tensor(data["X"].astype(dtype)), cr.tensor(data["y"])
    hidden = cr.relu(X @ params["W1"] + params["b1"])
    logp = cr.log_softmax(hidden @ params["W2"] + params["b2"], dim=1)
    loss = -logp[cr.arange(len(y)), y].mean()
    loss.backward()

    tparams = {k: torch.tensor(data[k].astype(dtype), requires_grad=True) for k in names}
    tX, ty = torch.tensor(data["X"].astype(dtype)), torch.tensor(data["y"])
    tlogp = F.log_softmax(torch.relu(tX @ tparams["W1"] + tparams["b1"]) @ tparams["W2"] + tparams["b2"], dim=1)
    tloss = F.nll_loss(tlogp, ty)
    tloss.backward()

    assert loss.dtype == np.dtype(dtype)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=rtol)
    for k in names:
        assert params[k].grad.dtype == np.dtype(dtype) and params[k].grad.shape == data[k].shape
        np.testing.assert_allclose(params[k].grad.numpy(), tparams[k].grad.numpy(), rtol=rtol, atol=atol, err_msg=k)


def test_mlp_training_steps_track_torch():
    """Five SGD steps under no_grad: the parameters stay equal to PyTorch's."""
    data = _mlp_data()
    names = ("W1", "b1", "W2", "b2")
    params = {k: cr.tensor(data[k], requires_grad=True) for k in names}
    tparams = {k: torch.tensor(data[k], requires_grad=True) for k in names}
    X, y = cr.tensor(data["X"]), cr.tensor(data["y"])
    tX, ty = torch.tensor(data["X"]), torch.tensor(data["y"])
    for _ in range(5):
        logits = cr.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        loss = -cr.log_softmax(logits, dim=1)[cr.arange(len(y)), y].mean()
        loss.backward()
        tlogits = torch.tanh(tX @ tparams["W1"] + tparams["b1"]) @ tparams["W2"] + tparams["b2"]
        F.cross_entropy(tlogits, ty).backward()
        with cr.no_grad(), torch.no_grad():
            for k in names:
                params[k] -= 0.5 * params[k].grad
                params[k].grad = None
                tparams[k] -= 0.5 * tparams[k].grad
                tparams[k].grad = None
    for k in names:
        np.testing.assert_allclose(params[k].numpy(), tparams[k].detach().numpy(), rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------------- micrograd-style scalars

def _micrograd_more_ops(lib, a, b):
    """micrograd's test_more_ops, with `c += …` written out of place (chainrule forbids
    in-place updates of tensors that require grad)."""
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def _micrograd_sanity(lib, x):
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x


@pytest.mark.parametrize(
    "build, values, expected_value, expected_grads",
    [
        # reference numbers from micrograd's test suite (computed with PyTorch there)
        (_micrograd_more_ops, (-4.0, 2.0), 24.70408163265306, (138.83381924198252, 645.5772594752186)),
        (_micrograd_sanity, (-4.0,), -20.0, (46.0,)),
    ],
)
def test_micrograd_scalar_expressions(build, values, expected_value, expected_grads):
    leaves = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in values]
    out = build(cr, *leaves)
    out.backward()
    tleaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    tout = build(torch, *tleaves)
    tout.backward()
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-13)
    np.testing.assert_allclose(out.item(), expected_value, rtol=1e-12)
    for leaf, tleaf, expected in zip(leaves, tleaves, expected_grads):
        np.testing.assert_allclose(leaf.grad.item(), tleaf.grad.item(), rtol=1e-13)
        np.testing.assert_allclose(leaf.grad.item(), expected, rtol=1e-12)


def test_scalar_expression_with_many_reuses_matches_torch():
    def build(lib, a, b):
        exp = cr.exp if lib is cr else torch.exp
        s = a * b
        for k in range(1, 30):
            s = s * 0.9 + (a - b) * s / (1.0 + s * s) + exp(-(a * a)) * k * 0.01
        return s * a + b

    leaves = [cr.tensor(v, dtype=cr.float64, requires_grad=True) for v in (0.7, -1.3)]
    tleaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.7, -1.3)]
    out, tout = build(cr, *leaves), build(torch, *tleaves)
    out.backward()
    tout.backward()
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-12)
    for leaf, tleaf in zip(leaves, tleaves):
        np.testing.assert_allclose(leaf.grad.item(), tleaf.grad.item(), rtol=1e-11)
