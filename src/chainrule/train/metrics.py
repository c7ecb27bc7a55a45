"""The running metrics a :class:`~chainrule.train.Trainer` records besides the loss.

Each metric accumulates over the batches of a pass and computes its value at the end:

* ``"accuracy"``: the share of correct predictions (arg-max of the logits, or logit > 0 for
  a single output); for outputs with one prediction per position, (N, T, C) or PyTorch's
  (N, C, T), the share of positions predicted right;
* ``"r2"``, ``"rmse"``, ``"mae"``: from per-output running sums of squared and absolute
  errors and the targets' mean and M2 = Σ (y − ȳ)², merged batch by batch with Chan, Golub &
  LeVeque's update (which avoids the cancellation of Σy² − n ȳ²); R² = 1 − SSE/SST averaged
  over the outputs;
* a function ``fn(outputs, target) -> float``: averaged over batches, weighted by batch size.

In data-parallel training :meth:`Metric.merge` replaces a metric's accumulators by those of
all ranks' rows together (the ranks' states come from an all-gather).

The definitions are :mod:`chainrule.metrics`' (scikit-learn's): a batch's correct predictions
are counted by :func:`chainrule.metrics.accuracy`, R² is
:func:`chainrule.metrics.regression.explained_fraction` of the running sums (so a constant
target gives 1.0 or 0.0, not NaN, and fewer than two rows NaN), and RMSE is the root of each
output's mean squared error, averaged over the outputs; so each value equals
``chainrule.metrics.accuracy``, ``r2``, ``rmse`` or ``mae`` of the whole pass's predictions.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.backend import host as np
from ..engine.tensor import Tensor
from ..metrics import accuracy
from ..metrics.regression import explained_fraction

#: Metric names a Trainer accepts (case-insensitive) and the metric each stands for.
METRIC_ALIASES = {"accuracy": "accuracy", "acc": "accuracy", "r2": "r2", "rmse": "rmse", "mae": "mae"}


def make_metric(spec) -> Metric:
    """The metric a Trainer records for ``spec``: a name (``METRIC_ALIASES``) or a function."""
    if callable(spec):
        metric = FunctionMetric(spec)
    elif isinstance(spec, str) and spec.lower() in METRIC_ALIASES:
        name = METRIC_ALIASES[spec.lower()]
        metric = Accuracy() if name == "accuracy" else Regression(name)
    else:
        raise ValueError(
            f"Trainer: unknown metric {spec!r}; expected 'loss', 'accuracy', 'r2', 'rmse', "
            f"'mae' or a function fn(outputs, target) -> float"
        )
    metric.reset()
    return metric


class Metric:
    """Accumulates over batches, computes at the end of a pass. ``fresh()`` is a new,
    empty copy (validation must not disturb the training accumulators); ``merge(states)``
    combines the accumulators of several ranks (``states``: each rank's ``vars(metric)``)."""

    name = ""

    def fresh(self) -> Metric:
        copy = type(self).__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.reset()
        return copy

    def reset(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define reset")  # abstract

    def update(self, outputs: Tensor, target: Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update")  # abstract

    def compute(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define compute")  # abstract

    def merge(self, states: list) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define merge")  # abstract


class Accuracy(Metric):
    """Share of correct predictions: arg-max over the logits of each row, or
    ``logit > 0`` for a single output; one-hot targets are read by their arg-max.

    Outputs with more than two dimensions hold one prediction per position (sequence and
    dense-prediction models), and the accuracy is the share of positions predicted right:
    logits (N, T, …, C) with integer targets (N, T, …) — classes last, as a batch-first
    sequence model returns them — or PyTorch's ``CrossEntropyLoss`` layout (N, C, d1, …)
    with targets (N, d1, …). When both readings fit the shapes, the classes are taken to be
    last."""

    name = "accuracy"

    def reset(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, outputs, target) -> None:
        out, y = backend.to_host(outputs.data), backend.to_host(target.data)
        if out.ndim > 2:
            predicted = _positionwise_predictions(out, y.shape)
            self.correct += int((predicted == y).sum())
            self.count += int(y.size)
            return
        if out.ndim == 2 and out.shape[1] > 1:
            predicted = out.argmax(axis=1)
        else:
            predicted = (out.reshape(len(out)) > 0).astype(np.int64)
        if y.ndim == 2 and y.shape[1] > 1:
            y = y.argmax(axis=1)
        self.correct += int(accuracy(y.reshape(len(y)), predicted, normalize=False))
        self.count += len(y)

    def compute(self) -> float:
        return self.correct / self.count if self.count else float("nan")

    def merge(self, states: list) -> None:
        self.correct = sum(s["correct"] for s in states)
        self.count = sum(s["count"] for s in states)


def _positionwise_predictions(out, target_shape):
    """The predicted class at every position of logits ``out`` (3 or more dimensions) whose
    integer targets have ``target_shape``: classes last, or in dimension 1 (PyTorch's layout)."""
    if out.shape[:-1] == tuple(target_shape):
        if out.shape[-1] == 1:
            return (out[..., 0] > 0).astype(np.int64)
        return out.argmax(axis=-1)
    if out.shape[:1] + out.shape[2:] == tuple(target_shape):
        return out.argmax(axis=1)
    raise ValueError(
        f"Trainer: accuracy of outputs of shape {out.shape} needs integer targets of shape {out.shape[:-1]} "
        f"(classes last) or {out.shape[:1] + out.shape[2:]} (classes in dimension 1); got targets of shape "
        f"{tuple(target_shape)}"
    )


class Regression(Metric):
    """Running sums for regression metrics, per output column: squared and absolute
    errors, and the targets' mean and sum of squared deviations (merged batch by
    batch with Chan et al.'s update, which avoids the cancellation of Σy² - n ȳ²)."""

    def __init__(self, name: str):
        self.name = name

    def reset(self) -> None:
        self.n, self.sse, self.sae, self.mean, self.m2 = 0, 0.0, 0.0, 0.0, 0.0

    def update(self, outputs, target) -> None:
        y = backend.to_host(target.data).astype(np.float64)
        out = backend.to_host(outputs.data).astype(np.float64)
        if out.size != y.size:
            raise ValueError(
                f"metric {self.name!r}: outputs of shape {tuple(outputs.shape)} and targets of shape "
                f"{tuple(target.shape)} have different numbers of elements"
            )
        n = len(y)
        y, out = y.reshape(n, -1), out.reshape(n, -1)
        error = out - y
        self.sse = self.sse + (error * error).sum(axis=0)
        self.sae = self.sae + np.abs(error).sum(axis=0)
        batch_mean = y.mean(axis=0)
        batch_m2 = ((y - batch_mean) ** 2).sum(axis=0)
        total = self.n + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + batch_m2 + delta * delta * (self.n * n / total)
        self.n = total

    def compute(self) -> float:
        if self.n == 0:
            return float("nan")
        if self.name == "rmse":
            return float(np.mean(np.sqrt(np.asarray(self.sse) / self.n)))  # per output, then averaged
        if self.name == "mae":
            return float(np.mean(self.sae) / self.n)
        if self.n < 2:
            return float("nan")  # R² needs two rows (chainrule.metrics.r2 warns and gives NaN)
        return explained_fraction(self.sse, self.m2)  # R² = 1 - SSE/SST, averaged over outputs

    def merge(self, states: list) -> None:
        """Chan, Golub & LeVeque's pairwise merge of (n, mean, M2) over ranks; sums add."""
        states = [s for s in states if s["n"] > 0]
        n = sum(s["n"] for s in states)
        if n == 0:
            return
        mean = sum(s["n"] * np.asarray(s["mean"]) for s in states) / n
        self.m2 = sum(np.asarray(s["m2"]) + s["n"] * (np.asarray(s["mean"]) - mean) ** 2 for s in states)
        self.sse = sum(np.asarray(s["sse"]) for s in states)
        self.sae = sum(np.asarray(s["sae"]) for s in states)
        self.n, self.mean = n, mean


class FunctionMetric(Metric):
    """A user function ``fn(outputs, target) -> float``, averaged weighting by batch size."""

    def __init__(self, function):
        self.function = function
        self.name = getattr(function, "__name__", type(function).__name__)

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, outputs, target) -> None:
        n = target.shape[0]
        self.total += float(self.function(outputs.detach(), target)) * n
        self.count += n

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def merge(self, states: list) -> None:
        self.total = sum(s["total"] for s in states)
        self.count = sum(s["count"] for s in states)
