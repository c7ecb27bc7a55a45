r"""The CIFAR-style residual network of He et al. (2016, §4.2), and its plain twin.

A network of depth 6n + 2: a 3×3 convolution, three stages of n basic blocks each (2n
convolutions per stage, widths w1, w2, w3, the second and third stages starting with stride
2), global average pooling and one linear layer. A basic block is::

    y = relu( F(x) + S(x) ),   F(x) = BN(conv3x3( relu(BN(conv3x3(x))) ))

where the shortcut S is the identity, or a 1×1 convolution with stride 2 followed by batch
normalization where the block changes the width or the resolution (He et al.'s option B;
the paper's CIFAR runs used option A, zero-padding, which has no parameters). With
``skip=False`` the block is ``y = relu(F(x))``: the plain network of the same depth that
Li et al. (2018, "Visualizing the Loss Landscape of Neural Nets", Fig. 5) compare with the
residual one — their ResNet-56 against "ResNet-56-noshort".

Depth counts the layers with weights on the main path (convolutions and the final linear
layer), as He et al. do: ``resnet(20)`` has 19 convolutions and one linear layer (plus two
1×1 projection shortcuts with ``skip=True``).

References: K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image
recognition", CVPR 2016; H. Li, Z. Xu, G. Taylor, C. Studer and T. Goldstein, NeurIPS 2018.
"""
from __future__ import annotations

from .. import nn
from ..engine import ops
from ..engine.tensor import Tensor

__all__ = ["BasicBlock", "ResNet", "resnet"]


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch normalization, and (``skip=True``) a shortcut.

    Args:
        in_channels, out_channels: widths in and out.
        stride: 1, or 2 to halve the resolution (in the first convolution and the shortcut).
        skip: add the shortcut (identity, or 1×1 convolution + BatchNorm2d when the shape
            changes); ``False`` gives the plain block relu(F(x)).

    Sub-modules (torchvision's names): conv1, bn1, conv2, bn2, and ``downsample`` (the
    projection shortcut, or None).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, skip: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.skip = skip
        self.downsample = None
        if skip and (stride != 1 or in_channels != out_channels):
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1.forward_relu(self.conv1(x))  # relu(bn1(conv1(x))) as one node
        shortcut = None
        if self.skip:
            shortcut = x if self.downsample is None else self.downsample(x)
        return self.bn2.forward_relu(self.conv2(out), shortcut)  # relu(bn2(conv2(out)) + shortcut)

    def extra_repr(self) -> str:
        return f"skip={self.skip}"


class ResNet(nn.Module):
    """Stem convolution, three stages of basic blocks, global average pooling, linear head.

    Args:
        blocks: n, the basic blocks per stage (depth = 6n + 2).
        widths: the three stages' widths (He et al.: 16, 32, 64).
        skip: residual (True) or plain (False) blocks.
        num_classes: outputs of the linear head.
        in_channels: channels of the input images (3 for CIFAR, 1 for the bundled digits).

    Input (N, in_channels, H, W) → logits (N, num_classes). Convolutions are initialized as
    He et al. (2015) and torchvision: ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``;
    batch normalization with weight 1 and bias 0; the linear head as ``nn.Linear``.
    """

    def __init__(self, blocks: int, widths=(16, 32, 64), skip: bool = True, num_classes: int = 10,
                 in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, previous = [], widths[0]
        for stage, width in enumerate(widths):
            layers = []
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(previous, width, stride, skip))
                previous = width
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(previous, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn1.forward_relu(self.conv1(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(ops.flatten(self.pool(x), 1))


def resnet(depth: int = 20, widths=(16, 32, 64), skip: bool = True, *, num_classes: int = 10,
           in_channels: int = 3) -> ResNet:
    """The CIFAR ResNet of depth 6n + 2 (20, 32, 44, 56, 110 …) of He et al. (2016), or with
    ``skip=False`` the plain network of the same depth (Li et al. 2018's comparison).

    ``resnet(20)`` is ResNet-20 (0.27M parameters with option-B shortcuts); ``widths`` scales
    the stages (e.g. ``(4, 8, 16)`` for a quick study); ``in_channels=1`` for grey images such
    as :func:`chainrule.data.load_digits` ``(as_images=True)``.

        >>> model = chainrule.models.resnet(20, num_classes=10)
        >>> model(chainrule.randn(8, 3, 32, 32)).shape
        (8, 10)
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"resnet: depth must be 6n + 2 for an int n >= 1 (8, 14, 20, 32, 44, 56, 110 …); got {depth!r}"
        )
    widths = tuple(widths) if isinstance(widths, (tuple, list)) else widths
    if not isinstance(widths, tuple) or len(widths) != 3 or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"resnet: widths must be three positive ints (one per stage); got {widths!r}")
    if not isinstance(skip, bool):
        raise TypeError(f"resnet: skip must be True or False; got {skip!r}")
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"resnet: {name} must be a positive int; got {value!r}")
    return ResNet((depth - 2) // 6, widths, skip, num_classes, in_channels)
