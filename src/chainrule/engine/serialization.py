"""Checkpoint files: atomic writes in the safetensors format.

A checkpoint is one ``.safetensors`` file (https://github.com/huggingface/safetensors):
named arrays plus a ``metadata`` table of strings. It holds no pickled code, so
loading a file from someone else cannot run anything.

* :func:`save_checkpoint` writes atomically: the bytes go to a temporary file in the
  same directory, are flushed and ``fsync``-ed, the file is renamed over the target
  (``os.replace``, atomic on POSIX and Windows) and the directory is ``fsync``-ed.
  A crash at any moment leaves either the previous checkpoint or the new one, never a
  torn file.
* :func:`encode_state` / :func:`decode_state` turn a nested state (dicts, lists,
  tuples, numbers, strings, arrays, Tensors — an optimizer's or a scheduler's
  ``state_dict()``) into JSON text plus named arrays and back, exactly: arrays keep
  their dtype and bits, tuples stay tuples, integer dict keys stay integers.

Example::

    save_checkpoint("run.safetensors", {"w": weights}, {"epoch": "3"})
    arrays, metadata = load_checkpoint("run.safetensors")
"""
from __future__ import annotations

import json
import os
import tempfile

from . import backend
from .backend import host as np
from .tensor import Tensor
from .tensor import tensor as _to_tensor

__all__ = ["save_checkpoint", "load_checkpoint", "encode_state", "decode_state", "atomic_write"]


def save_checkpoint(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write ``tensors`` (name → array or Tensor) and ``metadata`` (str → str) to ``path``
    atomically (temporary file, flush, fsync, rename, fsync of the directory)."""
    from safetensors.numpy import save  # noqa: PLC0415 - a runtime dependency, loaded on use

    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"save_checkpoint: tensor names must be str; got {name!r}")
        array = _host(value)
        # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
        arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
    metadata = dict(metadata or {})
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"save_checkpoint: metadata must map str to str; got {key!r}: {type(value).__name__}"
            )
    blob = save(arrays, metadata=metadata)
    atomic_write(path, blob)


def load_checkpoint(path) -> tuple[dict, dict]:
    """Read a safetensors file: ``(arrays, metadata)``, the arrays as writable host arrays."""
    from safetensors import safe_open  # noqa: PLC0415

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint file at {path!r}")
    with safe_open(path, framework="numpy") as f:
        metadata = dict(f.metadata() or {})
        arrays = {name: np.array(f.get_tensor(name), copy=True) for name in f.keys()}
    return arrays, metadata


def encode_state(state, prefix: str) -> tuple[str, dict]:
    """``state`` as JSON text plus a dict of arrays named ``prefix + path``.

    Arrays and Tensors inside ``state`` are replaced in the JSON by a reference to
    their name, e.g. an optimizer's ``state[3]["exp_avg"]`` is stored under
    ``prefix + "state.3.exp_avg"``. NumPy scalars are kept with their dtype.
    Anything else that JSON cannot hold raises ``TypeError`` naming its path.
    """
    arrays: dict = {}
    tree = _encode(state, prefix, arrays)
    return json.dumps(tree), arrays


def decode_state(text: str, arrays: dict):
    """The inverse of :func:`encode_state`."""
    return _decode(json.loads(text), arrays)


# ---------------------------------------------------------------------- internals

def _host(value):
    if isinstance(value, Tensor):
        return backend.to_host(value.data)
    if backend.is_array(value) or isinstance(value, np.generic):
        return backend.to_host(np.asarray(value) if isinstance(value, np.generic) else value)
    raise TypeError(f"save_checkpoint: expected an array or a Tensor; got {type(value).__name__}")


def _encode(value, path: str, arrays: dict):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Tensor) or backend.is_array(value) or isinstance(value, np.generic):
        name = path.rstrip(".")
        if name in arrays:
            raise ValueError(f"encode_state: two arrays would be stored as {name!r}")
        arrays[name] = _host(value)
        kind = "tensor" if isinstance(value, Tensor) else "scalar" if isinstance(value, np.generic) else "array"
        return {"__array__": name, "kind": kind}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: _encode(v, f"{path}{k}.", arrays) for k, v in value.items()}}
        if all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            return {"__intdict__": [[k, _encode(v, f"{path}{k}.", arrays)] for k, v in value.items()]}
        raise TypeError(f"encode_state: dict keys at {path!r} must be all str or all int")
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{path}{i}.", arrays) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    raise TypeError(
        f"encode_state: cannot store a {type(value).__name__} at {path.rstrip('.')!r} in a "
        f"checkpoint (only numbers, strings, lists, dicts, arrays and Tensors)"
    )


def _decode(node, arrays: dict):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__array__" in node:
        array = arrays[node["__array__"]]
        if node["kind"] == "tensor":
            return _to_tensor(array, dtype=array.dtype)
        if node["kind"] == "scalar":
            return array[()]
        return array
    if "__dict__" in node:
        return {k: _decode(v, arrays) for k, v in node["__dict__"].items()}
    if "__intdict__" in node:
        return {int(k): _decode(v, arrays) for k, v in node["__intdict__"]}
    if "__tuple__" in node:
        return tuple(_decode(v, arrays) for v in node["__tuple__"])
    raise ValueError(f"decode_state: unrecognized node {sorted(node)}")


def atomic_write(path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` so that readers see the old file or the whole new one, never
    a part: a temporary file in the same directory, flush, fsync, rename, fsync of the
    directory."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes the file 0600; a checkpoint is ordinary data
            os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); directories cannot be opened on Windows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on directories
        pass
    finally:
        os.close(fd)
