"""RMSProp: steps scaled by a moving average of the squared gradients."""
from __future__ import annotations

from ..engine import backend
from .arguments import check_flag, check_fraction, check_nonnegative, check_positive
from .kernels import flat, unused
from .optimizer import Optimizer, l2_direction

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSProp (Tieleman & Hinton 2012, Coursera "Neural Networks for Machine Learning",
    lecture 6.5), with the centered variant of Graves (2013, "Generating sequences with
    recurrent neural networks") and optional momentum.

    AdaGrad divides by the root of *all* past squared gradients, so its steps die out.
    RMSProp uses an exponential moving average R_t instead, which forgets old gradients
    at rate ρ (PyTorch calls ρ ``alpha``; α here is the learning rate).

    The algorithm, exactly as ``step()`` runs it (the same as ``torch.optim.RMSprop``)::

        input: α (lr), ρ (alpha), ε (eps), λ (weight_decay), μ (momentum), centered,
               θ_0 (params), f (objective)
        initialize: R_0 ← 0, ḡ_0 ← 0, b_0 ← 0
        for t = 1, 2, …:
            g_t ← ∇f(θ_{t-1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t-1}
            R_t ← ρ R_{t-1} + (1 - ρ) g_t²
            if centered:
                ḡ_t ← ρ ḡ_{t-1} + (1 - ρ) g_t
                D_t ← √(R_t - ḡ_t²) + ε                        (root of a variance estimate)
            else:
                D_t ← √R_t + ε
            if μ > 0:
                b_t ← μ b_{t-1} + g_t / D_t
                θ_t ← θ_{t-1} - α b_t
            else:
                θ_t ← θ_{t-1} - α g_t / D_t

    ε is added after the square root, as in PyTorch (TensorFlow adds it inside).
    State per parameter: ``step``, ``square_avg`` (R_t), and ``grad_avg`` (ḡ_t) when
    centered, ``momentum_buffer`` (b_t) when μ > 0.

    Args:
        params: tensors or param-group dicts (see :class:`Optimizer`).
        lr: α >= 0 (default 0.01).
        alpha: ρ in [0, 1), the smoothing constant (default 0.99).
        eps: ε > 0 (default 1e-8).
        weight_decay: λ >= 0, an L2 penalty added through the gradient (default 0).
        momentum: μ >= 0 (default 0).
        centered: divide by an estimate of the gradient's standard deviation instead of
            its root mean square (default False).
        flatten: keep parameters in flat buffers (see :mod:`chainrule.optim.optimizer`).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 *, flatten: bool = True):
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered}
        super().__init__(params, defaults, flatten=flatten)

    def _check_group(self, group: dict, where: str) -> None:
        check_nonnegative(where, "lr", group["lr"])
        check_fraction(where, "alpha", group["alpha"])
        check_positive(where, "eps", group["eps"])
        check_nonnegative(where, "weight_decay", group["weight_decay"])
        check_nonnegative(where, "momentum", group["momentum"])
        check_flag(where, "centered", group["centered"])

    def _buffers(self, group: dict) -> tuple:
        names = [("square_avg", 0.0)]
        if group["momentum"] > 0:
            names.append(("momentum_buffer", 0.0))
        if group["centered"]:
            names.append(("grad_avg", 0.0))
        return tuple(names)

    def _update(self, group, param, grad, buffers, step, fresh, work) -> None:
        """Step t of the algorithm box above, in place on arrays (the source of truth for
        :func:`chainrule.optim.numba_kernels.rmsprop`, which does the same in one pass)."""
        cast = param.dtype.type  # every scalar in the parameters' dtype: float32 stays float32
        lr, rho, one_minus_rho = cast(group["lr"]), cast(group["alpha"]), cast(1 - group["alpha"])
        xp = backend.namespace_of(param)
        R, scratch = buffers["square_avg"], work(1)
        g = l2_direction(param, grad, cast(group["weight_decay"]), work(0))  # g_t ← ∇f(θ_{t-1}) + λ θ_{t-1}
        R *= rho                                                  # R_t ← ρ R_{t-1} + (1 - ρ) g_t²
        squared = xp.multiply(g, g, out=scratch)
        squared *= one_minus_rho
        R += squared
        if group["centered"]:
            g_bar = buffers["grad_avg"]
            g_bar *= rho                                          # ḡ_t ← ρ ḡ_{t-1} + (1 - ρ) g_t
            g_bar += xp.multiply(g, one_minus_rho, out=scratch)
            variance = xp.subtract(R, xp.multiply(g_bar, g_bar, out=scratch), out=scratch)
            D = xp.sqrt(variance, out=scratch)                    # D_t ← √(R_t - ḡ_t²) + ε
        else:
            D = xp.sqrt(R, out=scratch)                           # D_t ← √R_t + ε
        D += cast(group["eps"])
        ratio = xp.divide(g, D, out=scratch)
        if group["momentum"] > 0:
            b = buffers["momentum_buffer"]
            b *= cast(group["momentum"])                          # b_t ← μ b_{t-1} + g_t / D_t
            b += ratio
            param -= xp.multiply(b, lr, out=scratch)              # θ_t ← θ_{t-1} - α b_t
        else:
            ratio *= lr
            param -= ratio                                        # θ_t ← θ_{t-1} - α g_t / D_t

    def _compiled_update(self, kernels, group, param, grad, buffers, step, fresh) -> None:
        cast = param.dtype.type
        centered, use_momentum = group["centered"], group["momentum"] > 0
        nothing = unused(flat(param))
        kernels.rmsprop(flat(param), flat(grad), flat(buffers["square_avg"]),
                        flat(buffers["grad_avg"]) if centered else nothing,
                        flat(buffers["momentum_buffer"]) if use_momentum else nothing,
                        cast(group["lr"]), cast(group["alpha"]), cast(1 - group["alpha"]), cast(group["eps"]),
                        cast(group["weight_decay"]), cast(group["momentum"]), centered, use_momentum)
