r"""Loss landscapes of convolutional ResNets with and without skip connections.

Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of Neural Nets"
(NeurIPS 2018), Fig. 1 and Fig. 5, train the CIFAR ResNets of He et al. (2016) of depth
20, 56 and 110 and the same networks without the shortcuts ("ResNet-56-noshort"), and
draw the training loss on the plane through each trained minimum θ spanned by two
filter-normalized random directions δ, η (:mod:`chainrule.theory.landscape`)::

    f(α, β) = L(θ + α δ + β η),   α, β ∈ [−1, 1]

They find that without skip connections the surface turns chaotic as the network gets
deeper (ResNet-20-noshort still looks convex, 56 and 110 do not), while the residual
networks' surfaces stay smooth, nearly convex bowls at every depth.

:func:`skip_connection_study` repeats that comparison on the bundled digits, as 1×8×8
images scaled to [0, 1]: for each depth, :func:`chainrule.models.resnet` with
``skip=True`` and its plain twin (``skip=False``, the same blocks y = relu(F(x)) without
the shortcut) are trained alike — SGD with momentum 0.9 and weight decay 5·10⁻⁴ (the
paper's recipe), learning rate cosine-annealed from ``lr`` to 0, cross-entropy, from the
same seed — on 80% of the images; the held-out 20% give the accuracy. Each surface is
evaluated in evaluation mode (batch normalization on its running statistics) on the
first ``eval_rows`` training images; the directions are filter-normalized per output
channel of every convolution kernel (out, in, kh, kw) and per row of the linear head,
with zero direction for BatchNorm parameters, as in the paper. The non-convex share of
each surface is :func:`chainrule.theory.landscape.nonconvex_fraction`: the share of
interior grid points where the 2 × 2 Hessian of f(α, β), from second differences, has a
negative eigenvalue (the paper maps |λ_min/λ_max| of the full Hessian instead).

Sizes (``size=``; any setting can be overridden)::

    size      depths        widths       epochs  grid      eval rows  measured on 2 shared cores
    quick     8, 20         4, 8, 16     3       7 x 7     128        6 to 12 s
    default   8, 20, 56     4, 8, 16     10      15 x 15   256        60 to 145 s (55 s of CPU)
    full      20, 56, 110   8, 16, 32    20      31 x 31   500        52 minutes (22 of CPU), once

What it found (chapter 8 of the guide has the tables and figures): at the default size the
plain networks of depth 20 and 56 have far larger non-convex shares than their residual twins
(0.39 against 0.17 and 0.79 against 0.24 with seed 0; seeds 1 and 2 alike), at depth 8 the
two are alike. At the full size the plain networks of depth 56 and 110 do not train in 20
epochs; their basins shrink to slivers in a sea of exploding loss, and the share's ordering
holds at depths 20 and 110 but not at 56, where the sea's convex growth dominates the grid.

The times were measured on 2026-12-06 on a 2-core machine shared with other jobs (load 3 to
8), so the wall time depends on the load more than on the study. The networks are small (the
widths are a quarter and a half of He et al.'s 16, 32, 64) and their matrices too: BLAS runs
on one thread during the study (``blas_threads=1``, through ``threadpoolctl`` when it is
installed), which on that machine was 3 to 8 times faster than BLAS's own threads.

References: H. Li, Z. Xu, G. Taylor, C. Studer and T. Goldstein, NeurIPS 2018; K. He,
X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition", CVPR 2016.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from .. import nn, optim
from ..data import train_test_split
from ..engine import autograd
from ..engine.backend import host as np
from ..engine.random import manual_seed
from ..engine.tensor import Tensor, tensor
from ..models import resnet
from ..train import Trainer
from .landscape import SurfaceResult, nonconvex_fraction, surface

__all__ = ["STUDY_SIZES", "StudyRun", "SkipConnectionStudy", "skip_connection_study", "train_network"]

#: The settings of each ``size`` of :func:`skip_connection_study`.
STUDY_SIZES = {
    "quick": {"depths": (8, 20), "widths": (4, 8, 16), "epochs": 3, "steps": 7, "eval_rows": 128},
    "default": {"depths": (8, 20, 56), "widths": (4, 8, 16), "epochs": 10, "steps": 15, "eval_rows": 256},
    "full": {"depths": (20, 56, 110), "widths": (8, 16, 32), "epochs": 20, "steps": 31, "eval_rows": 500},
}
#: Settings shared by every size (Li et al.'s optimizer: SGD, momentum 0.9, weight decay 5e-4).
STUDY_COMMON = {"batch_size": 64, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "span": (-1.0, 1.0),
                "test_size": 0.2}

# Contours above this loss share the top colour (cross-entropy of 10 classes is 2.3 at chance).
LOSS_CAP = 100.0


# =========================================================================== results

@dataclass
class StudyRun:
    """One trained network of the study and its surface.

    Attributes: ``depth``, ``skip`` (True: residual), ``surface`` (:class:`SurfaceResult`),
    ``train_loss`` (mean training loss of the last epoch), ``test_accuracy`` (on the held-out
    images), ``nonconvex`` (:func:`nonconvex_fraction` of the surface), ``seconds`` (training
    and surface), ``model`` (the trained network, its weights as training left them).
    """

    depth: int
    skip: bool
    surface: SurfaceResult = field(repr=False)
    train_loss: float
    test_accuracy: float
    nonconvex: float
    seconds: float
    model: object = field(repr=False, compare=False, default=None)

    @property
    def network(self) -> str:
        return "residual" if self.skip else "plain"


@dataclass
class SkipConnectionStudy:
    """Plain and residual ResNets of several depths, and their loss surfaces.

    Attributes: ``runs`` (:class:`StudyRun`, by depth, plain before residual), ``settings``.
    """

    runs: list
    settings: dict

    @property
    def depths(self) -> tuple:
        return tuple(dict.fromkeys(run.depth for run in self.runs))

    def run(self, depth: int, skip: bool) -> StudyRun:
        """The run of the given depth, residual (``skip=True``) or plain."""
        for run in self.runs:
            if run.depth == depth and run.skip == skip:
                return run
        raise KeyError(f"SkipConnectionStudy: no run of depth {depth} with skip={skip}; depths {self.depths}")

    def table(self) -> list:
        """One row per network: depth, network, final training loss, held-out accuracy,
        non-convex share, surface minimum and maximum, seconds."""
        return [{"depth": run.depth, "network": run.network, "train_loss": run.train_loss,
                 "test_accuracy": run.test_accuracy, "nonconvex_fraction": run.nonconvex,
                 "surface_min": float(np.min(run.surface.losses)),
                 "surface_max": float(np.max(run.surface.losses)), "seconds": run.seconds}
                for run in self.runs]

    def figure(self):
        """Filled contours of every surface: rows plain / residual, columns the depths, one
        logarithmic colour scale for all (losses above :data:`LOSS_CAP` in the top colour)."""
        from matplotlib.colors import LogNorm  # noqa: PLC0415 - plotting is optional
        from matplotlib.figure import Figure  # noqa: PLC0415

        depths = self.depths
        figure = Figure(figsize=(3.3 * len(depths) + 1.2, 6.4), layout="constrained")
        grid = figure.subplots(2, len(depths), sharex=True, sharey=True, squeeze=False)
        low = max(min(float(np.min(run.surface.losses)) for run in self.runs), 1e-6)
        high = max(min(max(float(np.max(run.surface.losses)) for run in self.runs), LOSS_CAP), low * 10)
        levels = np.geomspace(low, high, 31)
        for row, skip in enumerate((False, True)):
            for column, depth in enumerate(depths):
                run, axes = self.run(depth, skip), grid[row][column]
                a, b = np.meshgrid(run.surface.alphas, run.surface.betas)
                values = np.clip(run.surface.losses, low, high)
                filled = axes.contourf(a, b, values, levels=levels, norm=LogNorm(low, high), cmap="viridis")
                axes.contour(a, b, values, levels=levels[::2], colors="white", linewidths=0.3)
                axes.plot([0.0], [0.0], marker="*", color="red", markersize=9, linestyle="none")
                axes.set_title(f"{run.network}, depth {depth}\nnon-convex share {run.nonconvex:.2f}", fontsize=10)
                if row == 1:
                    axes.set_xlabel("α (direction δ)")
                if column == 0:
                    axes.set_ylabel("β (direction η)")
        figure.colorbar(filled, ax=grid, label=f"training loss (cross-entropy; ≥ {high:.3g} in the top colour)",
                        format="%.3g")
        return figure

    def figure_surface(self, depth: int | None = None):
        """3-D surfaces, plain beside residual, of one depth (default the deepest), as Li et
        al.'s Fig. 1; the height is log10 of the loss."""
        from matplotlib.figure import Figure  # noqa: PLC0415

        depth = self.depths[-1] if depth is None else depth
        figure = Figure(figsize=(11.0, 4.8), layout="constrained")
        for position, skip in enumerate((False, True), start=1):
            run = self.run(depth, skip)
            axes = figure.add_subplot(1, 2, position, projection="3d")
            a, b = np.meshgrid(run.surface.alphas, run.surface.betas)
            axes.plot_surface(a, b, np.log10(run.surface.losses), cmap="viridis", linewidth=0, antialiased=True)
            axes.set(xlabel="α (direction δ)", ylabel="β (direction η)", zlabel="log10 loss",
                     title=f"{run.network}, depth {depth}")
        return figure


