"""Figures for the HTML report: training curves, optimizer comparisons, coefficients,
predictions and confusion matrices.

Every builder returns a :class:`matplotlib.figure.Figure` drawn on its own
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`. pyplot is never imported,
so building a figure neither changes the user's matplotlib backend nor registers a
window; the figure is freed like any Python object once nothing refers to it.

Conventions shared by all figures: axes are labelled with their units ("epoch",
"optimizer step", "wall time (s)"), every line is in a legend, the layout is
``constrained`` so labels never overlap, and the y axis switches to a log scale when
the plotted positive values span more than ``LOG_DECADES`` decades (a loss that falls
from 2.3 to 0.01 is unreadable on a linear axis). User-provided names (optimizers,
coefficients, class labels) are shown literally: a ``$`` in them is escaped so
matplotlib does not read it as mathtext.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = [
    "figure_loss_curves", "figure_metric_curves", "figure_gradient_and_lr",
    "figure_optimizer_comparison", "figure_coefficients", "figure_predicted_vs_actual",
    "figure_confusion_matrix",
]

LOG_DECADES = 2.0
"""A y axis gets a log scale when max/min of its positive values exceeds 10**LOG_DECADES."""

_WIDTH_IN = 7.0  # figure width in inches: 770 px at the report's 110 dpi
_HEIGHT_IN = 4.0
_MAX_WIDTH_IN = 9.2  # about 1,010 px: fits the report's 1,100 px column at 100% zoom
_MARKER_EPOCHS = 30  # draw markers on per-epoch lines up to this many epochs
_MARKER_STEPS = 30  # and on an optimizer's loss line up to this many steps

_METRIC_LABELS = {
    "accuracy": "accuracy (share correct)",
    "r2": "R² (share of variance explained)",
    "rmse": "RMSE (target units)",
    "mae": "MAE (target units)",
}

_METRIC_TITLES = {"accuracy": "Accuracy", "r2": "R²", "rmse": "RMSE", "mae": "MAE"}


# ---------------------------------------------------------------------- training curves

def figure_loss_curves(history, *, loss_name: str | None = None) -> Figure:
    """Training and validation loss per epoch, with the per-step training loss behind.

    x: epoch; y: the loss (``"loss (MSE)"`` when ``loss_name="MSE"`` is given). The
    epoch's training loss is the mean over its mini-batches while the weights moved, so
    it lags the validation loss (computed with the end-of-epoch weights) by about half
    an epoch. Each optimizer step k of epoch e with n_e steps is drawn faintly at
    x = e − 1 + k/n_e. The y axis is logarithmic when the values span more than
    ``LOG_DECADES`` decades.

    Args:
        history: a :class:`chainrule.train.History` with at least one epoch.
        loss_name: what the loss is ("MSE", "cross-entropy"), shown in the y label.
    """
    epochs = _check_history(history, "figure_loss_curves")
    x = _column(epochs, "epoch")
    figure, axes = new_figure()
    plotted = []
    steps = history.steps
    if steps.get("loss"):
        step_x = _fractional_epochs(steps["epoch"])
        step_loss = np.asarray(steps["loss"], dtype=np.float64)
        axes.plot(step_x, step_loss, color="tab:blue", alpha=0.25, linewidth=0.8,
                  label="training loss per step")
        plotted.append(step_loss)
    marker = "o" if len(x) <= _MARKER_EPOCHS else None
    train = _column(epochs, "train_loss")
    axes.plot(x, train, color="tab:blue", marker=marker, linewidth=1.8, label="training loss (epoch mean)")
    plotted.append(train)
    if any("val_loss" in record for record in epochs):
        val = _column(epochs, "val_loss")
        axes.plot(x, val, color="tab:orange", marker=marker, linewidth=1.8, label="validation loss")
        plotted.append(val)
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"loss ({literal(loss_name)})" if loss_name else "loss")
    axes.set_title("Loss")
    _integer_ticks_if_few(axes, np.r_[0.0, x] if steps.get("loss") else x)  # steps start at epoch 0
    _log_scale_if_wide(axes, np.concatenate(plotted))
    axes.legend(loc="best")
    axes.grid(True, alpha=0.3)
    return figure


def figure_metric_curves(history) -> Figure | None:
    """Every metric other than the loss, per epoch: one axes per metric, training and
    validation lines (``train_<metric>``, ``val_<metric>`` columns of the history).

    Returns None when the history records no metric besides the loss.
    """
    epochs = _check_history(history, "figure_metric_curves")
    names = _metric_names(history.columns)
    if not names:
        return None
    x = _column(epochs, "epoch")
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure, grid = new_figure(rows, columns, width=min(_WIDTH_IN * columns / 1.6, _MAX_WIDTH_IN), height=3.2 * rows)
    flat = np.atleast_1d(grid).ravel()
    marker = "o" if len(x) <= _MARKER_EPOCHS else None
    for axes, name in zip(flat, names):
        for prefix, label, colour in (("train_", "training", "tab:blue"), ("val_", "validation", "tab:orange")):
            if prefix + name in history.columns:
                axes.plot(x, _column(epochs, prefix + name), color=colour, marker=marker, label=label)
        axes.set_xlabel("epoch")
        axes.set_ylabel(_METRIC_LABELS.get(name, literal(name)))
        axes.set_title(_METRIC_TITLES.get(name, literal(name)))
        _integer_ticks_if_few(axes, x)
        axes.legend(loc="best")
        axes.grid(True, alpha=0.3)
    for axes in flat[len(names):]:
        axes.set_visible(False)
    return figure


def figure_gradient_and_lr(history) -> Figure:
    """The global gradient norm ‖g‖₂ (log y when positive) and the learning rate at
    every optimizer step, on two axes sharing x ("optimizer step")."""
    _check_history(history, "figure_gradient_and_lr")
    steps = history.steps
    if not steps.get("step"):
        raise ValueError("figure_gradient_and_lr: history has no optimizer steps (history.steps['step'] is empty)")
    step = np.asarray(steps["step"], dtype=np.float64)
    grad_norm = np.asarray(steps["grad_norm"], dtype=np.float64)
    lr = np.asarray(steps["lr"], dtype=np.float64)
    figure, (top, bottom) = new_figure(2, 1, height=5.0, sharex=True)
    top.plot(step, grad_norm, color="tab:purple", linewidth=1.0, label=r"$\|g\|_2$ per step")
    top.set_ylabel(r"gradient norm $\|g\|_2$")
    top.set_title("Gradient norm and learning rate")
    finite = grad_norm[np.isfinite(grad_norm)]
    if finite.size and np.all(finite > 0):
        top.set_yscale("log")
        _plain_log_labels_if_narrow(top, finite)
    bottom.plot(step, lr, color="tab:green", linewidth=1.4, label="learning rate")
    bottom.set_ylabel("learning rate")
    bottom.set_xlabel("optimizer step")
    _log_scale_if_wide(bottom, lr)
    finite_lr = lr[np.isfinite(lr)]
    if bottom.get_yscale() == "linear" and finite_lr.size and finite_lr.min() >= 0 and finite_lr.max() > 0:
        bottom.set_ylim(0, finite_lr.max() * 1.15)  # a schedule (warm-up, decay) reads best from zero
    bottom.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    for axes in (top, bottom):
        axes.legend(loc="best")
        axes.grid(True, alpha=0.3)
    return figure


# ---------------------------------------------------------------------- optimizers

def figure_optimizer_comparison(runs: dict, *, loss_name: str | None = None) -> Figure:
    """Loss against optimizer step and against wall time, one colour per optimizer.

    Args:
        runs: optimizer name -> dict with equal-length lists ``step`` (optimizer step),
            ``loss`` (training loss at that step) and ``time`` (seconds since the start
            of that run at that step); optionally ``val_loss`` (one value per epoch),
            drawn dashed at the last step of each epoch. Those steps come from an
            ``epoch`` list (the epoch of each step) when the run has one; otherwise
            the steps must split into ``len(val_loss)`` epochs of equal length. An
            empty or missing ``val_loss`` draws none; other keys are ignored.
        loss_name: what the loss is ("MSE"), shown in the y labels.

    The y axes are logarithmic when the losses span more than ``LOG_DECADES`` decades.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError(f"figure_optimizer_comparison: runs must be a non-empty dict of optimizer name -> "
                         f"{{'step', 'loss', 'time'}} lists; got {_describe(runs)}")
    figure, (by_step, by_time) = new_figure(1, 2, width=_MAX_WIDTH_IN, height=4.2, sharey=True)
    colours = _colours(len(runs))
    plotted = []
    for (name, run), colour in zip(runs.items(), colours):
        step, loss, seconds = _check_run(name, run)
        marker = "o" if len(step) <= _MARKER_STEPS else None  # a run of a few steps stays visible
        by_step.plot(step, loss, color=colour, linewidth=1.3, marker=marker, markersize=4)
        by_time.plot(seconds, loss, color=colour, linewidth=1.3, marker=marker, markersize=4)
        plotted.append(loss)
        if _has_validation(run):
            ends = _epoch_end_indices(name, run, len(step))
            val = float_array(run["val_loss"], f"runs[{name!r}]['val_loss']", name="figure_optimizer_comparison")
            by_step.plot(step[ends], val, color=colour, linestyle="--", marker="o", markersize=3)
            by_time.plot(seconds[ends], val, color=colour, linestyle="--", marker="o", markersize=3)
            plotted.append(val)
    ylabel = f"loss ({literal(loss_name)})" if loss_name else "loss"
    by_step.set_xlabel("optimizer step")
    by_step.set_ylabel(ylabel)
    by_step.set_title("Loss per optimizer step")
    by_time.set_xlabel("wall time (s)")
    by_time.set_title("Loss over wall time")
    by_time.tick_params(labelleft=True)
    _log_scale_if_wide(by_step, np.concatenate(plotted))
    for axes in (by_step, by_time):
        axes.grid(True, alpha=0.3)
    by_step.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    handles = [Line2D([], [], color=colour, linewidth=2.0, label=literal(str(name)))
               for name, colour in zip(runs, colours)]
    if any(_has_validation(run) for run in runs.values()):
        handles += [Line2D([], [], color="0.3", label="training loss (per step)"),
                    Line2D([], [], color="0.3", linestyle="--", marker="o", markersize=3,
                           label="validation loss (per epoch)")]
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5))
    return figure


