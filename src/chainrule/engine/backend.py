"""The array engines behind tensors: one array namespace per device, and the optional engines.

This is the only module that imports an array library, CuPy or mpi4py (checked by an import
contract in ``make test``). Everything else asks it for
the namespace of a device (``xp = namespace("cpu")``) or of an array
(``xp = namespace_of(array)``) and calls ``xp.exp``, ``xp.zeros`` … on it, the way
needle's ``array_api`` switch works. ``"cpu"`` is NumPy; ``"cuda"`` / ``"cuda:N"``
is CuPy, imported only when a CUDA device is first asked for, so a CPU-only
machine never needs it.

dtypes are NumPy dtype objects (CuPy uses the same ones). chainrule supports four:
float32 (the default for floating-point data), float64, int64 and bool.
"""
from __future__ import annotations

import numpy

#: The host array namespace (NumPy). Data loading and I/O code, which always
#: works on host memory, takes it from here rather than importing NumPy itself.
host = numpy

float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int64 = numpy.dtype("int64")
bool_ = numpy.dtype("bool")

SUPPORTED_DTYPES = (float32, float64, int64, bool_)
FLOAT_DTYPES = (float32, float64)
DEFAULT_FLOAT = float32

_DTYPE_ALIASES = {
    "float32": float32, "float": float32, "float64": float64, "double": float64,
    "int64": int64, "long": int64, "bool": bool_,
}

MPI_INSTALL_HINT = (
    "install the MPI extra: pip install 'chainrule[mpi]' (mpi4py with the MPICH wheel; "
    "no system MPI needed)"
)

_GPU_INSTALL_HINT = (
    "install the GPU extra: pip install 'chainrule[gpu]' (CuPy for CUDA 12; "
    "for CUDA 13 install cupy-cuda13x instead)"
)


class DeviceError(RuntimeError):
    """A device was asked for that this machine cannot provide."""


def canonical_dtype(dtype, argument: str = "dtype"):
    """Return the NumPy dtype object for ``dtype``, which must be one we support.

    Accepts our dtype objects, NumPy dtypes and scalar types, and the names
    ``"float32"``, ``"float64"``, ``"int64"``, ``"bool"`` (and torch's aliases
    ``"float"``, ``"double"``, ``"long"``). Anything else raises ``TypeError``.
    """
    if dtype is None:
        resolved = None
    elif isinstance(dtype, str):
        resolved = _DTYPE_ALIASES.get(dtype)
    elif dtype is bool:
        resolved = bool_
    elif dtype is float:
        resolved = float64
    elif dtype is int:
        resolved = int64
    else:
        try:
            resolved = numpy.dtype(dtype)
        except TypeError:
            resolved = None
    if resolved is None or resolved not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{argument}: expected one of float32, float64, int64, bool; got {dtype!r}"
        )
    return resolved


def canonical_device(device) -> str:
    """Normalize a device spec: ``"cpu"``, ``"cuda"`` (= ``"cuda:0"``) or ``"cuda:N"``."""
    name = str(device) if device is not None else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        return "cuda:0"
    if name.startswith("cuda:") and name[5:].isdigit():
        return name
    raise DeviceError(f"device: expected 'cpu', 'cuda' or 'cuda:N'; got {device!r}")


def require_device(device) -> str:
    """The canonical name of ``device`` once it is known to be usable here: "cpu" always;
    a CUDA device needs CuPy, else :class:`DeviceError` says what to install."""
    name = canonical_device(device)
    if name != "cpu":
        _cupy(name)
    return name


def namespace(device: str):
    """The array namespace (module) for a canonical device string."""
    if device == "cpu":
        return numpy
    return _cupy(device)


def namespace_of(array):
    """The array namespace an array belongs to (NumPy unless it is a CuPy array)."""
    if isinstance(array, (numpy.ndarray, numpy.generic)):
        return numpy
    module = type(array).__module__
    if module.startswith("cupy"):
        return _cupy("cuda")
    return numpy


def device_of(array) -> str:
    """The canonical device string an array lives on."""
    if isinstance(array, (numpy.ndarray, numpy.generic)):
        return "cpu"
    index = getattr(getattr(array, "device", None), "id", 0)
    return f"cuda:{index}"


