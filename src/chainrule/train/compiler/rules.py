"""Replay rules: how a recorded op runs again on new arrays.

Most ops are pure functions of their input arrays and keyword parameters: a replay calls the
op's own ``forward`` (the same kernel as eager execution, so the same bits) with the recorded
parameters. Three ops take arrays that their public function computed outside the graph, and
a replay must compute them again, exactly as that function does:

* dropout: the mask, drawn by :func:`chainrule.nn.functional.dropout` from chainrule's
  generator. A replay draws a fresh one with the same call, so that every replay has new
  randomness and a run under ``manual_seed(s)`` draws the same masks as eager execution;
* batch normalization in a ``BatchNorm1d``/``BatchNorm2d`` module: in training, the batch
  statistics, the update of the running statistics and of ``num_batches_tracked``
  (``nn/layers.py``'s ``forward`` and :func:`chainrule.nn.functional.batch_norm`, line for
  line); in evaluation, the module's current running statistics;
* attention's dropout (``nn.attention.dropout_keep``): the factors passed to the attention
  node are drawn again the same way;
* cross-entropy: whether some target equals ``ignore_index``, read from the new targets.

Each rule is a callable on the op's input arrays (and the dynamic keyword arrays) that
returns the op's output, as ``forward`` does.
"""
from __future__ import annotations

import functools

from ...engine import backend
from ...engine import random as engine_random
from ...engine.tensor import bump_version
from ...nn import fused

__all__ = ["forward_rule"]


def forward_rule(record, node, static: dict):
    """The callable a replay runs for ``record`` (a :class:`~.tracer.NodeRecord`) whose
    instance is ``node``; ``static`` are its parameters that do not change between replays."""
    if record.cls is fused.Dropout:
        return functools.partial(_dropout, node.forward, record.dropout_p)
    if record.masks:  # attention's dropout factors, passed as parameters: drawn again
        static = _without(static, tuple(record.masks))
        return functools.partial(_with_masks, functools.partial(node.forward, **static), record.masks)
    if record.cls is fused.BatchNorm and record.module is not None:
        static = _without(static, ("mean", "var", "statistics"))
        if static["training"]:
            return functools.partial(_batch_norm_training, node.forward, record.module, static)
        return functools.partial(_batch_norm_eval, node.forward, record.module, static)
    if record.cls is fused.CrossEntropy and record.params.get("ignored") is not None:
        classes = record.inputs[0].shape[1] if record.inputs[0].ndim > 1 else record.inputs[0].shape[0]
        if 0 <= static["ignore_index"] < classes:
            return functools.partial(_cross_entropy, node.forward, _without(static, ("ignored",)))
    return functools.partial(node.forward, **static) if static else node.forward


def _without(params: dict, names: tuple) -> dict:
    return {key: value for key, value in params.items() if key not in names}


def _dropout(forward, p, x):
    """:func:`chainrule.nn.functional.dropout`'s mask, drawn again, then the node."""
    keep = engine_random.generator().random(x.shape, dtype=backend.float32) >= p
    scale = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return forward(x, scale=backend.move(scale, backend.device_of(x)))


def _with_masks(forward, masks: dict, *arrays, **dynamic):
    """Draw every dropout factor array the node takes (as ``nn.attention.dropout_keep`` does),
    then run the node."""
    like = arrays[0]
    for key, (shape, p) in masks.items():
        keep = engine_random.generator().random(shape, dtype=backend.float32) >= p
        dynamic[key] = backend.move(keep.astype(like.dtype) * (1.0 / (1.0 - p)), backend.device_of(like))
    return forward(*arrays, **dynamic)


def _batch_norm_training(forward, module, static, x, *affine):
    """``_BatchNorm.forward`` and ``F.batch_norm`` in training mode, on arrays."""
    statistics = fused.batch_statistics(x)
    mean, var = statistics.mean, statistics.var
    if module.track_running_stats:
        counter = module.num_batches_tracked
        batches = int(counter.data) + 1
        momentum = 1.0 / batches if module.momentum is None else module.momentum
        count = x.size // x.shape[1]
        running_mean, running_var = module.running_mean, module.running_var
        running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean
        bump_version(running_mean)
        running_var.data[...] = (1 - momentum) * running_var.data + momentum * var * (count / (count - 1))
        bump_version(running_var)
        out = forward(x, *affine, mean=mean, var=var, statistics=statistics, **static)
        counter.data[...] = batches
        return out
    return forward(x, *affine, mean=mean, var=var, statistics=statistics, **static)


def _batch_norm_eval(forward, module, static, x, *affine):
    """Normalization by the module's running statistics as they are now."""
    return forward(x, *affine, mean=module.running_mean.data, var=module.running_var.data,
                   statistics=None, **static)


def _cross_entropy(forward, static, logits, *, target):
    """Cross-entropy with ``ignored`` read from the new targets (as ``check_class_targets``)."""
    ignored = bool((target == static["ignore_index"]).any())
    return forward(logits, target=target, ignored=ignored, **static)
