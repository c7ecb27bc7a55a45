"""The optimizer base class: parameter groups, per-parameter state, and flat buffers.

An optimizer holds ``param_groups`` (a list of dicts: the tensors under ``"params"`` and
the hyper-parameters, e.g. ``lr``, that apply to them) and ``state`` (per parameter, a dict
of named buffers such as ``"exp_avg"`` plus the int ``"step"``), as in PyTorch.
``step()`` updates every parameter that has a gradient, in place; a parameter whose
``.grad`` is None is skipped (its buffers and step count stay as they are).

Flat buffers (:mod:`chainrule.optim.flat_buffers`)
--------------------------------------------------
By default (``flatten=True``) the optimizer takes over the memory of its parameters: each
group's parameters, gradients and state live back to back in flat arrays, so a step is one
pass over them whatever the number of parameters.

Update rules (the subclasses)
-----------------------------
Each optimizer writes its update rule once, in NumPy (its ``_update``), in the order of the
algorithm box of its docstring: the tested source of truth. On large runs of host
parameters a compiled kernel does the same arithmetic in one pass
(:mod:`chainrule.optim.kernels`).

State dicts
-----------
``state_dict()`` returns ``{"state": {index: {"step": int, name: numpy array}},
"param_groups": [{hyper-parameters..., "params": [indices]}]}`` with parameters numbered
in group order, as PyTorch does. Its arrays are host copies, so a checkpoint does not
change as training goes on and can be saved with ``numpy.savez``. ``load_state_dict``
validates the number of groups, the number of parameters in each and the buffers' shapes
before changing anything. It then copies every buffer into place, so training resumes
bit-identically.
"""
from __future__ import annotations

import copy
import numbers

from ..engine import autograd, backend
from ..engine.tensor import Tensor
from .flat_buffers import FlatChunk, OwnChunk, still_one_run
from .kernels import compiled_kernels

__all__ = ["Optimizer", "l2_direction"]

