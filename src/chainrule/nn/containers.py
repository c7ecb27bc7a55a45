"""Containers: Sequential (modules applied one after another) and ModuleList.

``Sequential``'s forward runs each module on the output of the one before; runs of Linear
[ReLU] modules go through the fused ``linear_chain`` node
(:func:`chainrule.nn.fused.linear_chain.plan_steps`), with the same values and gradients.
"""
from __future__ import annotations

from .fused.linear_chain import plan_steps
from .module import Module

__all__ = ["Sequential", "ModuleList"]


class Sequential(Module):
    """Modules applied one after another: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Sub-modules are named "0", "1", … (state-dict keys "0.weight" …), or by the keys
    of a dict passed as the only argument. Indexing returns a module, slicing a new
    Sequential sharing the modules.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                self.add_module(str(name), _require_module(module, "Sequential", name))
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), _require_module(module, "Sequential", index))

    def forward(self, x):
        """Each module on the output of the one before. Runs of modules that can fuse
        (consecutive ``nn.Linear`` layers with the ``nn.ReLU`` after each,
        :mod:`chainrule.nn.fused.linear_chain`) run as one graph node each; the result is the same."""
        for step in self._steps():
            x = step(x)
        return x

    def _steps(self) -> tuple:
        """What forward calls: the modules, with fusable runs replaced by one step each.
        Planned once per set of modules and kept until the modules change."""
        modules = tuple(self._modules.values())
        cached = self.__dict__.get("_planned_steps")
        if cached is None or cached[0] != modules:
            cached = (modules, plan_steps(modules))
            object.__setattr__(self, "_planned_steps", cached)
        return cached[1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[_position(index, len(modules), "Sequential")]

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self._modules)), _require_module(module, "Sequential.append", len(self)))
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list's would
    not be). Named "0", "1", …; it has no forward: iterate over it in yours."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_position(index, len(modules), "ModuleList")]

    def __setitem__(self, index, module) -> None:
        position = _position(index, len(self), "ModuleList")
        self.add_module(str(position), _require_module(module, "ModuleList", position))

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self._modules)), _require_module(module, "ModuleList.append", len(self)))
        return self

    def extend(self, modules):
        """Append every module of an iterable; returns self."""
        for module in modules:
            self.append(module)
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError(  # deliberate, as in PyTorch: a container, not an abstract gap
            "ModuleList has no forward(); iterate over it inside your module's forward"
        )


def _require_module(module, where: str, name):
    if not isinstance(module, Module):
        raise TypeError(f"{where}: element {name!r} must be a Module; got {type(module).__name__}")
    return module


def _position(index, length: int, where: str) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"{where}: indices must be ints or slices; got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{where}: index {index} is out of range for {length} module(s)")
    return index % length