# =========================================================================== the study

def skip_connection_study(depths=None, widths=None, data=None, *, size: str = "default", epochs=None,
                          batch_size=None, lr=None, steps=None, span=None, eval_rows=None, seed: int = 0,
                          blas_threads: int | None = 1, progress=None) -> SkipConnectionStudy:
    r"""Train plain and residual ResNets of each depth and draw their loss surfaces.

    Args:
        depths: network depths 6n + 2 (8, 14, 20, 56, 110 …); default from ``size``.
        widths: the three stages' widths; default from ``size``.
        data: an (X, y) pair, X images (n, channels, height, width), y integer labels; or
            None for the bundled digits (1797 images 1×8×8, scaled by 1/16).
        size: "quick", "default" or "full" (:data:`STUDY_SIZES`, see the module docstring).
        epochs, batch_size, lr, steps, span, eval_rows: override the size's settings
            (``steps``: grid points per axis; ``span``: (lo, hi) of both grid axes;
            ``eval_rows``: the training images the surfaces are evaluated on).
        seed: seeds the split, each network's initialization and shuffles, and the
            directions (the same for every network): the study is deterministic.
        blas_threads: BLAS threads during the study (None: leave them as they are).
        progress: called with each :class:`StudyRun` as it finishes.

    Returns a :class:`SkipConnectionStudy` (runs by depth, plain before residual).
    """
    settings = _settings(size, depths=depths, widths=widths, epochs=epochs, batch_size=batch_size, lr=lr,
                         steps=steps, span=span, eval_rows=eval_rows, seed=seed)
    (X_train, X_test, y_train, y_test), source = _split(data, settings["test_size"], seed)
    settings.update(data=source, n_train=int(X_train.shape[0]), n_test=int(X_test.shape[0]),
                    blas_threads=blas_threads)
    classes = int(max(y_train.max(), y_test.max())) + 1
    rows = slice(0, min(settings["eval_rows"], X_train.shape[0]))
    evaluation = (tensor(X_train[rows]), tensor(y_train[rows]))
    runs = []
    with _blas_limit(blas_threads):
        for depth in settings["depths"]:
            for skip in (False, True):
                start = time.perf_counter()
                model, train_loss = train_network(depth, skip, (X_train, y_train), settings, classes=classes)
                accuracy = _accuracy(model, X_test, y_test)
                result = surface(model, nn.CrossEntropyLoss(), evaluation, steps=settings["steps"],
                                 span=settings["span"], seed=seed)
                run = StudyRun(depth, skip, result, train_loss, accuracy, nonconvex_fraction(result),
                               time.perf_counter() - start, model)
                runs.append(run)
                if progress is not None:
                    progress(run)
    return SkipConnectionStudy(runs, settings)