# ---------------------------------------------------------------------- models

def figure_coefficients(names, estimates, lower, upper, *, level: float = 0.95,
                        omit=("const", "Intercept", "intercept"), xlabel: str | None = None) -> Figure:
    """Coefficient estimates b_j with their confidence intervals [lower_j, upper_j] as
    horizontal error bars, one row per term (in the given order, top to bottom), and a
    vertical line at zero: an interval that crosses it is not significant at 1 − level.

    Args:
        names: the term names; estimates, lower, upper: one number per name, with
            lower ≤ estimate ≤ upper (e.g. ``result.params`` and the two columns of
            ``result.conf_int()``).
        level: the intervals' confidence level, shown in the title.
        omit: names not drawn (by default the intercept, which is on the scale of the
            target and would squeeze the slopes into a sliver); the title says which
            were left out. Nothing is omitted when that would leave no term.
        xlabel: the x label (default "coefficient (change in the target per unit of the
            term)"); say so when the estimates are rescaled, e.g. per standard deviation.
    """
    names = [str(name) for name in _sequence(names, "names", "figure_coefficients")]
    estimates = float_array(estimates, "estimates", len(names), name="figure_coefficients")
    lower = float_array(lower, "lower", len(names), name="figure_coefficients")
    upper = float_array(upper, "upper", len(names), name="figure_coefficients")
    if not names:
        raise ValueError("figure_coefficients: names is empty; expected at least one term")
    for j, name in enumerate(names):
        if not lower[j] <= estimates[j] <= upper[j]:
            raise ValueError(f"figure_coefficients: term {name!r} has estimate {estimates[j]:g} outside its "
                             f"interval [{lower[j]:g}, {upper[j]:g}]; expected lower <= estimate <= upper")
    if not 0 < level < 1:
        raise ValueError(f"figure_coefficients: level must be in (0, 1); got {level!r}")
    omit = {omit} if isinstance(omit, str) else set(omit or ())
    keep = [j for j, name in enumerate(names) if name not in omit] or list(range(len(names)))
    left_out = [names[j] for j in range(len(names)) if j not in keep]
    names = [names[j] for j in keep]
    estimates, lower, upper = estimates[keep], lower[keep], upper[keep]
    figure, axes = new_figure(height=max(2.2, 1.2 + 0.35 * len(names)))
    rows = np.arange(len(names))
    axes.errorbar(estimates, rows, xerr=[estimates - lower, upper - estimates], fmt="o", color="tab:blue",
                  ecolor="tab:blue", capsize=3, label=f"estimate with {level:.0%} confidence interval")
    axes.axvline(0.0, color="0.35", linewidth=1.0, linestyle="--", label="zero")
    axes.set_yticks(rows, [literal(name) for name in names])
    axes.set_ylim(len(names) - 0.5, -0.5)  # first term on top
    axes.set_xlabel(xlabel or "coefficient (change in the target per unit of the term)")
    axes.set_ylabel("term")
    not_shown = f" ({', '.join(literal(n) for n in left_out)} not shown)" if left_out else ""
    axes.set_title(f"Coefficients and {level:.0%} confidence intervals{not_shown}")
    figure.legend(*axes.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=8,
                  frameon=False)  # below the axes: never over a term
    axes.grid(True, axis="x", alpha=0.3)
    return figure


