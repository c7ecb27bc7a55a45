"""Argument checks shared by the layers, losses and functional forms of :mod:`chainrule.nn`.

Each raises an error that names the operation, the argument, what was expected and what
was received; none changes its input.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def tensor_argument(value, op: str, argument: str) -> Tensor:
    """``value`` itself when it is a Tensor, else an error naming ``op`` and ``argument``."""
    if isinstance(value, Tensor):
        return value
    raise TypeError(f"{op}: {argument} must be a Tensor; got {type(value).__name__}")


def require_float(t: Tensor, op: str, argument: str) -> None:
    if t.data.dtype.kind != "f":
        raise TypeError(f"{op}: {argument} must be floating point (float32 or float64); got dtype {t.dtype}")


def check_same_device(a: Tensor, b: Tensor, op: str, argument: str) -> None:
    if a.data.__class__ is b.data.__class__ is backend.host.ndarray:
        return
    if a.device != b.device:
        raise RuntimeError(f"{op}: {argument} is on {b.device} but the input is on {a.device}; move it with .to()")


def check_same_dtype(a: Tensor, b: Tensor, op: str, argument: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(
            f"{op}: {argument} has dtype {b.dtype} but the input has dtype {a.dtype}; "
            f"convert one of them (e.g. .float() or .double())"
        )


def check_linear(x, weight, bias, op: str, name: str) -> None:
    x = tensor_argument(x, op, "input")
    weight = tensor_argument(weight, op, "weight")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must have shape (out_features, in_features); got shape {tuple(weight.shape)}")
    require_float(weight, op, "weight")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"{op}: expected input with last dimension {weight.shape[1]} ({name}); got shape {tuple(x.shape)}"
        )
    check_same_dtype(weight, x, op, "input")
    check_same_device(weight, x, op, "input")
    if bias is not None:
        bias = tensor_argument(bias, op, "bias")
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(
                f"{op}: bias must have shape ({weight.shape[0]},) (out_features); got shape {tuple(bias.shape)}"
            )
        check_same_dtype(weight, bias, op, "bias")
        check_same_device(weight, bias, op, "bias")


def check_probability(p, op: str) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"{op}: p (the probability of zeroing an element) must be a number in [0, 1); got {p!r}")


def check_reduction(reduction, op: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")


def check_degree(degree, op: str) -> None:
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise ValueError(f"{op}: degree must be an int >= 1; got {degree!r}")


def check_channel_vector(t, name: str, channels: int, x: Tensor) -> None:
    t = tensor_argument(t, "batch_norm", name)
    if tuple(t.shape) != (channels,):
        raise ValueError(
            f"batch_norm: {name} must have shape ({channels},) (one value per channel, dim 1 of the "
            f"input of shape {tuple(x.shape)}); got shape {tuple(t.shape)}"
        )
    check_same_device(x, t, "batch_norm", name)


def check_same_shape(a: Tensor, b: Tensor, op: str, name_a: str, name_b: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        hint = ""
        if a.data.size == b.data.size:
            hint = f"; reshape one of them, e.g. {name_b.split()[0]}.reshape({tuple(a.shape)})"
        raise ValueError(
            f"{op}: {name_a} and {name_b} must have the same shape; got {tuple(a.shape)} and "
            f"{tuple(b.shape)} (no broadcasting: a mismatch like (N, 1) vs (N,) would silently "
            f"give an (N, N) loss){hint}"
        )


def class_count(t: Tensor, op: str) -> int:
    if t.ndim == 0:
        raise ValueError(
            f"{op}: input must have a class dimension, shape (N, C), (N, C, d1, …) or (C,); got a 0-d tensor"
        )
    return t.shape[0] if t.ndim == 1 else t.shape[1]


def class_weight(weight, classes: int, like: Tensor, op: str):
    if weight is None:
        return None
    weight = tensor_argument(weight, op, "weight")
    if tuple(weight.shape) != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},) (one per class); got shape {tuple(weight.shape)}")
    check_same_device(like, weight, op, "weight")
    return weight.data.astype(like.dtype, copy=False)


def check_class_targets(scores: Tensor, target: Tensor, classes: int, ignore_index, op: str) -> bool:
    """Validate int64 class targets; return whether any equals ``ignore_index``."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise TypeError(f"{op}: ignore_index must be an int; got {ignore_index!r}")
    if target.dtype != backend.int64:
        raise TypeError(
            f"{op}: target must be int64 class indices (or float class probabilities of the "
            f"input's shape); got dtype {target.dtype}"
        )
    expected = () if scores.ndim == 1 else scores.shape[:1] + scores.shape[2:]
    if tuple(target.shape) != tuple(expected):
        raise ValueError(
            f"{op}: target must have shape {tuple(expected)} for input of shape {tuple(scores.shape)} "
            f"(one class index per row); got shape {tuple(target.shape)}"
        )
    check_same_device(scores, target, op, "target")
    data = target.data
    if data.size == 0:
        return False
    # One reduction checks 0 <= t < C: negative int64 values are huge as uint64.
    if int(data.view("uint64").max()) < classes:
        return 0 <= ignore_index < classes and bool((data == ignore_index).any())
    ignored = data == ignore_index
    bad = data[~ignored & ((data < 0) | (data >= classes))]
    if bad.size:
        raise IndexError(
            f"{op}: target contains class index {int(bad.reshape(-1)[0])}, outside [0, {classes}) "
            f"for input with {classes} classes (ignore_index={ignore_index})"
        )
    return bool(ignored.any())


def check_binary(x: Tensor, target: Tensor, reduction, op: str) -> None:
    require_float(x, op, "input")
    check_reduction(reduction, op)
    if target.dtype.kind != "f":
        raise TypeError(
            f"{op}: target must be floating point (values in [0, 1]); got dtype {target.dtype}. Use target.float()"
        )
    check_same_shape(x, target, op, "input", "target")
    check_same_dtype(x, target, op, "target")
    check_same_device(x, target, op, "target")


def broadcast_weight(weight, like: Tensor, name: str, op: str):
    if weight is None:
        return None
    weight = tensor_argument(weight, op, name)
    shape = tuple(weight.shape)
    target = tuple(like.shape)
    fits = len(shape) <= len(target) and all(
        size in (1, target[len(target) - len(shape) + i]) for i, size in enumerate(shape)
    )
    if not fits:
        raise ValueError(f"{op}: {name} of shape {shape} does not broadcast to the input's shape {target}")
    check_same_device(like, weight, op, name)
    return weight.data.astype(like.dtype, copy=False)


def check_size(value, name: str, owner: str, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}; got {value!r}")


def float_dtype(dtype, owner: str):
    if dtype is None:
        return backend.DEFAULT_FLOAT
    resolved = backend.canonical_dtype(dtype)
    if resolved.kind != "f":
        raise TypeError(f"{owner}: dtype must be float32 or float64; got {resolved}")
    return resolved
