"""Flat buffers: an optimizer's parameters, gradients and state, back to back in one array each.

By default (``flatten=True``) the optimizer takes over the memory of its parameters when it
is built. For every param group, the parameters that share a device and dtype (normally
all of them) are copied back to back into one contiguous 1-D array, and each parameter's
``.data`` is replaced by a view of its slice, reshaped to its shape::

    group["params"]:  W1 (784, 256)       b1 (256,)  W2 (256, 10)   b2 (10,)
    data      [ W1 .................... | b1 ...... | W2 ........ | b2 ]   p.data      = view
    grad      [ same layout                                             ]   p.grad_slot = view
    exp_avg   [ same layout                                             ]   state[p]["exp_avg"] = view
    exp_avg_sq[ same layout                                             ]   ...

The model holds the same Parameter objects, so it sees every update without copying. Each
parameter that accepts an attribute ``grad_slot`` (``nn.Parameter`` does; a plain Tensor
does not) gets a view of a flat gradient array with the same layout: backward writes a
parameter's first gradient into its slot (a fused layer computes it there directly, see
:mod:`chainrule.engine.autograd.grad_slots`; other gradients are copied in at the end of backward), so after
``zero_grad()`` (which sets ``.grad = None``) and ``backward()`` the whole group's
gradient is one array. State buffers are flat arrays with the same layout as well, and
``state[p]`` holds views into them. A step is then one update over the flat arrays, one
compiled loop or about ten in-place array operations, whatever the number of parameters.

The uncommon cases are handled at each step, so results never depend on the layout:

* A parameter whose ``.grad`` is None is skipped, as in PyTorch. The update runs over each
  maximal run of consecutive parameters that have gradients, share a step count and have
  their buffers initialized alike (one run, the whole buffer, in the common case).
  Parameters with different step counts need different bias corrections, so they never
  share a run.
* A gradient that is not in its slot (a plain Tensor, or a ``.grad`` assigned by hand) is
  copied into the slot first.
* A parameter whose ``.data`` was replaced by a new array of the same shape, dtype and
  device (``p.data = array``) is re-adopted: the values are copied into the flat buffer
  and ``.data`` points at the view again. Another shape, dtype or device raises an error:
  build the optimizer after moving or converting the model, as in PyTorch.

The price of flattening: an array obtained from ``p.data`` before the optimizer was built
(or given to ``from_numpy``) no longer aliases the parameter, and a ``.grad`` tensor kept
from an earlier step is overwritten by later backward passes (the slot is reused). Pass
``flatten=False`` to keep each parameter's own memory. The same updates then run one
parameter at a time and give identical numbers.
"""
from __future__ import annotations

from ..engine import backend

__all__ = ["FlatChunk", "OwnChunk", "still_one_run"]


