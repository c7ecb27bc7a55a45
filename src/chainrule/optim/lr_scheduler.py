"""Learning-rate schedules: set each param group's ``lr`` as training goes on.

Call ``scheduler.step()`` once per epoch (or per iteration, if the schedule is counted in
iterations) *after* ``optimizer.step()``; ``ReduceLROnPlateau.step(metric)`` takes the
monitored value. A scheduler starts at t = 0 when it is built (setting the lr for the
first period) and each ``step()`` advances t by one.

Schedules are closed forms of t and of each group's initial lr (``base_lrs``, stored in
the group as ``"initial_lr"``), as in PyTorch's ``_get_closed_form_lr``. They are exact
(no accumulated rounding) and insensitive to the order in which they are stepped.

Warmup composes with any other schedule::

    cosine = CosineAnnealingLR(opt, T_max=95)
    sched = LinearWarmup(opt, warmup_steps=5, then=cosine)    # 5 warmup steps, then cosine
    for epoch in range(100):
        train_one_epoch()
        sched.step()
"""
from __future__ import annotations

import copy
import math
import numbers

__all__ = [
    "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearWarmup", "ReduceLROnPlateau",
]


class LRScheduler:
    """Base class of the closed-form schedules.

    Subclasses define ``_lr(base_lr, t)``: the learning rate at step t of a group whose
    initial learning rate is ``base_lr``.

    Attributes:
        optimizer: the optimizer whose groups are scheduled.
        base_lrs: each group's initial learning rate.
        last_epoch: t, the number of ``step()`` calls since the start (0 after building).
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        _check_optimizer(optimizer, type(self).__name__)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an int >= -1; got {last_epoch!r}")
        self.optimizer = optimizer
        for g, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{type(self).__name__}: param group {g} has no 'initial_lr'; resuming with "
                    f"last_epoch={last_epoch} needs the optimizer state of the run being resumed "
                    f"(optimizer.load_state_dict) or last_epoch=-1"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.step()

    def step(self) -> None:
        """Advance t by one and set every group's lr to the schedule's value at t."""
        self.last_epoch += 1
        self._set([self._lr(base, self.last_epoch) for base in self.base_lrs])

    def get_last_lr(self) -> list:
        """The learning rates this scheduler set last, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (save the optimizer's own state_dict beside it)."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key not in ("optimizer", "then")}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state saved by :meth:`state_dict`, including the learning rates it
        had set (building the scheduler set those of t = 0)."""
        _check_state_keys(self, state_dict)
        self.__dict__.update(copy.deepcopy(state_dict))
        self._set(self._last_lr)

    def _lr(self, base_lr: float, t: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define _lr")  # abstract

    def _set(self, lrs: list) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)


class StepLR(LRScheduler):
    r"""Multiply the learning rate by γ every ``step_size`` steps:

        α_t = α_0 · γ^⌊t / step_size⌋

    Args:
        optimizer: the optimizer to schedule.
        step_size: the period, an int >= 1.
        gamma: γ > 0, the factor (default 0.1).
        last_epoch: the t to resume from (default -1: start fresh).
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be an int >= 1; got {step_size!r}")
        _check_positive("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, t: int) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    r"""Multiply the learning rate by γ at every step:

        α_t = α_0 · γ^t

    Args:
        optimizer: the optimizer to schedule.
        gamma: γ > 0, the factor per step.
        last_epoch: the t to resume from (default -1: start fresh).
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        _check_positive("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, t: int) -> float:
        return base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate from α_0 to η_min along half a cosine over T_max steps
    (Loshchilov & Hutter 2017, "SGDR: stochastic gradient descent with warm restarts",
    without the restarts):

        α_t = η_min + (α_0 - η_min) · (1 + cos(π t / T_max)) / 2

    After T_max steps the cosine goes on, so the rate rises again (as in PyTorch). Set
    T_max to the number of steps you will train for.

    Args:
        optimizer: the optimizer to schedule.
        T_max: the number of steps from α_0 down to η_min, an int >= 1.
        eta_min: η_min >= 0, the final learning rate (default 0).
        last_epoch: the t to resume from (default -1: start fresh).
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be an int >= 1; got {T_max!r}")
        _check_nonnegative("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _lr(self, base_lr: float, t: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearWarmup(LRScheduler):
    r"""Raise the learning rate linearly for ``warmup_steps`` steps, then hand over to
    another schedule (or hold the initial rate):

        α_t = α_0 · (s + (1 - s) · t / W)      for t < W        (s = start_factor, W = warmup_steps)
        α_t = then's rate at step t - W         for t >= W       (α_0 when then is None)

    Adaptive optimizers such as Adam have poor second-moment estimates in their first steps.
    Small early steps keep those estimates from throwing the parameters far away (Goyal et al.
    2017, "Accurate, large minibatch SGD").

    ``then`` must be built on the same optimizer *before* the warmup, and is stepped only
    after the warmup: its t = 0 falls on the warmup's t = W. With ``then`` a
    :class:`ReduceLROnPlateau`, pass the metric to this scheduler's ``step(metric)``;
    metrics given during the warmup are ignored.

    Args:
        optimizer: the optimizer to schedule.
        warmup_steps: W, an int >= 1.
        start_factor: s in (0, 1], the first step's share of α_0 (default 0.1).
        then: the schedule to follow the warmup (default None: constant α_0).
        last_epoch: the t to resume from (default -1: start fresh).
    """

    def __init__(self, optimizer, warmup_steps: int, start_factor: float = 0.1, then=None,
                 last_epoch: int = -1):
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 1:
            raise ValueError(f"LinearWarmup: warmup_steps must be an int >= 1; got {warmup_steps!r}")
        _check_real("LinearWarmup", "start_factor", start_factor)
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearWarmup: start_factor must be in (0, 1]; got {start_factor!r}")
        if then is not None:
            if not isinstance(then, (LRScheduler, ReduceLROnPlateau)):
                raise TypeError(f"LinearWarmup: then must be a learning-rate scheduler; got {type(then).__name__}")
            if then.optimizer is not optimizer:
                raise ValueError("LinearWarmup: then schedules a different optimizer; build both on the same one")
        self.warmup_steps, self.start_factor, self.then = warmup_steps, start_factor, then
        super().__init__(optimizer, last_epoch)

    def step(self, metrics=None) -> None:
        """Advance t by one; after the warmup, step ``then`` (passing ``metrics`` to it if given)."""
        self.last_epoch += 1
        t, then = self.last_epoch, self.then
        if t < self.warmup_steps:
            self._set([self._lr(base, t) for base in self.base_lrs])
        elif then is None:
            self._set(list(self.base_lrs))
        elif t == self.warmup_steps:
            self._set(then.get_last_lr())  # then's rate at its own t = 0
        else:
            if metrics is None:
                then.step()
            else:
                then.step(metrics)
            self._last_lr = then.get_last_lr()

    def state_dict(self) -> dict:
        """This scheduler's state, with that of ``then`` under the key ``"then"``."""
        state = super().state_dict()
        state["then"] = self.then.state_dict() if self.then is not None else None
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        then_state = state.pop("then", None)
        if self.then is not None and then_state is not None:
            self.then.load_state_dict(then_state)
        super().load_state_dict(state)  # last: during the warmup its rates are the ones in force

    def _lr(self, base_lr: float, t: int) -> float:
        return base_lr * (self.start_factor + (1 - self.start_factor) * t / self.warmup_steps)


class ReduceLROnPlateau:
    r"""Divide the learning rate when a monitored metric stops improving (as PyTorch's).

    After each epoch call ``step(metric)`` (e.g. the validation loss). An epoch counts as
    bad unless the metric beats the best value so far by more than the threshold:

        mode="min", threshold_mode="rel":  metric < best · (1 - threshold)
        mode="min", threshold_mode="abs":  metric < best - threshold
        mode="max": the same with the inequalities turned around (best · (1 + threshold), best + threshold)

    After more than ``patience`` bad epochs in a row, every group's lr becomes
    max(lr · factor, min_lr), unless that changes it by less than ``eps``. Then ``cooldown``
    epochs pass in which bad epochs are not counted.

    Args:
        optimizer: the optimizer to schedule.
        mode: "min" (the metric should fall, e.g. a loss) or "max" (e.g. accuracy).
        factor: the multiplier, in (0, 1) (default 0.1).
        patience: bad epochs tolerated before reducing, an int >= 0 (default 10).
        threshold: the least improvement that counts, >= 0 (default 1e-4).
        threshold_mode: "rel" or "abs" (default "rel").
        cooldown: epochs to wait after a reduction, an int >= 0 (default 0).
        min_lr: a lower bound on the lr, one number or one per group (default 0).
        eps: the smallest change of lr worth making (default 1e-8).
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0.0, eps: float = 1e-8):
        name = "ReduceLROnPlateau"
        _check_optimizer(optimizer, name)
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max'; got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs'; got {threshold_mode!r}")
        _check_real(name, "factor", factor)
        if not 0 < factor < 1:
            raise ValueError(f"{name}: factor must be in (0, 1); got {factor!r}")
        for label, count in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"{name}: {label} must be an int >= 0; got {count!r}")
        _check_nonnegative(name, "threshold", threshold)
        _check_nonnegative(name, "eps", eps)
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise ValueError(
                    f"{name}: min_lr has {len(min_lr)} entries but the optimizer has {groups} param group(s)"
                )
            min_lrs = list(min_lr)
        else:
            min_lrs = [min_lr] * groups
        for value in min_lrs:
            _check_nonnegative(name, "min_lr", value)
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lrs, self.eps = min_lrs, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self, metrics) -> None:
        """Record one epoch's metric (a number or a one-element tensor) and reduce the lr if it has stalled."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def get_last_lr(self) -> list:
        """The learning rates after the last ``step()``, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state saved by :meth:`state_dict`, including the learning rates it had set."""
        _check_state_keys(self, state_dict)
        self.__dict__.update(copy.deepcopy(state_dict))
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def _is_better(self, current: float) -> bool:
        best, threshold = self.best, self.threshold
        if self.mode == "min":
            return current < (best * (1 - threshold) if self.threshold_mode == "rel" else best - threshold)
        return current > (best * (1 + threshold) if self.threshold_mode == "rel" else best + threshold)

    def _reduce(self) -> None:
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old = group["lr"]
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new


# ---------------------------------------------------------------------- helpers

def _check_optimizer(optimizer, owner: str) -> None:
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"{owner}: expected an optimizer (with param_groups); got {type(optimizer).__name__}")


def _check_real(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{owner}: {name} must be a finite real number; got {value!r}")


def _check_positive(owner: str, name: str, value) -> None:
    _check_real(owner, name, value)
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be > 0; got {value!r}")


def _check_nonnegative(owner: str, name: str, value) -> None:
    _check_real(owner, name, value)
    if value < 0:
        raise ValueError(f"{owner}: {name} must be >= 0; got {value!r}")


def _check_state_keys(scheduler, state_dict) -> None:
    if not isinstance(state_dict, dict):
        raise TypeError(f"{type(scheduler).__name__}.load_state_dict: expected a dict; got {type(state_dict).__name__}")
    unknown = set(state_dict) - set(scheduler.__dict__)
    if unknown:
        raise ValueError(
            f"{type(scheduler).__name__}.load_state_dict: unknown keys {sorted(unknown)}; "
            f"is this the state of another kind of scheduler?"
        )
