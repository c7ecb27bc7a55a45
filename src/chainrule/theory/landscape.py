r"""Loss landscapes: filter-normalized random directions, 1-D lines and 2-D surfaces, and plots.

Following Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of Neural
Nets" (NeurIPS 2018), the loss of a trained model with parameters θ is drawn along one or
two directions δ, η in parameter space::

    line:     f(α)    = L(θ + α δ)               α on a grid of ``steps`` points in ``span``
    surface:  f(α, β) = L(θ + α δ + β η)          on a steps x steps grid

A raw Gaussian direction is not comparable across networks or layers, because a ReLU
network is invariant to rescaling the weights of a layer. **Filter normalization** makes
the direction's scale match the weights' filter by filter: with d_i the i-th filter of the
direction for a weight tensor W (for a Linear layer of shape (out, in), a filter is one
output row; for a convolution of shape (out, in, kh, kw), the kernel of one output channel)
and w_i the same filter of W::

    d_i ← d_i / ‖d_i‖ · ‖w_i‖

Biases and batch-normalization parameters (every parameter of at most one dimension) get a
zero direction by default, as in the paper. ``normalization="layer"`` rescales each
parameter tensor as a whole (d ← d/‖d‖ · ‖W‖); ``"none"`` keeps the N(0, 1) draw.

Evaluation runs without recording gradients and in evaluation mode (``model.eval()``:
dropout off, batch norm on its running statistics), and restores the weights exactly (the
saved arrays are copied back bit for bit) and the training mode afterwards.
:func:`chainrule.theory.skip_study.skip_connection_study` repeats the paper's comparison of
convolutional ResNets with and without skip connections (its Fig. 1 and Fig. 5) on these
surfaces.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..engine import autograd, backend
from ..engine.backend import host as np
from ..engine.tensor import Tensor, bump_version, tensor

__all__ = [
    "NORMALIZATIONS", "random_direction", "line", "surface", "LineResult", "SurfaceResult",
    "nonconvex_fraction",
]

#: The direction normalizations :func:`random_direction` accepts.
NORMALIZATIONS = ("filter", "layer", "none")


# =========================================================================== directions

def random_direction(model, normalization: str = "filter", seed: int = 0, *, ignore_bias_and_bn: bool = True) -> dict:
    r"""A random direction in parameter space: one array per parameter, keyed by parameter name.

    Each entry is drawn from N(0, 1) (NumPy's PCG64 generator seeded with ``seed``, in the
    order of ``model.named_parameters()``) and then normalized:

    * "filter" (Li et al. 2018): for a parameter of 2 or more dimensions, each filter (each
      slice along the first axis: an output row of a Linear weight, an output channel's
      (in, kh, kw) kernel of a convolution weight (out, in, kh, kw)) is rescaled to the norm
      of the same filter of the weights, d_i ← d_i/‖d_i‖ · ‖w_i‖ (a zero filter stays zero);
    * "layer": each parameter as a whole, d ← d/‖d‖ · ‖W‖;
    * "none": no rescaling.

    With ``ignore_bias_and_bn`` (default), every parameter of at most one dimension (biases,
    BatchNorm's weight and bias) gets a zero direction; otherwise such a vector is rescaled as
    a whole ("filter" and "layer" alike: a vector is one filter).

    Returns a dict ``{name: float array of the parameter's shape and dtype}``.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"random_direction: normalization must be one of {', '.join(map(repr, NORMALIZATIONS))}; "
            f"got {normalization!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"random_direction: seed must be a non-negative int; got {seed!r}")
    named = _named_parameters(model, "random_direction")
    rng = np.random.default_rng(seed)
    direction = {}
    for name, p in named:
        weights = np.asarray(p.numpy(), dtype=np.float64)  # host copy: directions live on the host
        d = rng.standard_normal(weights.shape)
        if weights.ndim <= 1 and ignore_bias_and_bn:
            d = np.zeros_like(weights)
        elif normalization == "filter" and weights.ndim >= 2:
            d = _filter_normalize(d, weights)
        elif normalization != "none":
            d = _rescale(d, weights)
        direction[name] = d.astype(p.data.dtype)
    return direction


def _filter_normalize(d, weights):
    rows_d = d.reshape(d.shape[0], -1)
    rows_w = weights.reshape(weights.shape[0], -1)
    norms_d = np.linalg.norm(rows_d, axis=1, keepdims=True)
    norms_w = np.linalg.norm(rows_w, axis=1, keepdims=True)
    scaled = np.divide(rows_d * norms_w, norms_d, out=np.zeros_like(rows_d), where=norms_d > 0)
    return scaled.reshape(d.shape)


def _rescale(d, weights):
    norm_d = float(np.linalg.norm(d))
    return d * (float(np.linalg.norm(weights)) / norm_d) if norm_d > 0 else d


# =========================================================================== results

@dataclass
class LineResult:
    """The loss along one direction: ``losses[i] = L(θ + alphas[i] δ)``.

    Attributes: ``alphas``, ``losses`` (float64 arrays), ``direction`` (dict name → array),
    ``kind`` ("random" or "interpolation": δ = θ_other − θ, so α = 1 is the other solution).
    """

    alphas: object = field(repr=False)
    losses: object = field(repr=False)
    direction: dict = field(repr=False)
    kind: str = "random"

    def figure(self):
        """The 1-D curve (a matplotlib Figure)."""
        from matplotlib.figure import Figure  # noqa: PLC0415 - plotting is optional

        figure = Figure(figsize=(6.4, 4.2), layout="constrained")
        axes = figure.add_subplot()
        axes.plot(self.alphas, self.losses, color="black")
        if self.kind == "interpolation":
            axes.axvline(0.0, color="tab:blue", linewidth=0.8, label="α = 0: this model")
            axes.axvline(1.0, color="tab:red", linewidth=0.8, label="α = 1: the other solution")
            axes.set_xlabel("interpolation coefficient α (θ + α (θ_other − θ), unitless)")
            axes.set_title("loss along the line between two solutions")
        else:
            axes.axvline(0.0, color="tab:blue", linewidth=0.8, label="α = 0: trained weights")
            axes.set_xlabel("step α along the normalized direction (multiples of the weights' norm)")
            axes.set_title("loss along a random direction")
        axes.set_ylabel("loss (the loss function's units)")
        axes.legend()
        return figure


@dataclass
class SurfaceResult:
    """The loss on a 2-D grid: ``losses[j, i] = L(θ + alphas[i] δ + betas[j] η)``.

    Attributes: ``alphas``, ``betas`` (grid coordinates), ``losses`` (len(betas) x
    len(alphas), float64), ``directions`` (the two dicts δ, η).
    """

    alphas: object = field(repr=False)
    betas: object = field(repr=False)
    losses: object = field(repr=False)
    directions: tuple = field(repr=False)

    def nonconvex_fraction(self) -> float:
        """The share of interior grid points where the surface is not locally convex
        (see :func:`nonconvex_fraction`)."""
        return nonconvex_fraction(self)

    def figure_contour(self, title: str = "loss surface", axes=None):
        """Filled contour plot of the surface (a matplotlib Figure; draws into ``axes`` if given)."""
        figure, axes = _figure_and_axes(axes)
        grid_a, grid_b = np.meshgrid(self.alphas, self.betas)
        levels, norm = _contour_levels(self.losses)
        filled = axes.contourf(grid_a, grid_b, self.losses, levels=levels, norm=norm, cmap="viridis")
        axes.contour(grid_a, grid_b, self.losses, levels=levels, norm=norm, colors="white", linewidths=0.3)
        axes.plot([0.0], [0.0], marker="*", color="red", markersize=10, linestyle="none", label="trained weights")
        axes.set_xlabel("α: direction δ (multiples of the filter norms)")
        axes.set_ylabel("β: direction η (multiples of the filter norms)")
        axes.set_title(title)
        axes.legend(loc="upper right")
        figure.colorbar(filled, ax=axes, label="loss (the loss function's units)", ticks=levels[::4], format="%.3g")
        return figure

    def figure_surface(self, title: str = "loss surface (3-D)", axes=None):
        """3-D surface plot (a matplotlib Figure; draws into a 3-D ``axes`` if given)."""
        if axes is None:
            from matplotlib.figure import Figure  # noqa: PLC0415

            figure = Figure(figsize=(6.4, 5.0), layout="constrained")
            axes = figure.add_subplot(projection="3d")
        else:
            figure = axes.get_figure()
        grid_a, grid_b = np.meshgrid(self.alphas, self.betas)
        axes.plot_surface(grid_a, grid_b, self.losses, cmap="viridis", linewidth=0, antialiased=True)
        axes.set_xlabel("α (direction δ)")
        axes.set_ylabel("β (direction η)")
        axes.set_zlabel("loss")
        axes.set_title(title)
        return figure


def nonconvex_fraction(result: SurfaceResult) -> float:
    r"""The share of interior grid points where the 2-D surface has negative curvature.

    At each interior point the Hessian of f(α, β) is approximated by central second
    differences on the grid (f_αα, f_ββ, f_αβ); a point counts as non-convex when that 2 x 2
    matrix has a negative eigenvalue, i.e. f_αα + f_ββ < 0 or f_αα f_ββ − f_αβ² < 0. A convex
    bowl gives 0; Li et al. (2018) map |λ_min/λ_max| of the full Hessian instead, which costs
    far more.

    Curvature at rounding level is ignored: a second difference counts as negative only beyond
    10⁻⁹ times the largest |f| of that point's 3 x 3 stencil (at least 1). The scale is local,
    so that a surface whose rim reaches 10⁹ (a deep network far from its minimum) still shows
    the curvature of its basin.
    """
    f = np.asarray(result.losses, dtype=np.float64)
    if f.shape[0] < 3 or f.shape[1] < 3:
        raise ValueError(f"nonconvex_fraction: the grid needs at least 3 x 3 points; got {f.shape}")
    da = float(result.alphas[1] - result.alphas[0])
    db = float(result.betas[1] - result.betas[0])
    faa = (f[1:-1, 2:] - 2 * f[1:-1, 1:-1] + f[1:-1, :-2]) / da ** 2
    fbb = (f[2:, 1:-1] - 2 * f[1:-1, 1:-1] + f[:-2, 1:-1]) / db ** 2
    fab = (f[2:, 2:] - f[2:, :-2] - f[:-2, 2:] + f[:-2, :-2]) / (4 * da * db)
    stencil = np.lib.stride_tricks.sliding_window_view(np.abs(f), (3, 3))
    scale = 1e-9 * np.maximum(1.0, stencil.max(axis=(2, 3)))  # ignore rounding-level curvature, point by point
    trace, determinant = faa + fbb, faa * fbb - fab ** 2
    nonconvex = (trace < -scale / da ** 2) | (determinant < -(scale / (da * db)) ** 2)
    return float(np.mean(nonconvex))


# =========================================================================== evaluation

def line(model, loss_fn, data, direction=None, *, to=None, steps: int = 51, span=None,
         normalization: str = "filter", seed: int = 0, batch_size: int | None = None) -> LineResult:
    r"""The loss along a line through the model's weights θ: f(α) = L(θ + α δ).

    Args:
        model: a ``chainrule.nn.Module`` (its parameters are θ).
        loss_fn: ``loss_fn(model(X), y)`` returning a mean loss (``nn.MSELoss()``, …).
        data: an ``(X, y)`` pair of tensors or arrays (arrays of floats are converted to the
            parameters' dtype).
        direction: None (a random direction, :func:`random_direction` with
            ``normalization`` and ``seed``), a dict ``{name: array}`` or a list of arrays in
            parameter order, or ``("to", other)``, the same as ``to=other``.
        to: another solution (a Module of the same architecture, its ``state_dict()``, or a
            list of arrays): δ = θ_other − θ, so α = 0 is this model and α = 1 the other
            (linear interpolation between two solutions, Goodfellow et al. 2015).
        steps: the number of grid points (≥ 2).
        span: (α_min, α_max); default (−1, 1) for a random direction, (−0.5, 1.5) for ``to``.
        batch_size: evaluate in batches of this many rows (the loss is then the
            batch-size-weighted mean of the batch means); default all rows at once.

    The weights are restored exactly afterwards (and on error).
    """
    if isinstance(direction, tuple) and len(direction) == 2 and direction[0] == "to":
        if to is not None:
            raise ValueError("line: pass the other solution once, as direction=('to', other) or to=other")
        direction, to = None, direction[1]
    evaluator = _Evaluator(model, loss_fn, data, batch_size, "line")
    if to is not None:
        if direction is not None:
            raise ValueError("line: give either direction= or to=, not both")
        delta = evaluator.difference_to(to)
        kind, default_span = "interpolation", (-0.5, 1.5)
    else:
        delta = evaluator.direction(direction, normalization, seed, "direction")
        kind, default_span = "random", (-1.0, 1.0)
    alphas = _grid(span if span is not None else default_span, steps, "span", "line")
    losses = evaluator.evaluate([(a, 0.0) for a in alphas], delta, None)
    return LineResult(alphas, losses, delta, kind)


def surface(model, loss_fn, data, directions=2, *, steps=21, span=(-1.0, 1.0),
            normalization: str = "filter", seed: int = 0, batch_size: int | None = None) -> SurfaceResult:
    r"""The loss on a 2-D grid around θ: f(α, β) = L(θ + α δ + β η).

    Args:
        model, loss_fn, data, batch_size: as for :func:`line`.
        directions: 2 (two random directions from :func:`random_direction` with seeds
            ``seed`` and ``seed + 1`` and the given ``normalization``), or a pair (δ, η) of
            dicts or lists of arrays.
        steps: grid points per axis: an int or (n_α, n_β), each ≥ 2.
        span: (lo, hi) for both axes, or ((α_lo, α_hi), (β_lo, β_hi)).

    Evaluated without recording gradients, in evaluation mode; the weights are restored
    exactly afterwards. Returns a :class:`SurfaceResult`.
    """
    evaluator = _Evaluator(model, loss_fn, data, batch_size, "surface")
    if isinstance(directions, int) and not isinstance(directions, bool):
        if directions != 2:
            raise ValueError("surface: directions must be 2 (two random directions) or a pair of directions; got "
                             f"{directions}")
        pair = (evaluator.direction(None, normalization, seed, "directions[0]"),
                evaluator.direction(None, normalization, seed + 1, "directions[1]"))
    elif isinstance(directions, (tuple, list)) and len(directions) == 2:
        pair = (evaluator.direction(directions[0], normalization, seed, "directions[0]"),
                evaluator.direction(directions[1], normalization, seed + 1, "directions[1]"))
    else:
        raise TypeError("surface: directions must be 2 or a pair (δ, η) of directions; got "
                        f"{type(directions).__name__}")
    n_alpha, n_beta = (steps, steps) if not isinstance(steps, (tuple, list)) else tuple(steps)
    span_a, span_b = (span, span) if _is_pair_of_numbers(span) else tuple(span)
    alphas = _grid(span_a, n_alpha, "span", "surface")
    betas = _grid(span_b, n_beta, "span", "surface")
    points = [(a, b) for b in betas for a in alphas]
    losses = evaluator.evaluate(points, pair[0], pair[1]).reshape(len(betas), len(alphas))
    return SurfaceResult(alphas, betas, losses, pair)


class _Evaluator:
    """Holds the model, the loss and the data; evaluates L(θ + a δ + b η) and restores θ."""

    def __init__(self, model, loss_fn, data, batch_size, where):
        self.named = _named_parameters(model, where)
        if not callable(loss_fn):
            raise TypeError(f"{where}: loss_fn must be callable as loss_fn(outputs, target); got "
                            f"{type(loss_fn).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise ValueError(f"{where}: batch_size must be a positive int or None; got {batch_size!r}")
        self.model, self.loss_fn, self.batch_size, self.where = model, loss_fn, batch_size, where
        dtype = self.named[0][1].data.dtype
        self.X, self.y = _as_data(data, dtype, where)

    def direction(self, given, normalization, seed, argument):
        if given is None:
            return random_direction(self.model, normalization, seed)
        return self._as_direction(given, argument)

    def difference_to(self, other):
        if hasattr(other, "state_dict") and hasattr(other, "named_parameters"):
            other = dict((name, p.numpy()) for name, p in other.named_parameters())
        target = self._as_direction(other, "to")
        return {name: target[name].astype(np.float64) - np.asarray(p.numpy(), dtype=np.float64)
                for name, p in self.named}

    def evaluate(self, points, delta, eta):
        saved = [p.data.copy() for _, p in self.named]
        base = [np.asarray(backend.to_host(s), dtype=np.float64) for s in saved]
        devices = [backend.device_of(p.data) for _, p in self.named]
        d1 = [np.asarray(delta[name], dtype=np.float64) for name, _ in self.named]
        d2 = None if eta is None else [np.asarray(eta[name], dtype=np.float64) for name, _ in self.named]
        was_training = self.model.training
        losses = np.empty(len(points))
        try:
            self.model.eval()
            with autograd.no_grad():
                for position, (a, b) in enumerate(points):
                    for index, (_, p) in enumerate(self.named):
                        moved = base[index] + a * d1[index]
                        if d2 is not None:
                            moved = moved + b * d2[index]
                        # in place: parameters may be views of an optimizer's flat buffer
                        p.data[...] = backend.move(moved.astype(p.data.dtype), devices[index])
                        bump_version(p)  # an in-place write: graphs that saved p see it
                    losses[position] = self._loss()
        finally:
            for (_, p), original in zip(self.named, saved):
                p.data[...] = original
                bump_version(p)  # an in-place write: graphs that saved p see it
            self.model.train(was_training)
        return losses

    def _loss(self) -> float:
        n = self.X.shape[0]
        size = n if self.batch_size is None else self.batch_size
        total = 0.0
        for start in range(0, n, size):
            stop = min(start + size, n)
            value = self.loss_fn(self.model(self.X[start:stop]), self.y[start:stop])
            if not isinstance(value, Tensor) or value.numel() != 1:
                raise TypeError(f"{self.where}: loss_fn must return a one-element tensor (a mean loss); got "
                                f"{value!r:.80}")
            total += float(value.item()) * (stop - start)
        return total / n

    def _as_direction(self, given, argument):
        names = [name for name, _ in self.named]
        if isinstance(given, dict):
            missing = [name for name in names if name not in given]
            if missing:
                raise ValueError(f"{self.where}: {argument} lacks entries for parameter(s) {missing}")
            values = {name: given[name] for name in names}
        elif isinstance(given, (list, tuple)):
            if len(given) != len(names):
                raise ValueError(f"{self.where}: {argument} has {len(given)} arrays; the model has {len(names)} "
                                 "parameters")
            values = dict(zip(names, given))
        else:
            raise TypeError(f"{self.where}: {argument} must be a dict {{name: array}} or a list of arrays; got "
                            f"{type(given).__name__}")
        result = {}
        for name, p in self.named:
            value = values[name]
            array = np.asarray(value.numpy() if isinstance(value, Tensor) else value, dtype=np.float64)
            if array.shape != tuple(p.shape):
                raise ValueError(f"{self.where}: {argument}[{name!r}] has shape {array.shape}; the parameter has "
                                 f"{tuple(p.shape)}")
            result[name] = array
        return result


# =========================================================================== helpers

def _named_parameters(model, where):
    if not hasattr(model, "named_parameters") or not callable(model):
        raise TypeError(f"{where}: model must be an nn.Module; got {type(model).__name__}")
    named = list(model.named_parameters())
    if not named:
        raise ValueError(f"{where}: the model has no parameters")
    return named


def _as_data(data, dtype, where):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{where}: data must be an (X, y) pair of tensors or arrays; got {type(data).__name__}")
    X, y = (_as_tensor(part, dtype) for part in data)
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"{where}: X and y must have the same, non-zero number of rows; got {X.shape[0]} and "
                         f"{y.shape[0]}")
    return X, y


def _as_tensor(value, dtype):
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return tensor(array.astype(dtype))
    return tensor(array)


def _grid(span, steps, argument, where):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"{where}: steps must be an int >= 2 (grid points per axis); got {steps!r}")
    if not _is_pair_of_numbers(span) or not span[0] < span[1]:
        raise ValueError(f"{where}: {argument} must be (lo, hi) with lo < hi; got {span!r}")
    if not all(math.isfinite(float(v)) for v in span):
        raise ValueError(f"{where}: {argument} must be finite; got {span!r}")
    return np.linspace(float(span[0]), float(span[1]), steps)


def _is_pair_of_numbers(value):
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) for v in value))


