"""All parameters as one vector and back (``torch.nn.utils.parameters_to_vector`` and
``vector_to_parameters``): θ = (vec(W_1); vec(b_1); …), the parameters flattened in row-major
order and joined in the order given, e.g. for a line search or a Hessian-vector product over
the whole model."""
from __future__ import annotations

from ...engine import backend
from ...engine.ops import cat, reshape
from ...engine.tensor import Tensor, bump_version

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """One 1-D Tensor with every parameter flattened, in order: ``cat([p.reshape(-1) …])``.

    Recorded in the graph like any ``cat`` (the vector is differentiable with respect to the
    parameters), as in PyTorch. All parameters must be on one device.
    """
    params = _parameters(parameters, "parameters_to_vector")
    return cat([reshape(p, -1) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D Tensor ``vec`` into ``parameters``, in order.

    Unlike PyTorch, which makes each ``param.data`` a view of ``vec``, the values are
    written into the parameters' own memory (cast to their dtype): parameters may be
    views into an optimizer's flat buffer, which must stay intact. So later changes to
    ``vec`` do not reach the parameters. ``vec`` must have exactly as many elements as
    the parameters together (PyTorch ignores extra ones).
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor as vec, but got: {type(vec).__name__}")
    params = _parameters(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: vec must be 1-D with {total} elements (the parameters' total); "
            f"got shape {tuple(vec.shape)}"
        )
    source, pointer = vec.data, 0
    for p in params:
        size = p.numel()
        piece = source[pointer:pointer + size].reshape(p.shape)
        p.data[...] = backend.move(piece, backend.device_of(p.data)).astype(p.dtype, copy=False)
        bump_version(p)
        pointer += size


def _parameters(parameters, where: str) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not params:
        raise ValueError(f"{where}: got no parameters")
    device = None
    for position, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: expected Tensors; parameters[{position}] is a {type(p).__name__}")
        if device is not None and p.device != device:
            raise TypeError(
                f"{where}: found two parameters on different devices ({device} and {p.device}), "
                f"this is currently not supported."
            )
        device = p.device
    return params
