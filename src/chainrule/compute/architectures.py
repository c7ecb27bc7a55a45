"""The presets' architectures, built from :mod:`chainrule.nn` layers (GPT-3 is
:func:`chainrule.models.gpt`): build them under :func:`~chainrule.compute.meta_init` to count them
without allocating their parameters.

``resnet50()`` is torchvision's ``resnet50`` (He et al. 2016, "Deep Residual Learning for
Image Recognition", Table 1; torchvision's "v1.5" puts the stride of a down-sampling
bottleneck on its 3 × 3 convolution): a 7 × 7 stride-2 stem and a 3 × 3 stride-2 max pool, four
stages of [3, 4, 6, 3] bottlenecks (1 × 1 reduce, 3 × 3, 1 × 1 expand by 4, BatchNorm after each,
a 1 × 1 strided projection where the shape changes), global average pooling and a 1000-way
linear layer: 25,557,032 parameters, the names of torchvision's state dict.

``bert_base()`` is BERT-base (Devlin et al. 2019) as ``bert-base-uncased``: word (30,522),
position (512) and token-type (2) embeddings summed, LayerNorm (eps 1e-12) and dropout; 12
post-norm encoder layers of width 768, 12 heads, GELU feed-forward of 3,072
(``nn.TransformerEncoderLayer``: its packed ``in_proj`` holds BERT's query, key and value);
the pooler (a 768 × 768 linear layer and tanh on the first token): 109,482,240 parameters.
The pre-training heads (masked-language-model transform and output bias, next-sentence) are
not part of it, as in the published count.
"""
from __future__ import annotations

from .. import nn
from ..engine.creation import arange, zeros_like
from ..engine.tensor import Tensor

__all__ = ["Bottleneck", "ResNet50", "resnet50", "Bert", "bert_base", "RESNET50_PARAMS", "BERT_BASE_PARAMS"]

#: torchvision's resnet50 (its weights' documentation: 25,557,032 parameters).
RESNET50_PARAMS = 25_557_032
#: bert-base-uncased with its pooler (Hugging Face's BertModel: 109,482,240).
BERT_BASE_PARAMS = 109_482_240


class Bottleneck(nn.Module):
    """1 × 1 (reduce to ``planes``), 3 × 3 (``stride``), 1 × 1 (expand to 4 · ``planes``), each
    followed by BatchNorm, ReLU after the first two and after the residual sum."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    """torchvision's ResNet-50 (see the module docstring); input (N, 3, H, W), logits (N, classes)."""

    def __init__(self, classes: int = 1000, blocks=(3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
            stride = 1 if stage == 1 else 2
            layers = [Bottleneck(inplanes, planes, stride)]
            inplanes = planes * Bottleneck.expansion
            layers += [Bottleneck(inplanes, planes) for _ in range(count - 1)]
            setattr(self, f"layer{stage}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet50(classes: int = 1000) -> ResNet50:
    """ResNet-50 as torchvision builds it (25,557,032 parameters for 1000 classes)."""
    return ResNet50(classes)


class Bert(nn.Module):
    """BERT's encoder (see the module docstring): ``forward(input_ids, token_type_ids=None)``
    → (sequence output (N, T, width), pooled output (N, width))."""

    def __init__(self, vocab: int = 30522, width: int = 768, layers: int = 12, heads: int = 12,
                 hidden: int = 3072, positions: int = 512, token_types: int = 2, dropout: float = 0.1):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, width)
        self.position_embeddings = nn.Embedding(positions, width)
        self.token_type_embeddings = nn.Embedding(token_types, width)
        self.embedding_norm = nn.LayerNorm(width, eps=1e-12)
        self.embedding_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(width, heads, hidden, dropout, activation="gelu", layer_norm_eps=1e-12,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pooler = nn.Linear(width, width)
        self.pooler_activation = nn.Tanh()

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None):
        types = zeros_like(input_ids) if token_type_ids is None else token_type_ids
        positions = arange(input_ids.shape[1], device=input_ids.device)
        h = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(types)
        h = self.encoder(self.embedding_dropout(self.embedding_norm(h)))
        return h, self.pooler_activation(self.pooler(h[:, 0]))


def bert_base() -> Bert:
    """BERT-base, uncased (109,482,240 parameters)."""
    return Bert()
