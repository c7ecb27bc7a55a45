"""Residual (skip) connections: y = x + F(x)."""
from __future__ import annotations

from ..engine.tensor import Tensor
from .module import Module

__all__ = ["Residual"]


class Residual(Module):
    r"""Wrap a module F with an identity skip connection: y = x + F(x) (He et al. 2016).

    The gradient of the block is ∂y/∂x = I + ∂F/∂x, so a signal (and its gradient) passes
    through a deep stack of residual blocks even when every ∂F/∂x is small; Li et al. (2018,
    "Visualizing the Loss Landscape of Neural Nets") show that this also makes the loss
    surface of deep networks markedly smoother (see
    :func:`chainrule.theory.skip_study.skip_connection_study`, on convolutional ResNets).

    Args:
        module: F, a Module whose output has the shape of its input (for example
            ``Sequential(Linear(w, w), ReLU())``).

    Shape: input (*, d) -> output (*, d), the same shape.

    Attributes: ``module`` (F, registered as a sub-module, so state-dict keys read
    "module.0.weight", …).

    Example::

        >>> block = nn.Residual(nn.Sequential(nn.Linear(32, 32), nn.ReLU()))
        >>> block(chainrule.randn(8, 32)).shape
        (8, 32)

    References: K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image
    recognition", CVPR 2016; H. Li, Z. Xu, G. Taylor, C. Studer and T. Goldstein, NeurIPS 2018.
    """

    def __init__(self, module: Module):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"Residual: module must be an nn.Module; got {type(module).__name__}")
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(
                f"Residual: expected a Tensor input; got {type(x).__name__} (wrap it with chainrule.tensor)"
            )
        out = self.module(x)
        if tuple(out.shape) != tuple(x.shape):
            raise ValueError(
                f"Residual: the wrapped {type(self.module).__name__} maps shape {tuple(x.shape)} to "
                f"{tuple(out.shape)}; x + F(x) needs F to keep the shape (make its output size equal its input size)"
            )
        return x + out
