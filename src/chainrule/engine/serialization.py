"""Checkpoint files: atomic writes in the safetensors format.

A checkpoint is one ``.safetensors`` file (https://github.com/huggingface/safetensors):
named arrays plus a ``metadata`` table of strings. It holds no pickled code, so
loading a file from someone else cannot run anything.

* :func:`save_checkpoint` writes atomically: the bytes go to a temporary file in the
  same directory, are flushed and ``fsync``-ed, the file is renamed over the target
  (``os.replace``, atomic on POSIX and Windows) and the directory is ``fsync``-ed.
  A crash at any moment leaves either the previous checkpoint or the new one, never a
  torn file; the temporary file a killed process leaves (``.tmp-<name>-<pid>-…``) is
  deleted by the next write of that path or the next resume from it
  (:func:`remove_stale_temporaries`).
* :func:`encode_state` / :func:`decode_state` turn a nested state (dicts, lists,
  tuples, numbers, strings, arrays, Tensors — an optimizer's or a scheduler's
  ``state_dict()``) into JSON text plus named arrays and back, exactly: arrays keep
  their dtype and bits, tuples stay tuples, integer dict keys stay integers.

* :func:`save` / :func:`load` (``chainrule.save``, ``chainrule.load``, PyTorch's names) put
  one object in such a file: a Tensor, or a nested state of dicts, lists, tuples, numbers,
  strings, None, arrays and Tensors (``model.state_dict()``, ``optimizer.state_dict()``,
  ``{"model": ..., "epoch": 3}``), encoded by :func:`encode_state`. ``load`` gives back the
  same structure, with CPU Tensors where Tensors were saved.

Example::

    save_checkpoint("run.safetensors", {"w": weights}, {"epoch": "3"})
    arrays, metadata = load_checkpoint("run.safetensors")

    chainrule.save({"model": model.state_dict(), "epoch": 3}, "model.safetensors")
    state = chainrule.load("model.safetensors")
    model.load_state_dict(state["model"])
"""
from __future__ import annotations

import json
import os
import struct
import tempfile

from . import backend
from .backend import host as np
from .tensor import Tensor
from .tensor import tensor as _to_tensor

__all__ = ["save", "load", "save_checkpoint", "load_checkpoint", "encode_state", "decode_state", "atomic_write",
           "check_safetensors_file", "remove_stale_temporaries", "SAVE_FORMAT"]

#: The ``format`` metadata of the files :func:`save` writes.
SAVE_FORMAT = "chainrule.save/1"
#: The ``format`` metadata of a Trainer's checkpoints (:mod:`chainrule.train.trainer`).
TRAINER_FORMAT = "chainrule.train/1"


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


def load_checkpoint(path, who: str = "load_checkpoint") -> tuple[dict, dict]:
    """Read a safetensors file: ``(arrays, metadata)``, the arrays as writable host arrays.
    An empty, truncated or foreign file raises ``ValueError`` naming it and ``who`` (the
    caller, e.g. "Trainer.load") (:func:`check_safetensors_file`)."""
    from safetensors import safe_open  # noqa: PLC0415

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{who}: no checkpoint file at {path!r}")
    check_safetensors_file(path, who)
    try:
        with safe_open(path, framework="numpy") as f:
            metadata = dict(f.metadata() or {})
            arrays = {name: np.array(f.get_tensor(name), copy=True) for name in f.keys()}
    except Exception as error:  # noqa: BLE001 - safetensors raises its own types for a damaged file
        raise ValueError(
            f"{who}: {path!r} is corrupt: safetensors cannot read it ({type(error).__name__}: {error})"
        ) from None
    return arrays, metadata


def save(obj, path) -> None:
    """Write ``obj`` to ``path`` (a safetensors file, atomically): ``chainrule.save``.

    ``obj`` is a Tensor, or nested dicts (keys all str or all int), lists and tuples of
    Tensors, arrays, numbers, strings, booleans and None: a model's or an optimizer's
    ``state_dict()``, or ``{"model": ..., "optimizer": ..., "epoch": 3}``. Tensors are written
    from host memory with their dtype and bits; everything else goes in the file's metadata
    as JSON (:func:`encode_state`), so nothing executable is ever stored. Read it back with
    :func:`load`.

    Raises ``TypeError`` naming the key path and the type of a value it cannot save (a set,
    a module, a function …), before anything is written.
    """
    if isinstance(obj, Tensor) or backend.is_array(obj):
        prefix = "tensor"  # a lone tensor is stored under this name
    elif isinstance(obj, (dict, list, tuple)):
        prefix = ""
    else:
        raise TypeError(
            f"chainrule.save: expected a Tensor or a dict/list/tuple state (e.g. model.state_dict()); "
            f"got {type(obj).__name__}"
        )
    try:
        text, arrays = encode_state(obj, prefix)
    except TypeError as error:
        raise TypeError(f"chainrule.save: {_reason(error)} (writing {os.fspath(path)!r})") from None
    except ValueError as error:  # two arrays under one name ({"a.b": x, "a": {"b": y}})
        raise ValueError(f"chainrule.save: {_reason(error)} (writing {os.fspath(path)!r})") from None
    save_checkpoint(path, arrays, {"format": SAVE_FORMAT, "state": text})