class FlatChunk:
    """The parameters of one group that share a device and dtype, stored back to back."""

    def __init__(self, params: list):
        first = params[0].data
        self.params = params
        self.shapes = [tuple(p.data.shape) for p in params]
        self.starts, self.stops = [], []
        total = 0
        for p in params:
            self.starts.append(total)
            total += int(p.data.size)
            self.stops.append(total)
        xp = backend.namespace_of(first)
        self.data = xp.zeros_like(first, shape=(total,), order="C")
        self.grad = xp.zeros_like(self.data)
        self.data_views = [self._view(self.data, i) for i in range(len(params))]
        self.grad_views = [self._view(self.grad, i) for i in range(len(params))]
        for p, view, slot in zip(params, self.data_views, self.grad_views):
            view[...] = p.data
            p.data = view
            try:
                p.grad_slot = slot
            except AttributeError:  # a plain Tensor has no slot: its gradient is copied at each step
                pass
        self.buffers: dict = {}
        self._scratch: list = []
        self.full_run = None  # (step, buffers, state entries) after an update of the whole chunk at once

    def gather_grads(self) -> list:
        """Which parameters have a gradient; puts every gradient into its slot of the flat
        gradient array and re-adopts parameters whose ``.data`` was replaced."""
        ready = []
        for position, (p, view, slot) in enumerate(zip(self.params, self.data_views, self.grad_views)):
            if p.data is not view:
                self._readopt(position, p)
            grad = p.grad
            if grad is None:
                ready.append(False)
                continue
            array = grad.data
            if array is not slot:  # backward wrote elsewhere (a plain Tensor, a .grad set by hand)
                if tuple(array.shape) != tuple(slot.shape):
                    raise RuntimeError(
                        f"optimizer step: a parameter of shape {tuple(slot.shape)} has a gradient "
                        f"of shape {tuple(array.shape)}"
                    )
                slot[...] = array
            ready.append(True)
        return ready

    def as_last_time(self, previous: tuple, buffers: tuple, state: dict) -> bool:
        """One pass that checks the common case of a step: every parameter still has its
        ``.data`` view, a gradient that already is its slot (as backward leaves it), and
        the state entry and step count of the last whole-chunk update (``previous``).
        False sends the step to the general path, which handles every exception."""
        step, previous_buffers, entries = previous
        if previous_buffers != buffers:
            return False
        get = state.get
        for p, view, slot, entry in zip(self.params, self.data_views, self.grad_views, entries):
            grad = p.grad
            if p.data is not view or grad is None or grad.data is not slot:
                return False
            if get(p) is not entry or entry.get("step") != step:
                return False
        return True

    def whole(self, buffers: tuple):
        """What :meth:`span` returns for all parameters, without slicing."""
        return self.data, self.grad, {name: self.buffers[name] for name, _ in buffers}, self._work

    def span(self, first: int, last: int, buffers: tuple):
        a, b = self.starts[first], self.stops[last]
        arrays = {name: self.buffers[name][a:b] for name, _ in buffers}
        return self.data[a:b], self.grad[a:b], arrays, lambda k: self._work(k)[a:b]

    def move_to(self, data, grad) -> None:
        """Keep the flat parameters and gradients in ``data`` and ``grad`` from now on (1-D
        arrays of the same length and dtype, e.g. in memory shared between processes): the
        values are copied and every parameter's ``.data`` and gradient slot become views of
        the new arrays (the gradients themselves are not moved: call it between steps)."""
        data[...] = self.data
        grad[...] = self.grad
        self.data, self.grad = data, grad
        self.data_views = [self._view(self.data, i) for i in range(len(self.params))]
        self.grad_views = [self._view(self.grad, i) for i in range(len(self.params))]
        for p, view, slot in zip(self.params, self.data_views, self.grad_views):
            p.data = view
            if getattr(p, "grad_slot", None) is not None:
                p.grad_slot = slot

    def elements(self, start: int, stop: int, grad_start: int, buffers: tuple):
        """What :meth:`span` returns for the elements [start, stop) of the flat arrays, the
        gradient taken from [grad_start, grad_start + stop - start) (a sharded step)."""
        arrays = {name: self.buffers[name][start:stop] for name, _ in buffers}
        grad = self.grad[grad_start:grad_start + stop - start]
        return self.data[start:stop], grad, arrays, lambda k: self._work(k)[start:stop]

    def fill(self, name: str, first: int, last: int, initial) -> None:
        if name not in self.buffers:
            self.buffers[name] = backend.namespace_of(self.data).zeros_like(self.data)
        self.buffers[name][self.starts[first]:self.stops[last]] = initial

    def view(self, name: str, position: int):
        return self._view(self.buffers[name], position)

    def install(self, name: str, position: int, host_array):
        """Copy a saved buffer into this chunk's state buffer ``name``; return the view."""
        if name not in self.buffers:
            self.buffers[name] = backend.namespace_of(self.data).zeros_like(self.data)
        view = self.view(name, position)
        view[...] = backend.move(host_array.astype(self.data.dtype), backend.device_of(self.data))
        return view

    def _view(self, flat, position: int):
        return flat[self.starts[position]:self.stops[position]].reshape(self.shapes[position])

    def _work(self, k: int):
        while len(self._scratch) <= k:
            self._scratch.append(backend.namespace_of(self.data).empty_like(self.data))
        return self._scratch[k]

    def _readopt(self, position: int, p) -> None:
        view, new = self.data_views[position], p.data
        if (
            not backend.is_array(new)
            or tuple(new.shape) != tuple(view.shape)
            or new.dtype != view.dtype
            or backend.device_of(new) != backend.device_of(view)
        ):
            found = f"shape {tuple(new.shape)}, dtype {new.dtype}" if backend.is_array(new) else type(new).__name__
            raise RuntimeError(
                f"optimizer step: a parameter's data was replaced since the optimizer was built: "
                f"expected shape {tuple(view.shape)}, dtype {view.dtype} on {backend.device_of(view)}; "
                f"found {found}. Build the optimizer after moving or converting the model"
            )
        view[...] = new
        p.data = view


