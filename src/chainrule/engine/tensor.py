"""Tensor: an array on a device that can record how it was computed.

A :class:`Tensor` wraps one backend array (``.data``). Operations on tensors run
eagerly, like NumPy and PyTorch; when an input requires grad, the result also
remembers the operation that made it (``.grad_fn``), so ``backward()`` can apply
the chain rule (see :mod:`chainrule.autograd`). The operations themselves live in
:mod:`chainrule.ops`; its methods (in :mod:`chainrule.engine.tensor_methods`) only forward to them.

dtypes: float32 (the default for floating-point data), float64, int64 and bool.
Arithmetic between them follows PyTorch's promotion rules (see
:mod:`chainrule.engine.ops.arguments`). Only floating-point tensors can require gradients.
"""
from __future__ import annotations

import weakref

from . import backend
from .tensor_methods import TensorMethods

__all__ = ["Tensor", "tensor", "as_tensor", "from_numpy", "from_dlpack"]

_HOST_ARRAY = backend.host.ndarray


class Tensor(TensorMethods):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Attributes:
        data: the backend array holding the values (NumPy on "cpu").
        grad: a Tensor with the accumulated gradient, or None. Set by ``backward()``
            on leaves that require grad (and on tensors that called ``retain_grad()``).
        requires_grad: whether operations on this tensor are recorded.
        grad_fn: the operation that produced this tensor (None for leaves).

    Create tensors with :func:`tensor`, :func:`zeros`, :func:`randn` and friends
    rather than with this constructor.
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_version", "_memory", "__weakref__")
    __array_ufunc__ = None  # NumPy defers to our reflected operators (array + tensor)

    def __init__(self, data, dtype=None, requires_grad: bool = False, device=None):
        made = tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)
        self.data = made.data
        self.grad = None
        self.requires_grad = made.requires_grad
        self.grad_fn = None
        self._version = 0
        self._memory = None

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        """Number of dimensions (same as ``ndim``)."""
        return self.data.ndim

    def size(self, dim: int | None = None):
        """The shape as a tuple, or the length of dimension ``dim``."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_check_dim(dim, self.data.ndim, "size")]

    def numel(self) -> int:
        """Number of elements."""
        return int(self.data.size)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the transpose for a matrix)."""
        return ops.permute(self, tuple(reversed(range(self.data.ndim))))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (batched matrix transpose)."""
        return ops.transpose(self, -2, -1)

    def t(self) -> Tensor:
        """Transpose of a tensor with at most 2 dimensions."""
        if self.data.ndim > 2:
            raise ValueError(
                f"t: expects a tensor with at most 2 dimensions; got shape {self.shape}; "
                f"use transpose(dim0, dim1)"
            )
        return self.T

    # ------------------------------------------------------------------ conversions
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number; "
                f"got shape {tuple(self.shape)}"
            )
        return self.data.reshape(()).item()

    def numpy(self):
        """The values as a NumPy array (shares memory on the CPU; copies from a GPU)."""
        return backend.to_host(self.data)

    def tolist(self):
        """The values as (nested) Python lists."""
        return backend.to_host(self.data).tolist()

    def to(self, target=None, dtype=None, device=None) -> Tensor:
        """Convert to a dtype and/or move to a device: ``t.to(float64)``, ``t.to("cuda")``.

        Both conversions are differentiable for floating-point results.
        """
        if target is not None:
            if _is_device_spec(target):
                device = target
            else:
                dtype = target
        result = self
        if dtype is not None:
            result = ops.cast(result, backend.canonical_dtype(dtype))
        if device is not None:
            result = ops.to_device(result, backend.canonical_device(device))
        return result

    def float(self) -> Tensor:
        return self.to(backend.float32)

    def double(self) -> Tensor:
        return self.to(backend.float64)

    def long(self) -> Tensor:
        return self.to(backend.int64)

    def bool(self) -> Tensor:
        return self.to(backend.bool_)

    def cpu(self) -> Tensor:
        return self.to(device="cpu")

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(device=f"cuda:{index}")

    def __array__(self, dtype=None, copy=None):
        array = backend.to_host(self.data)
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __dlpack__(self, *args, **kwargs):
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                f"use .any() or .all()"
            )
        return bool(self.data.reshape(()).item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(
                f"only one-element integer tensors can be used as an index; got {self.dtype} "
                f"of shape {tuple(self.shape)}"
            )
        return int(self.item())

    __hash__ = object.__hash__  # == is elementwise, so hash by identity

    def __repr__(self) -> str:
        values = backend.host.array2string(
            backend.to_host(self.data), separator=", ", prefix="tensor("
        )
        extras = [f"dtype={self.dtype}"]
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.op}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({values}, {', '.join(extras)})"

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on
        (of ``inputs`` only, when given); ``create_graph=True`` records the backward pass so
        the gradients can be differentiated again. See :func:`chainrule.autograd.backward`."""
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(_int_grad_message(self.dtype))
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_: cannot turn off gradients of a non-leaf tensor; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A tensor sharing this one's data that is cut from the graph (an in-place write to
        either is seen by the nodes that saved the other)."""
        out = wrap(self.data)
        share_memory(out, self)
        return out

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor during ``backward()``."""
        autograd.hooks.retain_grad(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during every backward pass; a
        Tensor it returns replaces the gradient. Returns a handle with ``.remove()``.
        See :mod:`chainrule.engine.autograd.hooks`."""
        return autograd.hooks.register_tensor_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` (a leaf) once per backward pass, right after its gradient has
        been accumulated into ``.grad``; ``hook`` returns None. Returns a handle with
        ``.remove()``. See :mod:`chainrule.engine.autograd.hooks`."""
        return autograd.hooks.register_post_accumulate_hook(self, hook)

    def clone(self) -> Tensor:
        """A differentiable copy with its own memory."""
        return ops.clone(self)

    def contiguous(self) -> Tensor:
        """This tensor if its memory is C-contiguous, else a contiguous differentiable copy."""
        return self if self.data.flags.c_contiguous else ops.clone(self)


# ---------------------------------------------------------------------- internals

def wrap(data, requires_grad: bool = False, grad_fn=None) -> Tensor:
    """A Tensor around an existing backend array (no checks, no copy): the hot path."""
    if data.__class__ is not _HOST_ARRAY:
        data = backend.as_array(data)
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.requires_grad = requires_grad
    out.grad_fn = grad_fn
    out._version = 0  # bumped by every in-place write; backward checks saved inputs against it
    out._memory = None  # a SharedVersion when views share this tensor's memory (view ops set it)
    return out


class TensorMap:
    """A dict keyed by tensors' identity that forgets a tensor when it is garbage collected.

    (``weakref.WeakKeyDictionary`` compares keys with ``==``, which is elementwise for
    tensors.) Used for the rare per-tensor records the engine keeps outside the Tensor's own
    slots: leaf gradient hooks, the history of tensors rewritten in place."""

    __slots__ = ("_entries",)

    def __init__(self):
        self._entries: dict = {}  # id(tensor) -> (weak reference, value)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def get(self, tensor: Tensor, default=None):
        entry = self._entries.get(id(tensor))
        if entry is None or entry[0]() is not tensor:
            return default
        return entry[1]

    def __setitem__(self, tensor: Tensor, value) -> None:
        key = id(tensor)
        entries = self._entries

        def forget(_, key=key):
            entries.pop(key, None)

        entries[key] = (weakref.ref(tensor, forget), value)

    def __contains__(self, tensor: Tensor) -> bool:
        return self.get(tensor, _MISSING) is not _MISSING


_MISSING = object()


class SharedVersion:
    """The version counter of memory that several tensors view (a tensor and its reshapes,
    transposes, slices, detached copies). Every in-place write to any of them bumps it, and
    the nodes that saved any of them compare against it: ``(t._memory or t)._version``."""

    __slots__ = ("_version",)

    def __init__(self, version: int):
        self._version = version


def share_memory(view: Tensor, source: Tensor) -> None:
    """Record that ``view`` views ``source``'s memory: both now count versions together."""
    group = source._memory
    if group is None:
        group = source._memory = SharedVersion(source._version)
    view._memory = group


def bump_version(target: Tensor) -> None:
    """Mark an in-place write to ``target``'s memory (every tensor viewing it sees it)."""
    target._version += 1
    if target._memory is not None:
        target._memory._version += 1


def _int_grad_message(dtype) -> str:
    return (
        f"requires_grad: only floating-point tensors can require gradients; got dtype "
        f"{dtype}. Convert first, e.g. t.float() or dtype=chainrule.float32"
    )


def _check_dim(dim, ndim: int, op: str) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an int; got {dim!r}")
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimension(s)")
    return dim % ndim


def _is_device_spec(value) -> bool:
    return isinstance(value, str) and (value == "cpu" or value.startswith("cuda"))


def device_namespace(device):
    """The canonical name of ``device`` and its array namespace."""
    canonical = backend.canonical_device(device)
    return canonical, backend.namespace(canonical)


def leaf_from_array(data, requires_grad: bool, op: str) -> Tensor:
    """A new leaf around ``data``; only floating-point leaves may require grad."""
    if requires_grad and data.dtype.kind != "f":
        raise TypeError(f"{op}: " + _int_grad_message(data.dtype))
    return wrap(data, bool(requires_grad))


# ---------------------------------------------------------------------- conversion

def tensor(data, dtype=None, requires_grad: bool = False, device="cpu") -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array or a Tensor).

    dtype is inferred when not given: Python floats give float32, ints give int64,
    bools give bool; NumPy arrays keep their dtype, which must be one of float32,
    float64, int64 or bool (convert other dtypes explicitly: nothing is cast silently).
    """
    canonical, xp = device_namespace(device)
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data) or isinstance(data, backend.host.generic):
        source_dtype = data.dtype
        if dtype is None and source_dtype not in backend.SUPPORTED_DTYPES:
            raise TypeError(
                f"tensor: data has dtype {source_dtype}, which chainrule does not support; "
                f"expected float32, float64, int64 or bool. Pass dtype= to convert explicitly"
            )
        target = backend.canonical_dtype(dtype) if dtype is not None else source_dtype
        array = backend.move(data, canonical)
        array = xp.array(array, dtype=target, copy=True)
    else:
        array = _array_from_python(data, dtype, xp)
    return leaf_from_array(array, requires_grad, "tensor")


def _array_from_python(data, dtype, xp):
    try:
        host_array = backend.host.asarray(data)
    except (ValueError, TypeError) as err:
        raise TypeError(f"tensor: could not convert data to an array: {err}") from err
    if host_array.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor: expected numbers, bools or nested lists of them; got data of "
            f"dtype {host_array.dtype} ({type(data).__name__})"
        )
    if dtype is not None:
        target = backend.canonical_dtype(dtype)
    elif host_array.dtype.kind == "f":
        target = backend.DEFAULT_FLOAT
    elif host_array.dtype.kind in "iu":
        target = backend.int64
    else:
        target = backend.bool_
    return xp.asarray(host_array.astype(target, copy=False))


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor` but returns ``data`` itself when it already is a suitable
    Tensor, and shares memory with an array of a supported dtype on the same device."""
    if isinstance(data, Tensor):
        if (dtype is None or data.dtype == backend.canonical_dtype(dtype)) and (
            device is None or data.device == backend.canonical_device(device)
        ):
            return data
        return data.to(dtype=dtype, device=device)
    if backend.is_array(data) and data.dtype in backend.SUPPORTED_DTYPES:
        if (dtype is None or data.dtype == backend.canonical_dtype(dtype)) and (
            device is None or backend.device_of(data) == backend.canonical_device(device)
        ):
            return wrap(data)
    return tensor(data, dtype=dtype, device=device or "cpu")


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with a NumPy array of a supported dtype."""
    if not isinstance(array, _HOST_ARRAY):
        raise TypeError(f"from_numpy: expected a numpy.ndarray; got {type(array).__name__}")
    if array.dtype not in backend.SUPPORTED_DTYPES:
        raise TypeError(f"from_numpy: dtype {array.dtype} is not supported; expected float32, float64, int64 or bool")
    return wrap(array)


def from_dlpack(obj) -> Tensor:
    """A tensor sharing memory with any object that implements the DLPack protocol."""
    array = backend.from_dlpack(obj)
    if array.dtype not in backend.SUPPORTED_DTYPES:
        raise TypeError(f"from_dlpack: dtype {array.dtype} is not supported; expected float32, float64, int64 or bool")
    return wrap(array)


# Circular on purpose (the one import cycle docs/architecture.md allows): a Tensor's methods
# and operators forward to autograd, ops and inplace, which build Tensors.
from . import autograd, inplace, ops, tensor_methods  # noqa: E402, I001

tensor_methods.bind(ops, inplace)