def train_network(depth: int, skip: bool, train, settings: dict, *, classes: int = 10):
    """One network of the study, trained: ``resnet(depth, settings["widths"], skip)`` from
    ``manual_seed(settings["seed"])``, SGD (``lr``, momentum, weight decay of ``settings``)
    with the learning rate cosine-annealed to 0 over ``epochs``, mini-batches of
    ``batch_size``, cross-entropy on ``train`` = (X, y).

    Returns ``(model, final training loss)``; the model is left in training mode.
    """
    X, y = train
    manual_seed(settings["seed"])
    model = resnet(depth, settings["widths"], skip=skip, in_channels=int(X.shape[1]), num_classes=classes)
    optimizer = optim.SGD(model.parameters(), lr=settings["lr"], momentum=settings["momentum"],
                          weight_decay=settings["weight_decay"])
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings["epochs"])
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, scheduler=scheduler, verbose=0)
    history = trainer.fit((tensor(X), tensor(y)), epochs=settings["epochs"], batch_size=settings["batch_size"])
    return model, float(history["train_loss"][-1])


# =========================================================================== helpers

def _settings(size, **given) -> dict:
    if size not in STUDY_SIZES:
        raise ValueError(f"skip_connection_study: size must be one of {', '.join(map(repr, STUDY_SIZES))}; "
                         f"got {size!r}")
    settings = {"size": size, **STUDY_SIZES[size], **STUDY_COMMON}
    settings.update({name: value for name, value in given.items() if value is not None})
    settings["depths"] = tuple(settings["depths"]) if isinstance(settings["depths"], (list, tuple)) else None
    if not settings["depths"] or any(isinstance(d, bool) or not isinstance(d, int) or d < 8 or (d - 2) % 6
                                     for d in settings["depths"]):
        raise ValueError(f"skip_connection_study: depths must be ints 6n + 2 (8, 14, 20, 56, 110 …); got "
                         f"{given['depths']!r}")
    if len(set(settings["depths"])) != len(settings["depths"]):
        raise ValueError(f"skip_connection_study: depths repeat in {settings['depths']}")
    settings["widths"] = tuple(settings["widths"]) if isinstance(settings["widths"], (list, tuple)) else ()
    for name in ("epochs", "batch_size", "steps", "eval_rows"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"skip_connection_study: {name} must be a positive int; got {value!r}")
    if settings["steps"] < 3:
        raise ValueError(f"skip_connection_study: steps must be at least 3 (the non-convex share needs an "
                         f"interior); got {settings['steps']}")
    if isinstance(settings["seed"], bool) or not isinstance(settings["seed"], int) or settings["seed"] < 0:
        raise ValueError(f"skip_connection_study: seed must be a non-negative int; got {settings['seed']!r}")
    settings["span"] = tuple(float(v) for v in settings["span"])
    return settings


