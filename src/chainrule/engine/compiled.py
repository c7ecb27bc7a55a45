"""Optional compiled kernels (numba): the one place that decides whether they may run.

numba is a dependency (issue 20, "fast by default"), but never imported by ``import
chainrule``. Modules that have compiled kernels keep them in a separate module that imports
numba at its top (``optim/numba_kernels.py``, ``stats/lasso_kernels.py``,
``stats/logit_kernels.py``) and ask :func:`kernels` for it: they get the module, or None when
numba cannot be imported or ``CHAINRULE_NO_NUMBA`` is set to anything but "" or "0", and then
run their plain-NumPy twin of the same arithmetic (the reference and the fallback; the tests
run both: tests/test_compiled_paths.py). Each kernels module is imported once, on first use
(importing numba costs ~0.4 s).

Every kernel is compiled with ``cache=True``: the machine code is saved beside the module
(``__pycache__``) at the first call on a machine and loaded from there afterwards. Where that
directory is read-only (a system-wide site-packages), numba saves it in the user's cache
directory (``~/.cache/numba``, or ``$XDG_CACHE_HOME/numba``) instead, or wherever
``NUMBA_CACHE_DIR`` points.
"""
from __future__ import annotations

import importlib
import os

_modules: dict = {}  # module name -> the module, or False when its import failed


def disabled() -> bool:
    """True when ``CHAINRULE_NO_NUMBA`` asks for the NumPy fallbacks."""
    return os.environ.get("CHAINRULE_NO_NUMBA", "0") not in ("", "0")


def kernels(module_name: str):
    """The kernels module ``module_name`` (absolute, e.g. "chainrule.optim.numba_kernels"),
    or None when compiled kernels are disabled or numba is missing."""
    if disabled():
        return None
    module = _modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = False
        _modules[module_name] = module
    return module or None


def loaded(module_name: str):
    """The kernels module ``module_name`` if this process has already loaded it through
    :func:`kernels`, else None (never imports numba: for callers whose single use would not
    repay numba's start-up of a few tenths of a second)."""
    if disabled():
        return None
    return _modules.get(module_name) or None
