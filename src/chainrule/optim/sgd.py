"""Stochastic gradient descent, with optional (Nesterov) momentum and weight decay."""
from __future__ import annotations

from ..engine import backend
from .arguments import check_flag, check_fraction, check_nonnegative
from .kernels import flat, unused
from .optimizer import Optimizer, l2_direction

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Gradient descent on the current gradient (full batch or minibatch), with optional
    momentum (Polyak 1964), Nesterov momentum (Nesterov 1983; Sutskever et al. 2013) and
    weight decay.

    The algorithm, exactly as ``step()`` runs it (with ``momentum_form="gradient"``, the
    default, the same as ``torch.optim.SGD``)::

        input: α (lr), θ_0 (params), f (objective), λ (weight_decay),
               μ (momentum), τ (dampening), nesterov, form (momentum_form)
        for t = 1, 2, …:
            g_t ← ∇f(θ_{t-1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t-1}
            if μ = 0:
                θ_t ← θ_{t-1} - α g_t
            elif form = "gradient":
                if t = 1:   b_t ← g_t                         (no dampening at the first step)
                else:       b_t ← μ b_{t-1} + (1 - τ) g_t
                if nesterov:  g_t ← g_t + μ b_t
                else:         g_t ← b_t
                θ_t ← θ_{t-1} - α g_t
            else (form = "velocity"):
                a_t ← α g_t
                if t = 1:   V_t ← -a_t
                else:       V_t ← μ V_{t-1} - (1 - τ) a_t
                if nesterov:  θ_t ← θ_{t-1} + μ V_t - a_t
                else:         θ_t ← θ_{t-1} + V_t

    State per parameter: ``step`` (t) and, when μ ≠ 0, ``momentum_buffer`` (b_t, the
    gradient form) or ``velocity`` (V_t, the velocity form). The form is a hyper-parameter
    of each group, so ``state_dict()`` records it.

    **Two forms of momentum.** With τ = 0 the gradient form is the "gradient with memory"
    of the course slides

        g_k = ∇f(θ_{k-1}) + μ g_{k-1},    θ_k = θ_{k-1} - α g_k        (g_0 = 0),

    and the velocity form is the slides' velocity (Polyak's heavy ball)

        V_t = μ V_{t-1} - α ∇f(W_{t-1}),   W_t = W_{t-1} + V_t          (V_0 = 0).

    With a constant learning rate they produce the same iterates, because V_t = -α g_t for
    every t. By induction: V_1 = -α ∇f(W_0) = -α g_1. If V_{t-1} = -α g_{t-1} and
    W_{t-1} = θ_{t-1}, then V_t = μ (-α g_{t-1}) - α ∇f(θ_{t-1}) = -α (μ g_{t-1} +
    ∇f(θ_{t-1})) = -α g_t, so W_t = θ_{t-1} - α g_t = θ_t. The two forms part ways under a
    learning-rate schedule α_t. The velocity form keeps each gradient at the rate it arrived
    with, V_t = -Σ_s μ^{t-s} α_s ∇f_s. The gradient form rescales the whole memory by today's
    rate, α_t Σ_s μ^{t-s} ∇f_s: after a step decay α → α/10 its very next step is ten times
    shorter, while the velocity form still carries the momentum gathered at the old rate.
    (Nesterov's look-ahead, θ_t = θ_{t-1} + μ V_t - α g_t, is the same identity applied to
    g_t + μ b_t.) With τ = μ the buffer is an exponential moving average of the gradients
    and the steps are about (1 - μ) times shorter.

    Args:
        params: tensors or param-group dicts (see :class:`Optimizer`).
        lr: the learning rate α (required).
        momentum: μ >= 0 (default 0: plain gradient descent).
        dampening: τ in [0, 1], the share of each new gradient left out of the buffer.
        nesterov: use Nesterov momentum (needs μ > 0 and τ = 0).
        weight_decay: λ >= 0, an L2 penalty (λ/2)‖θ‖² added through the gradient.
        momentum_form: ``"gradient"`` (default, PyTorch's) or ``"velocity"`` (the heavy
            ball written as a velocity); they differ only when the learning rate changes.
        flatten: keep parameters in flat buffers (see :mod:`chainrule.optim.optimizer`).

    Example::

        opt = chainrule.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    """

    def __init__(self, params, lr, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, *, momentum_form: str = "gradient",
                 flatten: bool = True):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "nesterov": nesterov, "weight_decay": weight_decay, "momentum_form": momentum_form}
        super().__init__(params, defaults, flatten=flatten)

    def _check_group(self, group: dict, where: str) -> None:
        check_nonnegative(where, "lr", group["lr"])
        check_nonnegative(where, "momentum", group["momentum"])
        check_fraction(where, "dampening", group["dampening"], closed=True)
        check_nonnegative(where, "weight_decay", group["weight_decay"])
        check_flag(where, "nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where}: nesterov=True requires momentum > 0 and dampening = 0; got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )
        if group["momentum_form"] not in MOMENTUM_FORMS:
            raise ValueError(
                f"{where}: momentum_form must be 'gradient' or 'velocity'; got {group['momentum_form']!r}"
            )

    def _buffers(self, group: dict) -> tuple:
        if group["momentum"] == 0:
            return ()
        return ((_BUFFER[group["momentum_form"]], 0.0),)

    def _update(self, group, param, grad, buffers, step, fresh, work) -> None:
        """Step t of the algorithm box above, in place on arrays (the source of truth for
        :func:`chainrule.optim.numba_kernels.sgd`, which does the same in one pass)."""
        cast = param.dtype.type  # every scalar in the parameters' dtype: float32 stays float32
        lr, weight_decay = cast(group["lr"]), cast(group["weight_decay"])
        xp = backend.namespace_of(param)
        g = grad                                                   # g_t ← ∇f(θ_{t-1})
        if group["weight_decay"] != 0:
            g = l2_direction(param, grad, weight_decay, work(0))   # g_t ← g_t + λ θ_{t-1}
        if group["momentum"] == 0:
            scratch = g if g is not grad else work(1)
            param -= xp.multiply(g, lr, out=scratch)               # θ_t ← θ_{t-1} - α g_t
        elif group["momentum_form"] == "gradient":
            _gradient_form(xp, group, param, g, grad, buffers, fresh, work, cast)
        else:
            _velocity_form(xp, group, param, g, buffers, fresh, work, cast)

    def _compiled_update(self, kernels, group, param, grad, buffers, step, fresh) -> None:
        cast = param.dtype.type
        use_momentum = group["momentum"] != 0
        name = _BUFFER[group["momentum_form"]]
        kernels.sgd(flat(param), flat(grad), flat(buffers[name]) if use_momentum else unused(flat(param)),
                    cast(group["lr"]), cast(group["weight_decay"]), cast(group["momentum"]),
                    cast(1 - group["dampening"]), use_momentum, name in fresh, group["nesterov"],
                    group["momentum_form"] == "velocity")


#: The two ways of writing momentum (see the class docstring), and the state buffer of each.
MOMENTUM_FORMS = ("gradient", "velocity")
_BUFFER = {"gradient": "momentum_buffer", "velocity": "velocity"}


def _gradient_form(xp, group, param, g, grad, buffers, fresh, work, cast) -> None:
    """The box's ``form = "gradient"`` branch: b_t, then θ_t ← θ_{t-1} - α g_t."""
    mu, lr = cast(group["momentum"]), cast(group["lr"])
    b = buffers["momentum_buffer"]
    if "momentum_buffer" in fresh:
        b[...] = g                                                 # t = 1: b_t ← g_t
    else:
        b *= mu                                                    # b_t ← μ b_{t-1} + (1 - τ) g_t
        if group["dampening"] != 0:
            b += xp.multiply(g, cast(1 - group["dampening"]), out=work(1))
        else:
            b += g
    if group["nesterov"]:
        nudged = xp.multiply(b, mu, out=work(1))                   # nesterov: g_t ← g_t + μ b_t
        nudged += g
        g = nudged
    else:
        g = b                                                      # else: g_t ← b_t
    scratch = g if g is not grad and g is not b else work(1)
    param -= xp.multiply(g, lr, out=scratch)                       # θ_t ← θ_{t-1} - α g_t


def _velocity_form(xp, group, param, g, buffers, fresh, work, cast) -> None:
    """The box's ``form = "velocity"`` branch: V_t, then θ_t ← θ_{t-1} + V_t."""
    mu = cast(group["momentum"])
    V = buffers["velocity"]
    a = xp.multiply(g, cast(group["lr"]), out=work(1))            # a_t ← α g_t
    if "velocity" in fresh:
        xp.negative(a, out=V)                                      # t = 1: V_t ← -a_t
    else:
        V *= mu                                                    # V_t ← μ V_{t-1} - (1 - τ) a_t
        if group["dampening"] != 0:
            V -= xp.multiply(a, cast(1 - group["dampening"]), out=work(2))
        else:
            V -= a
    if group["nesterov"]:
        param += xp.multiply(V, mu, out=work(2))                   # nesterov: θ_t ← θ_{t-1} + μ V_t - a_t
        param -= a
    else:
        param += V                                                 # else: θ_t ← θ_{t-1} + V_t
