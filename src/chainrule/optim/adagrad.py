"""AdaGrad: per-coordinate step sizes from the accumulated squared gradients."""
from __future__ import annotations

from ..engine import backend
from .arguments import check_nonnegative
from .kernels import flat
from .optimizer import Optimizer, l2_direction

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi, Hazan & Singer 2011, "Adaptive subgradient methods for online
    learning and stochastic optimization", JMLR 12).

    Each coordinate's step is divided by the root of the sum of all its squared gradients
    so far. Coordinates with large or frequent gradients slow down and rare ones keep long
    steps. The sum only grows, so the steps shrink like 1/√t.

    The algorithm, exactly as ``step()`` runs it (the same as ``torch.optim.Adagrad``)::

        input: α (lr), θ_0 (params), f (objective), λ (weight_decay), η (lr_decay),
               G_0 (initial_accumulator_value), ε (eps)
        for t = 1, 2, …:
            g_t ← ∇f(θ_{t-1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t-1}
            α̃_t ← α / (1 + (t - 1) η)
            G_t ← G_{t-1} + g_t²                              (elementwise square)
            D_t ← √G_t + ε
            θ_t ← θ_{t-1} - α̃_t g_t / D_t       (coordinates where D_t = 0 keep θ_{t-1})

    State per parameter: ``step`` (t) and ``sum`` (G_t).

    ε = 0 is allowed, as the course slides write AdaGrad (θ_t ← θ_{t-1} - α g_t / √G_t).
    Then a coordinate whose accumulated squared gradient G_t is still 0 (it has had no
    gradient yet: g_t = 0 there too, or one so small that its square underflows) would divide
    by zero; it is left unchanged instead, so no NaN or inf appears. With ε > 0, D_t > 0 and
    the proviso never applies. (PyTorch accepts ε = 0 too but returns NaN for such
    coordinates.)

    Args:
        params: tensors or param-group dicts (see :class:`Optimizer`).
        lr: α >= 0 (default 0.01).
        lr_decay: η >= 0 (default 0).
        weight_decay: λ >= 0, an L2 penalty added through the gradient (default 0).
        initial_accumulator_value: G_0 >= 0 (default 0).
        eps: ε >= 0, added to the denominator (default 1e-10).
        flatten: keep parameters in flat buffers (see :mod:`chainrule.optim.optimizer`).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, flatten: bool = True):
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "eps": eps}
        super().__init__(params, defaults, flatten=flatten)

    def _check_group(self, group: dict, where: str) -> None:
        check_nonnegative(where, "lr", group["lr"])
        check_nonnegative(where, "lr_decay", group["lr_decay"])
        check_nonnegative(where, "weight_decay", group["weight_decay"])
        check_nonnegative(where, "initial_accumulator_value", group["initial_accumulator_value"])
        check_nonnegative(where, "eps", group["eps"])

    def _buffers(self, group: dict) -> tuple:
        return (("sum", group["initial_accumulator_value"]),)

    def _update(self, group, param, grad, buffers, step, fresh, work) -> None:
        """Step t of the algorithm box above, in place on arrays (the source of truth for
        :func:`chainrule.optim.numba_kernels.adagrad`, which does the same in one pass)."""
        cast = param.dtype.type  # every scalar in the parameters' dtype: float32 stays float32
        xp = backend.namespace_of(param)
        G, scratch = buffers["sum"], work(1)
        g = l2_direction(param, grad, cast(group["weight_decay"]), work(0))  # g_t ← ∇f(θ_{t-1}) + λ θ_{t-1}
        G += xp.multiply(g, g, out=scratch)                       # G_t ← G_{t-1} + g_t²
        D = xp.sqrt(G, out=scratch)                               # D_t ← √G_t + ε
        D += cast(group["eps"])
        empty = D == 0 if group["eps"] == 0 else None            # (only ε = 0 lets D_t be 0)
        if empty is not None:
            D[empty] = 1                                          # 0 / 1 instead of 0 / 0 …
        ratio = xp.divide(g, D, out=scratch)
        if empty is not None:
            ratio[empty] = 0                                      # … and D_t = 0 keeps θ_{t-1}
        ratio *= _decayed_lr(group, step, cast)                   # θ_t ← θ_{t-1} - α̃_t g_t / D_t
        param -= ratio

    def _compiled_update(self, kernels, group, param, grad, buffers, step, fresh) -> None:
        cast = param.dtype.type
        kernels.adagrad(flat(param), flat(grad), flat(buffers["sum"]), _decayed_lr(group, step, cast),
                        cast(group["weight_decay"]), cast(group["eps"]))


def _decayed_lr(group: dict, step: int, cast):
    """α̃_t = α / (1 + (t - 1) η), in the parameters' dtype."""
    return cast(group["lr"] / (1 + (step - 1) * group["lr_decay"]))
