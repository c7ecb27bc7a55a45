"""Derivatives of functions of tensors, as ``torch.autograd.functional``.

For f: (x_1, …, x_m) ↦ (y_1, …, y_k) and vectors v:

* :func:`vjp`: vᵀ J, the vector-Jacobian product (one backward pass);
* :func:`jvp`: J v, the Jacobian-vector product, by the "double-vjp" trick: with u a dummy
  vector of the outputs' shape, g(u) = Jᵀ u is linear in u, and ∂(gᵀ v)/∂u = J v (two backward
  passes, the first recorded);
* :func:`jacobian`: J, one vjp per output element (rows of the basis vectors);
* :func:`hessian`: the Jacobian of the gradient of a scalar f, ∇²f;
* :func:`hvp` / :func:`vhp`: H v and vᵀ H for a scalar f without forming H: the gradient
  g = ∇f(x) is recorded (``create_graph``) and differentiated once more: vhp = ∂(gᵀ v)/∂x,
  hvp = the jvp of g. The two agree when f's second derivatives are continuous (H symmetric).

All are exact (double backward through every op's ``backward_graph``), not finite differences.
Inputs are a tensor or a tuple of tensors, and results mirror that structure, as in PyTorch.
The inputs are differentiated at their values: the functions work on detached copies, so the
caller's graph is untouched unless ``create_graph=True`` (then results can be differentiated
further, with respect to the original inputs).

With ``strict=True`` an output that does not depend on an input is an error; otherwise its
derivative is zero, as in PyTorch.
"""
from __future__ import annotations

