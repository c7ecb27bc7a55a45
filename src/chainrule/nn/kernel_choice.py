"""Whether a deep-net fast path runs its compiled kernel (:mod:`chainrule.nn.fused.numba_kernels`).

The kernels run on host (NumPy) float32 and float64 arrays, when numba is installed and
``CHAINRULE_NO_NUMBA`` is unset (:func:`chainrule.engine.compiled.kernels`). A process pays
for numba once: importing it and setting up its code generator at the first call take about
1 s on the 2-core benchmark machine (the machine code itself is cached on disk). Arrays of
fewer than :data:`MIN_SIZE` elements (a small model, a unit test) therefore use the kernels
only if something larger has already loaded them (:func:`chainrule.engine.compiled.loaded`),
and otherwise run the NumPy twin: the start-up would cost more than it saves.
"""
from __future__ import annotations

from ..engine import backend, compiled

__all__ = ["KERNELS", "MIN_SIZE", "kernels_for"]

KERNELS = "chainrule.nn.fused.numba_kernels"  #: the compiled kernels' module
MIN_SIZE = 1 << 15  #: smaller arrays load no kernels (they use them once something has)


def kernels_for(array, module: str = KERNELS):
    """The kernels module ``module`` for ``array`` (see the module docstring), or None."""
    if type(array) is not backend.host.ndarray or array.dtype.char not in "fd":
        return None
    if array.size >= MIN_SIZE:
        return compiled.kernels(module)
    return compiled.loaded(module)