def figure_predicted_vs_actual(y_true, y_pred, *, target_name: str = "target") -> Figure:
    """Predicted against actual values of a regression, with the line ŷ = y on which
    perfect predictions lie; the legend gives n and R² = 1 − Σ(y−ŷ)²/Σ(y−ȳ)²."""
    y_true = float_array(y_true, "y_true", name="figure_predicted_vs_actual")
    y_pred = float_array(y_pred, "y_pred", len(y_true), name="figure_predicted_vs_actual")
    if len(y_true) == 0:
        raise ValueError("figure_predicted_vs_actual: y_true is empty; expected at least one observation")
    for argument, values in (("y_true", y_true), ("y_pred", y_pred)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ValueError(
                f"figure_predicted_vs_actual: {argument} has {bad} non-finite values; expected finite numbers"
            )
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y_true - y_pred) ** 2)) / total if total > 0 else float("nan")
    figure, axes = new_figure(width=5.2, height=4.8)
    alpha = 0.7 if len(y_true) <= 500 else max(0.08, 0.7 * math.sqrt(500 / len(y_true)))
    axes.scatter(y_true, y_pred, s=12, alpha=alpha, color="tab:blue", edgecolors="none",
                 label=f"observations (n = {len(y_true)}, R² = {r2:.3f})")
    low = float(min(y_true.min(), y_pred.min()))
    high = float(max(y_true.max(), y_pred.max()))
    pad = 0.05 * (high - low) if high > low else 1.0
    limits = (low - pad, high + pad)
    axes.plot(limits, limits, color="0.35", linestyle="--", linewidth=1.0, label="perfect prediction (ŷ = y)")
    axes.set_xlim(limits)
    axes.set_ylim(limits)
    axes.set_aspect("equal")
    target = literal(target_name)
    axes.set_xlabel(f"actual {target}")
    axes.set_ylabel(f"predicted {target}")
    axes.set_title("Predicted vs actual")
    axes.legend(loc="upper left")
    axes.grid(True, alpha=0.3)
    return figure


