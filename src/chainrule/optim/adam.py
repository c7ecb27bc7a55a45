"""Adam and AdamW: bias-corrected moment estimates of the gradient."""
from __future__ import annotations

import math
from typing import NamedTuple

from ..engine import backend
from .arguments import check_flag, check_fraction, check_nonnegative, check_positive
from .kernels import flat, unused
from .optimizer import Optimizer, l2_direction

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015, "Adam: a method for stochastic optimization", ICLR), with
    AMSGrad (Reddi, Kale & Kumar 2018, "On the convergence of Adam and beyond", ICLR) and
    a choice of where ε goes.

    Adam keeps exponential moving averages of the gradient (V, the first moment: direction
    with momentum) and of its square (R, the second moment: per-coordinate scale). Both
    start at 0, which biases them towards 0 early on; dividing by 1 - β^t removes that
    bias, so V̂_t and R̂_t are unbiased when the gradients' moments are stationary.

    The algorithm, exactly as ``step()`` runs it::

        input: α (lr), β1, β2 (betas), ε (eps), λ (weight_decay), amsgrad,
               eps_inside_sqrt, θ_0 (params), f (objective)
        initialize: V_0 ← 0, R_0 ← 0, R^max_0 ← 0
        for t = 1, 2, …:
            g_t ← ∇f(θ_{t-1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t-1}              (AdamW: θ_{t-1} ← (1 - αλ) θ_{t-1} instead)
            V_t ← β1 V_{t-1} + (1 - β1) g_t
            R_t ← β2 R_{t-1} + (1 - β2) g_t²
            if amsgrad:  R^max_t ← max(R^max_{t-1}, R_t);  S_t ← R^max_t
            else:        S_t ← R_t
            if eps_inside_sqrt:  D_t ← √(S_t / (1 - β2^t) + ε)             = √(R̂_t + ε)
            else:                D_t ← √S_t / √(1 - β2^t) + ε              = √R̂_t + ε
            θ_t ← θ_{t-1} - (α / (1 - β1^t)) V_t / D_t                   = θ_{t-1} - α V̂_t / D_t

    with V̂_t = V_t / (1 - β1^t) and R̂_t = R_t / (1 - β2^t) the bias-corrected moments.

    **Where ε goes.** The default (``eps_inside_sqrt=False``) is Algorithm 1 of Kingma & Ba
    and ``torch.optim.Adam``: θ_t = θ_{t-1} - α V̂_t / (√R̂_t + ε). The course notes write
    θ_t = θ_{t-1} - α V̂_t / √(R̂_t + ε) (``eps_inside_sqrt=True``). The two agree when
    R̂_t ≫ ε. Where the gradient is tiny they differ: for R̂_t → 0 the step's denominator
    is ε in the first form and √ε in the second (1e-8 against 1e-4 with the default ε).
    TensorFlow's "epsilon hat" is a third variant: ε is added to the *uncorrected* √R_t,
    which makes it larger than ours by a factor 1/√(1 - β2^t) early on (about 31.6 at t = 1).

    State per parameter: ``step`` (t), ``exp_avg`` (V_t), ``exp_avg_sq`` (R_t), and
    ``max_exp_avg_sq`` (R^max_t) with amsgrad.

    Args:
        params: tensors or param-group dicts (see :class:`Optimizer`).
        lr: α >= 0 (default 1e-3).
        betas: (β1, β2), each in [0, 1) (default (0.9, 0.999)).
        eps: ε > 0 (default 1e-8).
        weight_decay: λ >= 0, an L2 penalty added through the gradient (default 0). For
            decoupled weight decay use :class:`AdamW`.
        amsgrad: divide by the largest second moment seen so far (default False).
        eps_inside_sqrt: put ε inside the square root, √(R̂_t + ε) (default False).
        flatten: keep parameters in flat buffers (see :mod:`chainrule.optim.optimizer`).

    Example::

        opt = chainrule.optim.Adam(model.parameters(), lr=1e-3)
    """

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, eps_inside_sqrt: bool = False,
                 *, flatten: bool = True):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "eps_inside_sqrt": eps_inside_sqrt}
        super().__init__(params, defaults, flatten=flatten)

    def _check_group(self, group: dict, where: str) -> None:
        check_nonnegative(where, "lr", group["lr"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{where}: betas must be a pair (beta1, beta2); got {betas!r}")
        check_fraction(where, "betas[0]", betas[0])
        check_fraction(where, "betas[1]", betas[1])
        check_positive(where, "eps", group["eps"])
        check_nonnegative(where, "weight_decay", group["weight_decay"])
        check_flag(where, "amsgrad", group["amsgrad"])
        check_flag(where, "eps_inside_sqrt", group["eps_inside_sqrt"])

    def _buffers(self, group: dict) -> tuple:
        if group["amsgrad"]:
            return (("exp_avg", 0.0), ("exp_avg_sq", 0.0), ("max_exp_avg_sq", 0.0))
        return (("exp_avg", 0.0), ("exp_avg_sq", 0.0))

    def _update(self, group, param, grad, buffers, step, fresh, work) -> None:
        """Step t of the algorithm box above, in place on arrays (the source of truth for
        :func:`chainrule.optim.numba_kernels.adam`, which does the same in one pass)."""
        s = _scalars(group, step, param.dtype, self._decoupled)
        xp = backend.namespace_of(param)
        V, R, R_max, scratch = buffers["exp_avg"], buffers["exp_avg_sq"], buffers.get("max_exp_avg_sq"), work(1)
        g = grad                                                 # g_t ← ∇f(θ_{t-1})
        if s.weight_decay != 0:
            if self._decoupled:
                param *= s.decay_factor                          # AdamW: θ_{t-1} ← (1 - αλ) θ_{t-1}
            else:
                g = l2_direction(param, grad, s.weight_decay, work(0))   # g_t ← g_t + λ θ_{t-1}
        V *= s.beta1                                             # V_t ← β1 V_{t-1} + (1 - β1) g_t
        V += xp.multiply(g, s.one_minus_beta1, out=scratch)
        R *= s.beta2                                             # R_t ← β2 R_{t-1} + (1 - β2) g_t²
        squared = xp.multiply(g, g, out=scratch)
        squared *= s.one_minus_beta2
        R += squared
        S = R                                                    # S_t ← R_t
        if group["amsgrad"]:
            xp.maximum(R_max, R, out=R_max)                      # R^max_t ← max(R^max_{t-1}, R_t); S_t ← R^max_t
            S = R_max
        if group["eps_inside_sqrt"]:
            D = xp.divide(S, s.bias_correction2, out=scratch)    # D_t ← √(S_t / (1 - β2^t) + ε)
            D += s.eps
            xp.sqrt(D, out=D)
        else:
            D = xp.sqrt(S, out=scratch)                          # D_t ← √S_t / √(1 - β2^t) + ε
            D /= s.bias_correction2_sqrt
            D += s.eps
        delta = xp.divide(V, D, out=D)                           # θ_t ← θ_{t-1} - (α / (1 - β1^t)) V_t / D_t
        delta *= s.step_size
        param -= delta

    def _compiled_update(self, kernels, group, param, grad, buffers, step, fresh) -> None:
        s = _scalars(group, step, param.dtype, self._decoupled)
        amsgrad = group["amsgrad"]
        kernels.adam(flat(param), flat(grad), flat(buffers["exp_avg"]), flat(buffers["exp_avg_sq"]),
                     flat(buffers["max_exp_avg_sq"]) if amsgrad else unused(flat(param)),
                     s.step_size, s.beta1, s.beta2, s.one_minus_beta1, s.one_minus_beta2, s.bias_correction2,
                     s.bias_correction2_sqrt, s.eps, s.weight_decay, s.decay_factor, self._decoupled, amsgrad,
                     group["eps_inside_sqrt"])


class _Scalars(NamedTuple):
    """The scalars of Adam's step t, each cast to the parameters' dtype (a float64 scalar
    would turn a float32 update into a float64 one)."""

    step_size: float             # α / (1 - β1^t)
    beta1: float
    beta2: float
    one_minus_beta1: float
    one_minus_beta2: float
    bias_correction2: float      # 1 - β2^t
    bias_correction2_sqrt: float  # √(1 - β2^t)
    eps: float
    weight_decay: float          # λ
    decay_factor: float          # 1 - αλ (AdamW)


def _scalars(group: dict, step: int, dtype, decoupled: bool) -> _Scalars:
    cast = dtype.type
    lr, (beta1, beta2), weight_decay = group["lr"], group["betas"], group["weight_decay"]
    bias_correction2 = 1 - beta2 ** step
    return _Scalars(
        cast(lr / (1 - beta1 ** step)), cast(beta1), cast(beta2), cast(1 - beta1), cast(1 - beta2),
        cast(bias_correction2), cast(math.sqrt(bias_correction2)), cast(group["eps"]), cast(weight_decay),
        cast(1 - lr * weight_decay),
    )


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled weight decay
    regularization", ICLR).

    In :class:`Adam` the weight decay λθ is added to the gradient, so it is divided by
    √R̂_t like the rest of the gradient. Coordinates with large gradients are then barely
    regularized, and the result is not the L2-penalized solution. AdamW shrinks the
    parameters directly, by the factor (1 - αλ) before each Adam step. Every
    coordinate decays at the same rate, as in plain SGD with weight decay.

    The algorithm is :class:`Adam`'s with its weight-decay line replaced by::

            if λ ≠ 0:   θ_{t-1} ← (1 - α λ) θ_{t-1}                (g_t is left unchanged)

    (as ``torch.optim.AdamW``). Same arguments as :class:`Adam`; weight_decay defaults to 1e-2.
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, eps_inside_sqrt: bool = False,
                 *, flatten: bool = True):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, eps_inside_sqrt=eps_inside_sqrt, flatten=flatten)
