"""Grad mode: whether operations record the graph (on by default).

``no_grad()`` turns recording off (evaluation, parameter updates), ``enable_grad()`` turns it
back on inside, ``set_grad_enabled(mode)`` sets it; each works as a context manager, as a
decorator, and nests. :attr:`enabled` is the one flag every op reads
(:meth:`chainrule.engine.autograd.Function.apply`).
"""
from __future__ import annotations

import functools

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

enabled = True  # read by Function.apply on every op; change it only through the classes below


def is_grad_enabled() -> bool:
    """True when operations record the graph (the default)."""
    return enabled


class _GradMode:
    """Sets the grad mode inside a ``with`` block or a decorated function and
    restores the previous mode afterwards, so these nest."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = []

    def __enter__(self):
        global enabled
        self._previous.append(enabled)
        enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        global enabled
        enabled = self._previous.pop()
        return False

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            with _GradMode(mode):
                return function(*args, **kwargs)

        return run_in_mode


class no_grad(_GradMode):
    """Context manager and decorator in which no operation records a graph.

    Use it for evaluation and for parameter updates: results have
    ``requires_grad=False`` and keep no references to their inputs.
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradMode):
    """Context manager and decorator that turns graph recording back on (inside ``no_grad``)."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``, as PyTorch does: at once when called on its own
    (``set_grad_enabled(False)``), or for the duration of a ``with`` block or a
    decorated function, after which the mode from before the call is restored."""

    def __init__(self, mode: bool):
        global enabled
        super().__init__(mode)
        self._before_call = enabled
        enabled = self.mode

    def __enter__(self):
        global enabled
        self._previous.append(self._before_call)
        enabled = self.mode
        return self

    def __call__(self, function):
        global enabled
        enabled = self._before_call  # decorating must not change the mode now
        return super().__call__(function)