def is_array(obj) -> bool:
    """True for an array of any supported engine (not for Python scalars or lists)."""
    if isinstance(obj, numpy.ndarray):
        return True
    return type(obj).__module__.startswith("cupy") and hasattr(obj, "__cuda_array_interface__")


def as_array(obj):
    """``obj`` as a backend array: NumPy scalars (what NumPy returns from a 0-d
    computation) become 0-d arrays; arrays pass through."""
    if isinstance(obj, numpy.generic):
        return numpy.asarray(obj)
    if is_array(obj):
        return obj
    raise TypeError(f"expected an array; got {type(obj).__name__}")


def expit(array):
    """The logistic sigmoid 1 / (1 + exp(-x)), computed without overflow."""
    return special_functions(array).expit(array)


def broadcast_to(array, shape: tuple):
    """A read-only view of ``array`` broadcast to ``shape``, where ``array`` already
    has ``len(shape)`` dimensions (size 1 along the stretched ones).

    Same result as ``xp.broadcast_to``; for contiguous NumPy arrays it builds the
    zero-stride view directly, which costs a fraction of NumPy's general routine
    (this sits on the backward path of every reduction).
    """
    if array.__class__ is numpy.ndarray and array.flags.c_contiguous:
        strides = tuple(
            0 if size == 1 and target != 1 else stride
            for size, target, stride in zip(array.shape, shape, array.strides)
        )
        view = numpy.ndarray(shape, array.dtype, array, 0, strides)
        view.flags.writeable = False
        return view
    return namespace_of(array).broadcast_to(array, shape)


def to_host(array):
    """A NumPy array with the values of ``array`` (no copy when already on the host)."""
    if isinstance(array, (numpy.ndarray, numpy.generic)):
        return numpy.asarray(array)
    return array.get()


def move(array, device: str):
    """Copy ``array`` to ``device`` (a no-op when it is already there)."""
    if device_of(array) == device:
        return array
    if device == "cpu":
        return to_host(array)
    cupy = _cupy(device)
    with cupy.cuda.Device(int(device.split(":")[1])):
        return cupy.asarray(array)


def erf(array):
    """The error function, elementwise, on the array's own device."""
    return special_functions(array).erf(array)


def special_functions(array):
    """``scipy.special`` for host arrays, ``cupyx.scipy.special`` for GPU arrays."""
    if isinstance(array, (numpy.ndarray, numpy.generic)):
        import scipy.special  # noqa: PLC0415 - a cached module lookup after the first call

        return scipy.special
    import cupyx.scipy.special  # noqa: PLC0415  # pragma: no cover - GPU only

    return cupyx.scipy.special


def from_dlpack(obj):
    """An array that shares memory with a DLPack-capable object (CPU arrays here)."""
    kind, _ = obj.__dlpack_device__()
    if kind == 1:  # kDLCPU
        return numpy.from_dlpack(obj)
    return _cupy("cuda").from_dlpack(obj)


def _cupy(device: str):
    try:
        import cupy  # noqa: PLC0415 - imported only when a GPU is asked for
    except ImportError as err:
        raise DeviceError(
            f"device {device!r} needs CuPy, which is not installed; {_GPU_INSTALL_HINT}"
        ) from err
    return cupy


def mpi():
    """mpi4py's ``MPI`` module, imported on first use (``chainrule.engine.distributed`` is its
    only caller in the library); ImportError naming the ``mpi`` extra when it is missing."""
    try:
        from mpi4py import MPI  # noqa: PLC0415 - optional dependency, imported on demand
    except ImportError as err:
        raise ImportError(f"chainrule.distributed needs mpi4py, which is not installed; {MPI_INSTALL_HINT}") from err
    return MPI


def nccl():
    """CuPy's NCCL bindings (``cupy.cuda.nccl``), or None when CuPy or its NCCL is missing."""
    try:
        from cupy.cuda import nccl as cuda_nccl  # noqa: PLC0415 - only on GPU machines
    except ImportError:
        return None
    return cuda_nccl if getattr(cuda_nccl, "available", True) else None