def _split(data, test_size, seed):
    if data is None:
        from ..datasets import load_digits  # noqa: PLC0415 - the bundled file is read on demand

        X, y = load_digits(as_images=True)
        X, source = (X / 16.0).astype(np.float32), "digits (1797 images 1x8x8, scaled by 1/16)"
    else:
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise TypeError(f"skip_connection_study: data must be an (X, y) pair or None (digits); got "
                            f"{type(data).__name__}")
        X, y = (np.asarray(part.numpy() if isinstance(part, Tensor) else part) for part in data)
        if X.ndim != 4 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(f"skip_connection_study: data must be images X (n, channels, height, width) and "
                             f"labels y (n,); got shapes {X.shape} and {y.shape}")
        if y.dtype.kind not in "iu" or y.min() < 0:
            raise ValueError(f"skip_connection_study: y must hold non-negative integer class labels; got dtype "
                             f"{y.dtype}")
        X, source = X.astype(np.float32), f"given images {X.shape[1:]}"
    return train_test_split(X, y.astype(np.int64), test_size=test_size, seed=seed), source


def _accuracy(model, X, y) -> float:
    was_training = model.training
    model.eval()
    try:
        with autograd.no_grad():
            predicted = np.asarray(model(tensor(X)).numpy()).argmax(axis=1)
    finally:
        model.train(was_training)
    return float(np.mean(predicted == y))


def _blas_limit(threads):
    if threads is None:
        return contextlib.nullcontext()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"skip_connection_study: blas_threads must be a positive int or None; got {threads!r}")
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional (the fast extra)
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")