from .. import creation
from ..tensor import Tensor
from .grad import grad
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), vᵀ J)``; ``v`` has the outputs' shape (optional for a one-element output)."""
    is_tuple, inputs = _as_inputs(inputs, create_graph, "vjp")
    with enable_grad():
        outputs = func(*inputs)
        out_tuple, outs = _as_outputs(outputs, "vjp")
        vs = _vectors(v, outs, "vjp", "v")
        grads = _grads(outs, inputs, vs, create_graph, strict, "vjp")
    return _restore(outs, out_tuple, create_graph), _restore(grads, is_tuple, create_graph)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``; ``v`` has the inputs' shape (optional for a one-element input)."""
    is_tuple, inputs = _as_inputs(inputs, create_graph, "jvp")
    vs = _vectors(v, inputs, "jvp", "v")
    with enable_grad():
        outputs = func(*inputs)
        out_tuple, outs = _as_outputs(outputs, "jvp")
        dummies = [creation.zeros_like(o, requires_grad=True) for o in outs]
        transposed = _grads(outs, inputs, dummies, True, strict, "jvp")
        products = _grads(transposed, dummies, vs, create_graph, strict, "jvp")
    return _restore(outs, out_tuple, create_graph), _restore(products, out_tuple, create_graph)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output y_i and input x_j, a tensor of shape
    ``y_i.shape + x_j.shape`` (nested tuples as in PyTorch when there are several)."""
    if strategy != "reverse-mode":
        raise ValueError(f"jacobian: only strategy='reverse-mode' is implemented; got {strategy!r}")
    is_tuple, inputs = _as_inputs(inputs, create_graph, "jacobian")
    with enable_grad():
        outputs = func(*inputs)
        out_tuple, outs = _as_outputs(outputs, "jacobian")
        blocks = [_jacobian_of(out, inputs, create_graph, strict) for out in outs]
    blocks = [_restore(row, is_tuple, create_graph) for row in blocks]
    return tuple(blocks) if out_tuple else blocks[0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """∇²f at ``inputs`` for a scalar ``func``: shape ``x.shape + x.shape`` (for several
    inputs, a tuple of tuples of blocks ∂²f/∂x_i∂x_j)."""
    is_tuple, inputs = _as_inputs(inputs, create_graph, "hessian")

    def gradient(*xs):
        out = func(*xs)
        _check_scalar(out, "hessian")
        grads = _grads([out], list(xs), [None], True, strict, "hessian")
        return tuple(grads) if is_tuple else grads[0]

    return jacobian(gradient, tuple(inputs) if is_tuple else inputs[0], create_graph=create_graph, strict=strict,
                    strategy=outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), vᵀ ∇²f)`` for a scalar ``func``."""
    is_tuple, inputs = _as_inputs(inputs, create_graph, "vhp")
    vs = _vectors(v, inputs, "vhp", "v")
    with enable_grad():
        out = func(*inputs)
        _check_scalar(out, "vhp")
        gradient = _grads([out], inputs, [None], True, strict, "vhp")
        products = _grads(gradient, inputs, vs, create_graph, strict, "vhp")
    return _restore([out], False, create_graph), _restore(products, is_tuple, create_graph)


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), ∇²f v)`` for a scalar ``func``: the jvp of the gradient."""
    is_tuple, inputs = _as_inputs(inputs, create_graph, "hvp")
    vs = _vectors(v, inputs, "hvp", "v")
    with enable_grad():
        out = func(*inputs)
        _check_scalar(out, "hvp")
        gradient = _grads([out], inputs, [None], True, strict, "hvp")
        dummies = [creation.zeros_like(g, requires_grad=True) for g in gradient]
        transposed = _grads(gradient, inputs, dummies, True, strict, "hvp")
        products = _grads(transposed, dummies, vs, create_graph, strict, "hvp")
    return _restore([out], False, create_graph), _restore(products, is_tuple, create_graph)


# ---------------------------------------------------------------------- helpers

def _jacobian_of(out: Tensor, inputs: list, create_graph: bool, strict: bool) -> list:
    """The blocks ∂out/∂x_j, each of shape out.shape + x_j.shape, one vjp per element of out."""
    rows = [[] for _ in inputs]
    flat_count = out.numel()
    for k in range(flat_count):
        basis = creation.zeros(flat_count, dtype=out.dtype, device=out.device)
        basis.data[k] = 1
        row = _grads([out], inputs, [basis.reshape(*out.shape)], create_graph, strict, "jacobian",
                     retain_graph=True)
        for j, g in enumerate(row):
            rows[j].append(g)
    return [_assemble(pieces, tuple(out.shape), x, create_graph) for pieces, x in zip(rows, inputs)]


def _assemble(rows: list, out_shape: tuple, x: Tensor, create_graph: bool) -> Tensor:
    """The rows ∂out_k/∂x stacked into a tensor of shape out_shape + x.shape (recorded, row by
    row, when ``create_graph``)."""
    shape = out_shape + tuple(x.shape)
    block = creation.zeros(len(rows), *x.shape, dtype=x.dtype, device=x.device)
    if create_graph:
        for k, row in enumerate(rows):
            block[k] = row
    else:
        for k, row in enumerate(rows):
            block.data[k] = row.data
    return block.reshape(*shape)


def _grads(outputs, inputs, vectors, create_graph: bool, strict: bool, op: str, retain_graph: bool = True) -> list:
    """grad(outputs, inputs, vectors), with zeros (or, strictly, an error) for unused inputs."""
    pairs = [(o, v) for o, v in zip(outputs, vectors) if o.requires_grad]
    if not pairs:
        found = [None] * len(inputs)
    else:
        found = grad([o for o, _ in pairs], inputs, [v for _, v in pairs], retain_graph=retain_graph,
                     create_graph=create_graph, allow_unused=True)
    result = []
    for position, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{op}: the output of the function is independent of input {position}; "
                    f"this is not allowed in strict mode"
                )
            g = creation.zeros_like(x)
        result.append(g)
    return result


def _as_inputs(inputs, create_graph: bool, op: str):
    """(was a tuple, list of tensors to differentiate at): detached copies that require grad,
    or (create_graph) the inputs themselves seen through a differentiable identity."""
    is_tuple = isinstance(inputs, (tuple, list))
    items = list(inputs) if is_tuple else [inputs]
    prepared = []
    for position, x in enumerate(items):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: inputs[{position}] must be a Tensor; got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise TypeError(f"{op}: inputs[{position}] must be floating point; got dtype {x.dtype}")
        if create_graph and x.requires_grad:
            with enable_grad():
                prepared.append(x * 1)  # keeps x's graph, so results can be differentiated w.r.t. x
        else:
            prepared.append(x.detach().requires_grad_(True))
    return is_tuple, prepared


def _as_outputs(outputs, op: str):
    is_tuple = isinstance(outputs, (tuple, list))
    items = list(outputs) if is_tuple else [outputs]
    for position, o in enumerate(items):
        if not isinstance(o, Tensor):
            raise TypeError(f"{op}: the function must return a Tensor or a tuple of Tensors; output "
                            f"{position} is a {type(o).__name__}")
    return is_tuple, items


def _vectors(v, like: list, op: str, name: str) -> list:
    if v is None:
        for t in like:
            if t.numel() != 1:
                raise RuntimeError(f"{op}: {name} can be omitted only when every tensor it pairs with has one "
                                   f"element; got shape {tuple(t.shape)}")
        return [creation.ones_like(t) for t in like]
    items = list(v) if isinstance(v, (tuple, list)) else [v]
    if len(items) != len(like):
        raise RuntimeError(f"{op}: expected {len(like)} tensor(s) for {name}; got {len(items)}")
    for position, (vector, t) in enumerate(zip(items, like)):
        if not isinstance(vector, Tensor) or tuple(vector.shape) != tuple(t.shape):
            raise RuntimeError(f"{op}: {name}[{position}] must be a tensor of shape {tuple(t.shape)}; got "
                               f"{tuple(vector.shape) if isinstance(vector, Tensor) else type(vector).__name__}")
    return items


def _check_scalar(out, op: str) -> None:
    if not isinstance(out, Tensor) or out.numel() != 1:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise RuntimeError(f"{op}: the function must return a single-element tensor; got {shape}")


def _restore(items: list, as_tuple: bool, create_graph: bool):
    items = [t if create_graph else t.detach() for t in items]
    return tuple(items) if as_tuple else items[0]