def load(path):
    """Read what :func:`save` wrote to ``path``: ``chainrule.load``.

    Returns the saved structure: Tensors come back as CPU Tensors (with their dtype, bits and
    ``requires_grad``), NumPy arrays and scalars as NumPy arrays and scalars, tuples as
    tuples, integer dict keys as integers, and the rest as plain Python values.

    Raises ``FileNotFoundError`` when there is no file, and ``ValueError`` naming the file when
    it is empty, truncated, not a safetensors file, or a safetensors file that
    ``chainrule.save`` did not write (a Trainer checkpoint, or one from another library).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"chainrule.load: no file at {path!r}")
    check_safetensors_file(path, "chainrule.load")
    arrays, metadata = load_checkpoint(path)
    found = metadata.get("format")
    if found != SAVE_FORMAT or "state" not in metadata:
        if found == TRAINER_FORMAT:
            raise ValueError(
                f"chainrule.load: {path!r} is a Trainer checkpoint, not a file written by chainrule.save; "
                f"read it with Trainer.load({path!r}) or resume with Trainer.fit(..., resume_from={path!r})"
            )
        raise ValueError(
            f"chainrule.load: {path!r} is a safetensors file but was not written by chainrule.save "
            f"(its metadata has format {found!r}, expected {SAVE_FORMAT!r}); read its tensors with "
            f"safetensors.numpy.load_file({path!r})"
        )
    return decode_state(metadata["state"], arrays)


def check_safetensors_file(path, who: str) -> None:
    """Raise ``ValueError`` naming ``path`` unless it is a whole safetensors file: not empty,
    its 8-byte header length and JSON header readable, and as long as the header says."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(
            f"{who}: {path!r} is empty (0 bytes): it is corrupt, not a saved file (was the write interrupted?)"
        )
    with open(path, "rb") as f:
        head = f.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else None
        first = f.read(1)
        if length is None:
            raise ValueError(
                f"{who}: {path!r} is not a safetensors file, or a truncated one: it has {size} bytes, "
                f"fewer than the 8 that start every safetensors file (corrupt, or not a chainrule file)"
            )
        if first == b"" and 0 < length < 100_000_000:
            raise ValueError(_truncated(who, path, size, 8 + length))
        if first != b"{" or length > 100_000_000:
            raise ValueError(
                f"{who}: {path!r} is not a safetensors file (it does not start with a safetensors header), so "
                f"not a chainrule model or checkpoint: chainrule.save, Trainer checkpoints and 'chainrule fit' "
                f"write safetensors files"
            )
        if 8 + length > size:
            raise ValueError(_truncated(who, path, size, 8 + length))
        header_bytes = first + f.read(length - 1)
    try:
        header = json.loads(header_bytes.decode("utf-8"))
        end = max((entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"),
                  default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise ValueError(
            f"{who}: {path!r} is not a safetensors file (its header is not valid): corrupt, or not a chainrule file"
        ) from None
    if 8 + length + end > size:
        raise ValueError(_truncated(who, path, size, 8 + length + end))


def _truncated(who: str, path: str, size: int, expected: int) -> str:
    return (f"{who}: {path!r} is truncated: it has {size} bytes but its header describes {expected}; "
            f"the file is corrupt, cut short (an interrupted copy or download?)")


def _reason(error: Exception) -> str:
    """An error message of :func:`encode_state` without its function name."""
    return str(error).split(": ", 1)[1] if str(error).startswith("encode_state: ") else str(error)


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
        if kind == "tensor" and value.requires_grad:
            return {"__array__": name, "kind": kind, "requires_grad": True}
        return {"__array__": name, "kind": kind}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: _encode(v, f"{path}{k}.", arrays) for k, v in value.items()}}
        if all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            return {"__intdict__": [[k, _encode(v, f"{path}{k}.", arrays)] for k, v in value.items()]}
        keys = sorted({type(k).__name__ for k in value})
        raise TypeError(
            f"encode_state: the keys of the dict at {_where(path)} must be all str or all int; "
            f"got keys of type {', '.join(keys)}"
        )
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{path}{i}.", arrays) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    raise TypeError(
        f"encode_state: cannot store a {type(value).__name__} at {_where(path)} "
        f"(only Tensors, arrays, numbers, strings, None, and lists, tuples and dicts of them)"
    )


def _where(path: str) -> str:
    """A value's key path as error messages name it."""
    return repr(path.rstrip(".")) if path.rstrip(".") else "the top level"


def _decode(node, arrays: dict):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "__array__" in node:
        array = arrays[node["__array__"]]
        if node["kind"] == "tensor":
            return _to_tensor(array, dtype=array.dtype, requires_grad=node.get("requires_grad", False))
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
    remove_stale_temporaries(path)
    fd, temporary = tempfile.mkstemp(prefix=f"{_temporary_prefix(path)}{os.getpid()}-", dir=directory)
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


def _temporary_prefix(path: str) -> str:
    return f".tmp-{os.path.basename(path)}-"


def remove_stale_temporaries(path) -> list:
    """Delete the temporary files that a write of ``path`` by :func:`atomic_write` left when its
    process was killed (``.tmp-<name>-<pid>-<random>`` beside ``path``, whose process is gone);
    returns the paths deleted. Files of a live process (a write in progress) are kept."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    removed = []
    try:
        names = [name for name in os.listdir(directory) if name.startswith(prefix)]
    except OSError:
        return removed
    for name in names:
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
                removed.append(os.path.join(directory, name))
            except OSError:
                pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # (on Windows os.kill(pid, 0) would end the process)
        return True  # this process's own writes are finished or in progress, never left behind
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # alive but another user's, or unknowable: keep its file
        return True
    return True


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