class OwnChunk:
    """One parameter that keeps its own memory (``flatten=False``)."""

    def __init__(self, param):
        self.params = [param]
        self.buffers: dict = {}
        self._scratch: list = []
        self.full_run = None

    def gather_grads(self) -> list:
        return [self.params[0].grad is not None]

    def span(self, first: int, last: int, buffers: tuple):
        p = self.params[0]
        data, grad = p.data, p.grad.data
        if tuple(grad.shape) != tuple(data.shape):
            raise RuntimeError(
                f"optimizer step: a parameter of shape {tuple(data.shape)} has a gradient of shape {tuple(grad.shape)}"
            )
        arrays = {}
        for name, _ in buffers:
            array = self.buffers[name]
            if array.shape != data.shape or array.dtype != data.dtype:
                raise RuntimeError(
                    f"optimizer step: a parameter changed from shape {tuple(array.shape)}, dtype "
                    f"{array.dtype} to shape {tuple(data.shape)}, dtype {data.dtype} since its "
                    f"state was created. Build the optimizer after moving or converting the model"
                )
            arrays[name] = array
        return data, grad, arrays, self._work

    def as_last_time(self, previous: tuple, buffers: tuple, state: dict) -> bool:
        """Never: a single parameter's step always takes the general path."""
        return False

    def whole(self, buffers: tuple):
        """The one parameter's arrays (see :meth:`span`)."""
        return self.span(0, 0, buffers)

    def fill(self, name: str, first: int, last: int, initial) -> None:
        data = self.params[0].data
        array = self.buffers.get(name)
        if array is None or array.shape != data.shape or array.dtype != data.dtype:
            array = self.buffers[name] = backend.namespace_of(data).empty(data.shape, data.dtype)
        array[...] = initial

    def view(self, name: str, position: int):
        return self.buffers[name]

    def install(self, name: str, position: int, host_array):
        data = self.params[0].data
        self.buffers[name] = backend.move(host_array.astype(data.dtype, order="C"), backend.device_of(data))
        return self.buffers[name]

    def _work(self, k: int):
        data = self.params[0].data
        while len(self._scratch) <= k:
            self._scratch.append(None)
        array = self._scratch[k]
        if array is None or array.shape != data.shape or array.dtype != data.dtype:
            array = self._scratch[k] = backend.namespace_of(data).empty(data.shape, data.dtype)
        return array


def still_one_run(previous: tuple, buffers: tuple, params: list, state: dict) -> bool:
    """Whether the parameters are still as the last whole-chunk update left them: same
    buffers, same state dicts, same step count."""
    step, previous_buffers, entries = previous
    if previous_buffers != buffers:
        return False
    get = state.get
    for p, entry in zip(params, entries):
        if get(p) is not entry or entry.get("step") != step:
            return False
    return True