def _contour_levels(losses):
    """30 contour levels: evenly spaced, or evenly spaced in log when the losses span more
    than two orders of magnitude (a deep net's surface far from the minimum), so the basin
    around the trained weights keeps its detail."""
    low, high = float(np.min(losses)), float(np.max(losses))
    if low > 0 and high / low > 100:
        from matplotlib.colors import LogNorm  # noqa: PLC0415

        return np.geomspace(low, high, 30), LogNorm(vmin=low, vmax=high)
    if high == low:
        high = low + 1e-12 * max(1.0, abs(low))
    return np.linspace(low, high, 30), None


def _figure_and_axes(axes):
    if axes is not None:
        return axes.get_figure(), axes
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(6.4, 5.0), layout="constrained")
    return figure, figure.add_subplot()


def __getattr__(name):
    """``landscape.skip_connection_study`` and ``landscape.SkipConnectionStudy`` (also as
    ``chainrule.landscape.…``): the study lives in :mod:`chainrule.theory.skip_study`, which
    builds on this module, so it is looked up on first use rather than imported here."""
    if name in ("skip_connection_study", "SkipConnectionStudy", "STUDY_SIZES"):
        import importlib  # noqa: PLC0415 - by name: an import statement would make a cycle

        return getattr(importlib.import_module("chainrule.theory.skip_study"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
