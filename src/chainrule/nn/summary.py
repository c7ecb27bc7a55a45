"""``Module.summary()``: a model's layers as a table, as Keras prints ``model.summary()``.

One row per sub-module, depth first in registration order (nested modules indented under
their container): its name and type, its output shape and the number of parameters it owns
itself (a container's rows below it hold the rest; "--" for a container without parameters
of its own), then the totals::

    Model: "MLP"
    ______________________________________________________________________
     Layer (type)                     Output Shape               Param #
    ======================================================================
     layers (Sequential)              (1, 10)                    --
       0 (Linear)                     (1, 256)                   200,960
       ...
    ======================================================================
    Total params: 269,322 (1.03 MB)
    Trainable params: 269,322 (1.03 MB)
    Non-trainable params: 0 (0.00 B)
    ______________________________________________________________________

Output shapes come from one forward pass on zeros of ``input_size``: a forward hook on every
module records the shape of what it returns (the first call's, when a module runs several
times; "--" for a module the forward pass never called). The pass runs in evaluation mode
(BatchNorm's running statistics are left alone) without a graph; every module's mode and
every hook are restored afterwards. A parameter shared by several modules is counted once,
in the row of the first.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.autograd import no_grad
from ..engine.creation import zeros
from ..engine.tensor import Tensor

__all__ = ["summarize", "output_shapes"]


def summarize(model, input_size=None, *, dtype=None, print_fn=print) -> str:
    """The table of :mod:`chainrule.nn.summary` for ``model``; printed with ``print_fn`` (None:
    not printed) and returned."""
    shapes = None if input_size is None else output_shapes(model, input_size, dtype)
    rows, counted = [], set()
    named = list(model.named_modules())
    members = named[1:] if len(named) > 1 else named  # a model without sub-modules is its own row
    for name, module in members:
        own = [p for p in module.parameters(recurse=False) if id(p) not in counted]
        counted.update(id(p) for p in own)
        count = sum(p.numel() for p in own)
        has_children = any(True for _ in module.children())
        depth = name.count(".") if name else 0
        label = "  " * depth + (name or type(model).__name__) + f" ({type(module).__name__})"
        shape = "" if shapes is None else shapes.get(id(module), "--")
        rows.append((label, shape, "--" if has_children and count == 0 else f"{count:,}"))
    return _table(model, rows, shapes is not None, print_fn)


def output_shapes(model, input_size, dtype=None) -> dict:
    """``{id(module): shape text}`` for every module that one forward pass on zeros of
    ``input_size`` calls (the model included)."""
    sizes = _input_sizes(input_size)
    params = list(model.parameters())
    floating = [p for p in params if p.dtype.kind == "f"]
    dtype = backend.canonical_dtype(dtype) if dtype is not None else (
        floating[0].dtype if floating else backend.float32)
    device = params[0].device if params else "cpu"
    inputs = [zeros(*size, dtype=dtype, device=device) for size in sizes]
    shapes, handles = {}, []

    def record(module, args, output):
        shapes.setdefault(id(module), _shape_text(output))

    modes = [(module, module.training) for module in model.modules()]
    try:
        for module in model.modules():
            handles.append(module.register_forward_hook(record))
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            object.__setattr__(module, "training", training)
    return shapes


def _input_sizes(input_size) -> list:
    if isinstance(input_size, (tuple, list)) and input_size and all(isinstance(s, (tuple, list)) for s in input_size):
        sizes = [tuple(s) for s in input_size]
    else:
        sizes = [tuple(input_size) if isinstance(input_size, (tuple, list)) else (input_size,)]
    for size in sizes:
        if not size or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in size):
            raise ValueError(
                f"summary: input_size must be a shape (a tuple of ints >= 0, the batch dimension "
                f"included, e.g. (1, 784)) or a list of shapes; got {input_size!r}"
            )
    return sizes


def _shape_text(output) -> str:
    if isinstance(output, Tensor):
        return str(tuple(output.shape))
    if isinstance(output, (tuple, list)):
        return "[" + ", ".join(_shape_text(item) for item in output) + "]"
    return type(output).__name__


def _bytes(params) -> int:
    return sum(p.numel() * p.dtype.itemsize for p in params)


def _size_text(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"  # pragma: no cover - the loop returns


def _table(model, rows: list, with_shapes: bool, print_fn) -> str:
    name_width = max([28] + [len(label) + 3 for label, _, _ in rows])
    shape_width = max([25] + [len(shape) + 3 for _, shape, _ in rows]) if with_shapes else 0
    count_width = max([10] + [len(count) for _, _, count in rows])
    width = 1 + name_width + shape_width + count_width

    def line(label, shape, count):
        return (" " + label.ljust(name_width) + (shape.ljust(shape_width) if with_shapes else "") + count).rstrip()

    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    frozen = [p for p in params if not p.requires_grad]
    lines = [f'Model: "{type(model).__name__}"', "_" * width,
             line("Layer (type)", "Output Shape", "Param #"), "=" * width]
    lines += [line(*row) for row in rows]
    lines += ["=" * width,
              f"Total params: {sum(p.numel() for p in params):,} ({_size_text(_bytes(params))})",
              f"Trainable params: {sum(p.numel() for p in trainable):,} ({_size_text(_bytes(trainable))})",
              f"Non-trainable params: {sum(p.numel() for p in frozen):,} ({_size_text(_bytes(frozen))})"]
    buffers = list(model.buffers())
    if buffers:
        lines.append(f"Buffers (not parameters, e.g. running statistics): {sum(b.numel() for b in buffers):,} "
                     f"({_size_text(_bytes(buffers))})")
    lines.append("_" * width)
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text
