"""Import paths from before the layered layout, kept working.

In 2026-12 the loose top-level modules moved into the layer packages of
docs/architecture.md (``chainrule.autograd`` into ``chainrule.engine``,
``chainrule.landscape`` into ``chainrule.theory`` …). Code written against the old paths
keeps working: ``import chainrule.autograd`` and ``from chainrule.landscape import surface``
give the module at its new home, the very same module object, so its classes, its state and
monkeypatching behave as one module. Submodules follow their package
(``chainrule.ops.linalg`` is ``chainrule.engine.ops.linalg``).

How: :func:`install` (called once by ``chainrule/__init__.py``) registers the old names of
modules that are already imported in ``sys.modules``, and puts a finder on ``sys.meta_path``
(PEP 451) that answers for the other old names only: its loader imports the module under
its new name and puts that module in ``sys.modules`` under the old name too.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

#: Old import path -> new home. A path's submodules move with it.
MOVED = {
    "chainrule.autograd": "chainrule.engine.autograd",
    "chainrule.backend": "chainrule.engine.backend",
    "chainrule.ops": "chainrule.engine.ops",
    "chainrule.random": "chainrule.engine.random",
    "chainrule.tensor": "chainrule.engine.tensor",
    "chainrule.distributed": "chainrule.engine.distributed",
    "chainrule.checkpoint": "chainrule.engine.serialization",
    "chainrule.diagnostics": "chainrule.theory.diagnostics",
    "chainrule.landscape": "chainrule.theory.landscape",
    "chainrule._demo": "chainrule.cli.digits_mlp",
}


def new_name(name: str) -> str | None:
    """Where the module once imported as ``name`` lives now, or None if it did not move."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class _MovedModuleLoader(importlib.abc.Loader):
    """Loads an old name by importing the new one and answering with that module."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return None  # the default (empty) module, replaced in exec_module

    def exec_module(self, module) -> None:
        # A loader may replace its module in sys.modules; the import system then returns
        # the replacement (the import system's documented "module replaces itself" rule).
        sys.modules[module.__name__] = importlib.import_module(self.target)


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Answers only for the old names in :data:`MOVED` and their submodules."""

    def find_spec(self, name, path=None, target=None):
        new = new_name(name)
        if new is None:
            return None
        return importlib.util.spec_from_loader(name, _MovedModuleLoader(new))


def install() -> None:
    """Register the old names of already-imported modules and put the finder first on
    ``sys.meta_path`` (once)."""
    for old, new in MOVED.items():
        if new in sys.modules:
            sys.modules.setdefault(old, sys.modules[new])
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())