def figure_confusion_matrix(y_true, y_pred, labels) -> Figure:
    """Counts of (actual class, predicted class) pairs: rows actual, columns predicted.

    Args:
        y_true, y_pred: class indices 0..K−1 (as ``chainrule.tabular`` encodes a
            classification target), equal length.
        labels: the K class labels, in index order (``encoder.classes_``).

    Cells are coloured by count and annotated with the count and the share of the
    actual class (row percentage); the diagonal holds the correct predictions.
    """
    labels = [str(label) for label in _sequence(labels, "labels", "figure_confusion_matrix")]
    if not labels:
        raise ValueError("figure_confusion_matrix: labels is empty; expected the K class labels")
    k = len(labels)
    actual = _class_indices(y_true, "y_true", k)
    predicted = _class_indices(y_pred, "y_pred", k)
    if len(actual) != len(predicted):
        raise ValueError(f"figure_confusion_matrix: y_true has {len(actual)} values but y_pred has "
                         f"{len(predicted)}; expected equal lengths")
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (actual, predicted), 1)
    side = min(max(3.8, 1.6 + 0.55 * k), _MAX_WIDTH_IN - 1.2)
    figure, axes = new_figure(width=side + 1.2, height=side)
    image = axes.imshow(counts, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, label="count")
    ticks = np.arange(k)
    shown = [literal(label) for label in labels]
    slanted = max(map(len, shown)) > 3
    axes.set_xticks(ticks, shown, rotation=45 if slanted else 0, ha="right" if slanted else "center")
    axes.set_yticks(ticks, shown)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("actual class")
    accuracy = np.trace(counts) / counts.sum() if counts.sum() else float("nan")
    axes.set_title(f"Confusion matrix (n = {counts.sum()}, accuracy = {accuracy:.3f})")
    if k <= 20:
        _annotate_counts(axes, counts)
    return figure


