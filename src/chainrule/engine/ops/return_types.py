"""The named tuples that ops returning several tensors give back, as ``torch.return_types``.

``values, indices = x.max(dim=1)`` unpacks one; ``x.max(dim=1).values`` names a field;
``x.max(dim=1)[0]`` indexes it. Each type is named after the op that returns it.
"""
from __future__ import annotations

from collections import namedtuple

__all__ = ["max", "min", "sort", "topk"]

max = namedtuple("max", ["values", "indices"])  # noqa: A001 - the op's name, as torch.return_types.max
min = namedtuple("min", ["values", "indices"])  # noqa: A001
sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])