_HOST_ARRAY = backend.host.ndarray


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors (leaf, floating point), or of dicts each with a
            ``"params"`` entry and any hyper-parameters that override ``defaults`` for
            that group.
        defaults: the hyper-parameters of every group that does not set its own.
        flatten: keep each group's parameters, gradients and state in flat buffers (see
            the module docstring). False keeps every parameter's own memory.

    A subclass defines three methods:

    * ``_check_group(group, where)`` raises ``ValueError``/``TypeError`` naming a bad
      hyper-parameter (``where`` starts the message);
    * ``_buffers(group)`` returns the state buffers the update needs, as
      ``((name, initial value), ...)``;
    * ``_update(group, param, grad, buffers, step, fresh, work)`` updates the array
      ``param`` in place from ``grad`` and the arrays ``buffers[name]`` (all of one
      shape), where ``step`` is the new step count t (1 at the first update), ``fresh``
      names the buffers that were just created for these parameters, and ``work(k)``
      returns the k-th scratch array of the same shape: the update rule of the subclass's
      algorithm box, in NumPy, line by line.

    and may define ``_compiled_update`` (the same arithmetic in one compiled pass).
    """

    def __init__(self, params, defaults: dict, flatten: bool = True):
        if not isinstance(flatten, bool):
            raise TypeError(f"{type(self).__name__}: flatten must be True or False; got {flatten!r}")
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        self.flatten = flatten
        self._layouts: list[list] = []  # per group: its chunks (see FlatChunk, OwnChunk)
        self._location: dict = {}  # id(param) -> (chunk, position in chunk)
        self._check_group(self.defaults, type(self).__name__)
        for group in _as_groups(params, type(self).__name__):
            self.add_param_group(group)

    # ------------------------------------------------------------------ public API
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters, with hyper-parameters that override the defaults.

        Useful to train new layers, or to give parts of a model their own learning rate::

            opt.add_param_group({"params": head.parameters(), "lr": 1e-2})
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}.add_param_group: expected a dict with a 'params' entry; got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        where = f"{name} (param group {len(self.param_groups)})"
        group = dict(param_group)
        params = _param_list(group["params"], where)
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group, where)
        seen = set()
        for p in params:
            if id(p) in seen:
                raise ValueError(f"{where}: a parameter appears twice in the group; list each tensor once")
            if id(p) in self._location:
                raise ValueError(f"{where}: some parameters appear in more than one parameter group")
            seen.add(id(p))
        group["params"] = params
        layout = self._make_layout(params)
        for chunk in layout:
            for position, p in enumerate(chunk.params):
                self._location[id(p)] = (chunk, position)
        self.param_groups.append(group)
        self._layouts.append(layout)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters.

        With ``set_to_none=True`` (the default) ``.grad`` becomes None, and the next
        backward writes fresh gradients into the parameters' slots. False writes zeros
        into the existing gradients instead.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient, once.

        ``closure``, if given, is called first (with gradients enabled) to recompute the
        loss and the gradients; its return value is returned.
        """
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        if len(self._layouts) != len(self.param_groups):
            raise RuntimeError(
                f"{type(self).__name__}.step: param_groups was changed directly; add groups "
                f"with add_param_group() so that the optimizer can lay out their buffers"
            )
        for group, layout in zip(self.param_groups, self._layouts):
            buffers = self._buffers(group)
            for chunk in layout:
                self._step_chunk(group, chunk, buffers)
        return loss

    def state_dict(self) -> dict:
        """The optimizer's state as ``{"state": ..., "param_groups": ...}`` (host copies).

        Parameters are numbered 0, 1, … in group order; ``state`` has an entry for every
        parameter that has been updated at least once.
        """
        numbering = {}
        groups = []
        for group in self.param_groups:
            saved = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            saved["params"] = []
            for p in group["params"]:
                numbering[id(p)] = len(numbering)
                saved["params"].append(numbering[id(p)])
            groups.append(saved)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                entry = self.state.get(p)
                if entry is not None:
                    state[numbering[id(p)]] = {key: _export(value) for key, value in entry.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state saved by :meth:`state_dict`: hyper-parameters, step counts and
        every buffer, so that training continues exactly where it stopped.

        Everything is checked before anything changes. The numbers of groups and of
        parameters per group must match this optimizer's, and every buffer must have its
        parameter's shape. Buffers are copied into this optimizer's own arrays (cast to the
        parameter's dtype, moved to its device).
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise TypeError(
                f"{where}: expected a dict with 'state' and 'param_groups' (from state_dict()); got "
                f"{type(state_dict).__name__}"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: the state dict has {len(saved_groups)} parameter group(s) but this "
                f"optimizer has {len(self.param_groups)}"
            )
        by_index, new_groups = {}, []
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            indices = list(saved.get("params", ()))
            if len(indices) != len(group["params"]):
                raise ValueError(
                    f"{where}: parameter group {g} of the state dict has {len(indices)} parameter(s) "
                    f"but this optimizer's group {g} has {len(group['params'])}"
                )
            for index, p in zip(indices, group["params"]):
                by_index[index] = p
            merged = {key: value for key, value in group.items() if key != "params"}
            merged.update({key: copy.deepcopy(value) for key, value in saved.items() if key != "params"})
            self._check_group(merged, f"{where} (param group {g})")
            merged["params"] = group["params"]
            new_groups.append(merged)
        new_state = {}
        for index, entry in dict(state_dict["state"]).items():
            if index not in by_index:
                raise ValueError(
                    f"{where}: the state dict has state for parameter {index!r}, which none of its param groups lists"
                )
            p = by_index[index]
            new_state[p] = _checked_entry(entry, p, index, where)
        for group, merged in zip(self.param_groups, new_groups):
            group.clear()
            group.update(merged)
        self.state = {}
        for p, entry in new_state.items():
            chunk, position = self._location[id(p)]
            restored = {"step": 0}
            for key, value in entry.items():
                restored[key] = chunk.install(key, position, value) if backend.is_array(value) else value
            self.state[p] = restored

    def flat_layout(self, params: list):
        """(length, dtype) of this optimizer's one flat host chunk when it holds exactly
        ``params``, in order, in one param group (what a sharded step needs, gradients and
        state aside: :meth:`flat_gradient`); else None."""
        if len(self.param_groups) != 1 or len(self._layouts) != 1 or len(self._layouts[0]) != 1:
            return None
        chunk = self._layouts[0][0]
        if (not isinstance(chunk, FlatChunk) or chunk.data.__class__ is not _HOST_ARRAY
                or len(chunk.params) != len(params) or any(a is not b for a, b in zip(chunk.params, params))):
            return None
        return chunk.data.shape[0], chunk.data.dtype

    def move_flat_arrays(self, data, grad) -> None:
        """Keep the one flat chunk's parameters and gradients in ``data`` and ``grad`` from now
        on (after :meth:`flat_layout` accepted it; between steps): see ``FlatChunk.move_to``."""
        self._layouts[0][0].move_to(data, grad)

    def flat_gradient(self, params: list):
        """For a sharded step (ZeRO stage 1, :mod:`chainrule.train.zero_redundancy`): the one
        flat gradient array of this optimizer when :meth:`step_elements` may update any slices
        of it on their own, else None. That needs one param group whose parameters are
        ``params`` in order, in one flat host chunk, every gradient in its slot, every
        ``.data`` its view, and the same state for all (none yet, or one step count and the
        update's buffers)."""
        if self.flat_layout(params) is None:
            return None
        chunk = self._layouts[0][0]
        for p, view, slot in zip(chunk.params, chunk.data_views, chunk.grad_views):
            grad = p.grad
            if p.data is not view or grad is None or grad.data is not slot:
                return None
        entries = [self.state.get(p) for p in chunk.params]
        if all(entry is None for entry in entries):
            return chunk.grad
        keys = {"step"} | {name for name, _ in self._buffers(self.param_groups[0])}
        step = entries[0].get("step") if entries[0] is not None else None
        if any(entry is None or set(entry) != keys or entry["step"] != step for entry in entries):
            return None
        return chunk.grad

    def flat_arrays(self) -> dict:
        """The flat arrays of the one flat chunk that :meth:`flat_gradient` accepts:
        ``{"params": parameters, name: state buffer, ...}`` (the arrays themselves, not copies)."""
        chunk = self._layouts[0][0]
        return {"params": chunk.data, **chunk.buffers}

    def step_elements(self, spans) -> None:
        """One step that updates only some elements of the flat parameters: ``spans`` is a
        list of (start, stop, gradient start), elements [start, stop) of the parameters and
        of the state buffers updated with the gradient values at [gradient start, …) of the
        flat gradient; the step count of every parameter advances. Only after
        :meth:`flat_gradient` returned an array. Each element's arithmetic is that of
        :meth:`step` (the update rules are elementwise), so the updated elements are equal
        to :meth:`step`'s to the bit."""
        group, chunk = self.param_groups[0], self._layouts[0][0]
        buffers = self._buffers(group)
        entries = [self.state.get(p) for p in chunk.params]
        step, fresh = 0, tuple(name for name, _ in buffers)
        if entries[0] is None:
            for name, initial in buffers:
                chunk.fill(name, 0, len(chunk.params) - 1, initial)
            entries = [self.state.setdefault(p, {"step": 0}) for p in chunk.params]
        else:
            step, fresh = entries[0]["step"], ()
        for start, stop, grad_start in spans:
            if stop > start:
                param, grad, arrays, work = chunk.elements(start, stop, grad_start, buffers)
                self._run_update(group, param, grad, arrays, step + 1, fresh, work)
        for position, entry in enumerate(entries):
            entry["step"] = step + 1
            for name in fresh:
                entry[name] = chunk.view(name, position)
        chunk.full_run = (step + 1, buffers, entries)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for g, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {g}")
            for key in sorted(key for key in group if key != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------ for subclasses
    def _check_group(self, group: dict, where: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _check_group")  # abstract

    def _buffers(self, group: dict) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define _buffers")  # abstract

    def _update(self, group, param, grad, buffers, step, fresh, work) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update")  # abstract

    #: ``_compiled_update(kernels, group, param, grad, buffers, step, fresh)``: the same update
    #: as ``_update`` in one compiled pass (:mod:`chainrule.optim.numba_kernels`); None when
    #: a subclass has no kernel.
    _compiled_update = None

    def _run_update(self, group, param, grad, buffers, step, fresh, work) -> None:
        """Update one run of parameters: with the compiled kernel when it can run on these
        arrays (:func:`~chainrule.optim.kernels.compiled_kernels`), else with the NumPy update
        rule, which does the same arithmetic in the same order."""
        if self._compiled_update is not None:
            kernels = compiled_kernels(param, grad, *buffers.values())
            if kernels is not None:
                self._compiled_update(kernels, group, param, grad, buffers, step, fresh)
                return
        self._update(group, param, grad, buffers, step, fresh, work)

    # ------------------------------------------------------------------ the step
    def _make_layout(self, params: list) -> list:
        if not self.flatten:
            return [OwnChunk(p) for p in params]
        members: dict = {}
        for p in params:
            members.setdefault((backend.device_of(p.data), p.data.dtype), []).append(p)
        return [FlatChunk(same_kind) for same_kind in members.values()]

    def _step_chunk(self, group: dict, chunk, buffers: tuple) -> None:
        """Split the chunk into runs of parameters that can be updated together, and update each."""
        state = self.state
        previous = chunk.full_run
        if previous is not None and chunk.as_last_time(previous, buffers, state):
            # the common case: every parameter was updated together last time, has its
            # gradient in its slot now, and nothing else changed
            self._update_whole(group, chunk, buffers, previous)
            return
        has_grad = chunk.gather_grads()
        if previous is not None and False not in has_grad and still_one_run(previous, buffers, chunk.params, state):
            # as above, once gradients were copied into their slots or data re-adopted
            self._update_whole(group, chunk, buffers, previous)
            return
        runs = []  # [first, last, (step, fresh)]
        for position, ready in enumerate(has_grad):
            if not ready:
                continue
            p = chunk.params[position]
            entry = state.get(p)
            if entry is None:
                entry = state[p] = {"step": 0}
            fresh = tuple([name for name, _ in buffers if name not in entry])
            key = (entry.get("step", 0), fresh)
            if runs and runs[-1][1] == position - 1 and runs[-1][2] == key:
                runs[-1][1] = position
            else:
                runs.append([position, position, key])
        for first, last, (step, fresh) in runs:
            for name, initial in buffers:
                if name in fresh:
                    chunk.fill(name, first, last, initial)
            param, grad, arrays, work = chunk.span(first, last, buffers)
            self._run_update(group, param, grad, arrays, step + 1, fresh, work)
            for position in range(first, last + 1):
                entry = state[chunk.params[position]]
                entry["step"] = step + 1
                for name in fresh:
                    entry[name] = chunk.view(name, position)
        whole = len(runs) == 1 and runs[0][0] == 0 and runs[0][1] == len(chunk.params) - 1
        chunk.full_run = (runs[0][2][0] + 1, buffers, [state[p] for p in chunk.params]) if whole else None

    def _update_whole(self, group: dict, chunk, buffers: tuple, previous: tuple) -> None:
        """One update of every parameter of the chunk at once, all at the same step count."""
        step, _, entries = previous
        param, grad, arrays, work = chunk.whole(buffers)
        self._run_update(group, param, grad, arrays, step + 1, (), work)
        for entry in entries:
            entry["step"] = step + 1
        chunk.full_run = (step + 1, buffers, entries)


# ---------------------------------------------------------------------- layouts

# ---------------------------------------------------------------------- compiled kernels


def l2_direction(param, grad, weight_decay, out):
    """The gradient of f + (weight_decay / 2) ||theta||^2: grad + weight_decay * theta
    (the coupled L2 penalty of SGD, Adagrad, RMSprop and Adam), written into ``out``;
    ``grad`` itself when weight_decay is 0."""
    if weight_decay == 0:
        return grad
    direction = backend.namespace_of(param).multiply(param, weight_decay, out=out)
    direction += grad
    return direction


# ---------------------------------------------------------------------- helpers

def _as_groups(params, owner: str) -> list:
    if isinstance(params, Tensor):
        raise TypeError(
            f"{owner}: params must be an iterable of Tensors or of dicts (param groups); got a "
            f"single Tensor. Pass a list: [tensor]"
        )
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{owner}: params must be an ordered collection; a set's order changes between runs")
    try:
        params = list(params)
    except TypeError as err:
        raise TypeError(
            f"{owner}: params must be an iterable of Tensors or dicts; got {type(params).__name__}"
        ) from err
    if not params:
        raise ValueError(f"{owner}: got an empty parameter list; pass model.parameters() or a list of tensors")
    if all(isinstance(p, dict) for p in params):
        return params
    if any(isinstance(p, dict) for p in params):
        raise TypeError(f"{owner}: params mixes Tensors and dicts; pass either Tensors or param-group dicts")
    return [{"params": params}]


def _param_list(params, where: str) -> list:
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, (set, frozenset)):
        raise TypeError(f"{where}: params must be an ordered collection; a set's order changes between runs")
    else:
        params = list(params)
    for position, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: optimizers update Tensors; params[{position}] is a {type(p).__name__}")
        if p.dtype.kind != "f":
            raise TypeError(
                f"{where}: params[{position}] has dtype {p.dtype}; only floating-point tensors can be optimized"
            )
        if not p.is_leaf:
            raise ValueError(
                f"{where}: params[{position}] is not a leaf tensor (it was computed by {p.grad_fn.op}); "
                f"optimize the tensor it came from, or use t.detach().requires_grad_()"
            )
    return params


def _export(value):
    if isinstance(value, Tensor):
        value = value.data
    if backend.is_array(value):
        return backend.host.array(backend.to_host(value), copy=True)
    return copy.deepcopy(value)


def _checked_entry(entry, p, index, where: str) -> dict:
    """One parameter's saved state, validated: step an int >= 0, buffers float host arrays of its shape."""
    if not isinstance(entry, dict):
        raise TypeError(f"{where}: the state of parameter {index!r} must be a dict; got {type(entry).__name__}")
    checked = {}
    for key, value in entry.items():
        if key == "step":
            step = backend.to_host(value).item() if backend.is_array(value) else value
            if isinstance(step, bool) or not isinstance(step, numbers.Real) or step != int(step) or step < 0:
                raise ValueError(f"{where}: state['step'] of parameter {index!r} must be an int >= 0; got {value!r}")
            checked[key] = int(step)
            continue
        if isinstance(value, Tensor):
            value = value.data
        if backend.is_array(value) or isinstance(value, backend.host.generic):
            array = backend.host.asarray(backend.to_host(value))
            if array.shape != tuple(p.shape):
                raise ValueError(
                    f"{where}: state[{key!r}] of parameter {index!r} has shape {array.shape} but "
                    f"the parameter has shape {tuple(p.shape)}"
                )
            if array.dtype.kind != "f":
                raise TypeError(
                    f"{where}: state[{key!r}] of parameter {index!r} has dtype {array.dtype}; expected a float array"
                )
            checked[key] = array
        else:
            checked[key] = copy.deepcopy(value)
    return checked