# ---------------------------------------------------------------------- helpers

def new_figure(rows: int = 1, columns: int = 1, *, width: float = _WIDTH_IN, height: float = _HEIGHT_IN, **subplots):
    """A constrained-layout Figure on an Agg canvas, and its axes (no pyplot)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    subplots.setdefault("squeeze", True)
    axes = figure.subplots(rows, columns, **subplots)
    return figure, axes


def _check_history(history, function: str) -> list:
    if not (hasattr(history, "epochs") and hasattr(history, "steps") and hasattr(history, "columns")):
        raise TypeError(f"{function}: history must be a chainrule.train.History (Trainer.fit's return value); "
                        f"got {_describe(history)}")
    if not history.epochs:
        raise ValueError(f"{function}: history has no epochs; train for at least one epoch first")
    return history.epochs


def _column(epochs: list, name: str) -> np.ndarray:
    """One per-epoch column as float64; an epoch that lacks it is NaN (a gap in the line)."""
    return np.array([math.nan if record.get(name) is None else record[name] for record in epochs], dtype=np.float64)


def _fractional_epochs(step_epochs) -> np.ndarray:
    """x = e − 1 + k/n_e for the k-th of the n_e steps of epoch e (so each epoch ends at x = e)."""
    step_epochs = np.asarray(step_epochs, dtype=np.int64)
    x = np.empty(len(step_epochs), dtype=np.float64)
    for epoch in np.unique(step_epochs):
        where = np.flatnonzero(step_epochs == epoch)
        x[where] = epoch - 1 + np.arange(1, len(where) + 1) / len(where)
    return x


def _metric_names(columns) -> list:
    names: dict = {}
    for column in columns:
        for prefix in ("train_", "val_"):
            if column.startswith(prefix) and column != prefix + "loss":
                names[column[len(prefix):]] = None
    return list(names)


def _log_scale_if_wide(axes, values) -> None:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size and np.all(values > 0) and values.max() / values.min() > 10.0 ** LOG_DECADES:
        axes.set_yscale("log")


def _plain_log_labels_if_narrow(axes, values) -> None:
    """On a log axis spanning less than a decade matplotlib labels only minor ticks, as
    "3×10⁻¹"; plain numbers ("0.3") read better there."""
    if values.max() / values.min() < 10:
        plain = ticker.FuncFormatter(lambda value, _: f"{value:.3g}")
        axes.yaxis.set_major_formatter(plain)
        axes.yaxis.set_minor_formatter(plain)


def _integer_ticks_if_few(axes, x) -> None:
    """Integer epoch ticks (no "1.5 epochs") when there are few epochs."""
    finite = x[np.isfinite(x)]
    if finite.size and finite.size <= 12:
        axes.set_xticks(finite)


def _check_run(name, run) -> tuple:
    where = f"figure_optimizer_comparison: runs[{name!r}]"
    if not isinstance(run, dict):
        raise TypeError(f"{where} must be a dict with lists 'step', 'loss', 'time'; got {_describe(run)}")
    missing = [key for key in ("step", "loss", "time") if key not in run]
    if missing:
        raise ValueError(f"{where} lacks {missing}; expected lists 'step', 'loss' and 'time' (seconds since start); "
                         f"has {sorted(run)}")
    step = float_array(run["step"], f"runs[{name!r}]['step']", name="figure_optimizer_comparison")
    loss = float_array(run["loss"], f"runs[{name!r}]['loss']", len(step), name="figure_optimizer_comparison")
    seconds = float_array(run["time"], f"runs[{name!r}]['time']", len(step), name="figure_optimizer_comparison")
    if len(step) == 0:
        raise ValueError(f"{where} has no steps; expected at least one")
    return step, loss, seconds


def _has_validation(run: dict) -> bool:
    """A run has validation losses to draw (an empty list or None means none)."""
    val = run.get("val_loss")
    return val is not None and len(val) > 0


def _epoch_end_indices(name, run, n_steps: int) -> np.ndarray:
    """Index of the last step of each epoch, for drawing per-epoch validation losses."""
    n_val = len(run["val_loss"])
    where = f"figure_optimizer_comparison: runs[{name!r}]"
    if "epoch" in run:
        epoch = np.asarray(run["epoch"])
        if len(epoch) != n_steps:
            raise ValueError(f"{where}['epoch'] has {len(epoch)} values; expected one per step ({n_steps})")
        ends = np.flatnonzero(np.r_[epoch[1:] != epoch[:-1], True])
    elif n_val and n_steps % n_val == 0:
        ends = np.arange(1, n_val + 1) * (n_steps // n_val) - 1
    else:
        raise ValueError(f"{where} has {n_val} val_loss values for {n_steps} steps, which do not split into equal "
                         f"epochs; add an 'epoch' list (the epoch of each step)")
    if len(ends) != n_val:
        raise ValueError(f"{where} has {n_val} val_loss values but its steps span {len(ends)} epochs; "
                         f"expected one validation loss per epoch")
    return ends


def _class_indices(values, argument: str, k: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"figure_confusion_matrix: {argument} must be 1-D class indices; got shape {array.shape}")
    if array.size and not (np.issubdtype(array.dtype, np.integer) or
                           (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)))):
        raise ValueError(f"figure_confusion_matrix: {argument} must hold class indices 0..{k - 1} (integers); "
                         f"got dtype {array.dtype}")
    array = array.astype(np.int64)
    outside = np.unique(array[(array < 0) | (array >= k)])
    if outside.size:
        raise ValueError(f"figure_confusion_matrix: {argument} has class indices {outside[:10].tolist()} outside "
                         f"0..{k - 1} (there are {k} labels)")
    return array


def _annotate_counts(axes, counts: np.ndarray) -> None:
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    threshold = counts.max() / 2 if counts.max() else 1
    size = 9 if counts.shape[0] <= 8 else 7
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            colour = "white" if counts[i, j] > threshold else "black"
            axes.text(j, i, f"{counts[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center", color=colour,
                      fontsize=size)


def _colours(n: int) -> list:
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    from matplotlib import colormaps  # noqa: PLC0415

    return [colormaps["tab20"](i % 20) for i in range(n)]


def _sequence(values, argument: str, function: str) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{function}: {argument} must be a sequence; got {_describe(values)}")
    return list(values)


def float_array(values, argument: str, length: int | None = None, *, name: str) -> np.ndarray:
    """A 1-D float64 array from a list or array (an (n, 1) or (1, n) column counts as
    1-D), checking its length. None in a list, a value that was not recorded, becomes
    NaN: a gap in a line, and an error where the builder requires finite values."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name}: {argument} must be a sequence of numbers; got {_describe(values)}")
    values = [math.nan if v is None else v for v in values] if isinstance(values, list) else values
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: {argument} must hold numbers; {err}") from None
    if array.ndim != 1:
        array = array.reshape(-1) if array.ndim == 2 and 1 in array.shape else array
    if array.ndim != 1:
        raise ValueError(f"{name}: {argument} must be 1-D; got shape {array.shape}")
    if length is not None and len(array) != length:
        raise ValueError(f"{name}: {argument} has {len(array)} values; expected {length}")
    return array


def literal(text) -> str:
    """Text shown literally by matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def _describe(value) -> str:
    if isinstance(value, numbers.Number) or isinstance(value, str):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__
