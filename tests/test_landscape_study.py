"""chainrule.theory.skip_study: plain vs residual convolutional ResNets and their loss surfaces.

The study's structure and determinism at a tiny size, the trained weights left bit for bit
as training left them (the surfaces restore them), the sizes and the argument checks, and
the finding itself at a small deterministic setting: a plain ResNet-20 has a markedly larger
non-convex share than its residual twin (4 seeds gave 0.60-0.72 against 0.04-0.20).
"""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from chainrule.data import train_test_split
from chainrule.datasets import load_digits
from chainrule.theory import skip_study

TINY = {"depths": (8,), "widths": (2, 2, 2), "epochs": 1, "steps": 4, "eval_rows": 40}


@pytest.fixture(scope="module")
def images():
    X, y = load_digits(as_images=True)
    return (X[:240] / 16.0).astype(np.float32), y[:240]


@pytest.fixture(scope="module")
def tiny(images):
    seen = []
    study = skip_study.skip_connection_study(data=images, seed=3, progress=seen.append, **TINY)
    return study, seen


def test_structure_table_and_settings(tiny):
    study, seen = tiny
    assert [(run.depth, run.network) for run in study.runs] == [(8, "plain"), (8, "residual")]
    assert seen == study.runs  # progress saw each run as it finished
    assert study.depths == (8,) and study.run(8, True).skip and not study.run(8, False).skip
    rows = study.table()
    assert list(rows[0]) == ["depth", "network", "train_loss", "test_accuracy", "nonconvex_fraction",
                             "surface_min", "surface_max", "seconds"]
    for row, run in zip(rows, study.runs):
        losses = run.surface.losses
        assert losses.shape == (4, 4) and np.isfinite(losses).all()
        np.testing.assert_array_equal(run.surface.alphas, np.linspace(-1, 1, 4))
        assert row["surface_min"] == losses.min() > 0 and row["surface_max"] == losses.max()
        assert 0 <= row["nonconvex_fraction"] <= 1 and 0 <= row["test_accuracy"] <= 1
        assert row["train_loss"] > 0 and row["seconds"] > 0
    settings = study.settings
    assert settings["n_train"] == 192 and settings["n_test"] == 48  # 20% held out
    assert settings["size"] == "default" and settings["widths"] == (2, 2, 2) and settings["batch_size"] == 64
    assert settings["lr"] == 0.1 and settings["momentum"] == 0.9 and settings["weight_decay"] == 5e-4
    with pytest.raises(KeyError, match="depth 20"):
        study.run(20, True)


def test_the_study_is_deterministic(images, tiny):
    study, _ = tiny
    again = skip_study.skip_connection_study(data=images, seed=3, **TINY)
    for first, second in zip(study.runs, again.runs):
        np.testing.assert_array_equal(first.surface.losses, second.surface.losses)
        assert (first.train_loss, first.test_accuracy) == (second.train_loss, second.test_accuracy)
        for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items()):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    other = skip_study.skip_connection_study(data=images, seed=4, **TINY)
    assert not np.array_equal(other.runs[0].surface.losses, study.runs[0].surface.losses)


def test_trained_weights_are_left_bit_for_bit_as_training_left_them(images, tiny):
    study, _ = tiny
    X, y = images
    X_train, _, y_train, _ = train_test_split(X, y.astype(np.int64), test_size=0.2, seed=3)
    for run in study.runs:
        model, loss = skip_study.train_network(run.depth, run.skip, (X_train, y_train), study.settings)
        assert loss == run.train_loss and run.model.training
        trained, kept = model.state_dict(), run.model.state_dict()  # parameters and BatchNorm buffers
        assert list(trained) == list(kept)
        for name in trained:
            assert trained[name].numpy().tobytes() == kept[name].numpy().tobytes(), name


def test_figures(tiny):
    study, _ = tiny
    grid = study.figure()
    assert isinstance(grid, Figure) and len(grid.axes) == 2 + 1  # two panels and the shared colorbar
    titles = [axes.get_title() for axes in grid.axes[:2]]
    assert titles[0].startswith("plain, depth 8") and titles[1].startswith("residual, depth 8")
    assert "non-convex share" in titles[0]
    three_d = study.figure_surface()
    assert [axes.name for axes in three_d.axes] == ["3d", "3d"] and three_d.axes[0].get_zlabel() == "log10 loss"


def test_sizes():
    assert skip_study.STUDY_SIZES["default"]["depths"] == (8, 20, 56)
    assert skip_study.STUDY_SIZES["full"]["depths"] == (20, 56, 110)
    assert skip_study.STUDY_SIZES["full"]["steps"] == 31
    assert skip_study.STUDY_SIZES["quick"]["steps"] == 7


@pytest.mark.parametrize("kwargs, error, match", [
    ({"size": "huge"}, ValueError, "size must be one of"),
    ({"depths": (9,)}, ValueError, r"depths must be ints 6n \+ 2"),
    ({"depths": (8, 8)}, ValueError, "depths repeat"),
    ({"epochs": 0}, ValueError, "epochs must be a positive int"),
    ({"steps": 2}, ValueError, "steps must be at least 3"),
    ({"seed": -1}, ValueError, "seed must be a non-negative int"),
    ({"blas_threads": 0}, ValueError, "blas_threads"),
    ({"data": np.zeros((4, 64))}, TypeError, r"\(X, y\) pair"),
    ({"data": (np.zeros((4, 64)), np.zeros(4, int))}, ValueError, "images X"),
    ({"data": (np.zeros((4, 1, 8, 8)), np.array([0.5, 1, 0, 1]))}, ValueError, "integer class labels"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    arguments = {**TINY, **kwargs}
    with pytest.raises(error, match=match):
        skip_study.skip_connection_study(**arguments)


@pytest.mark.slow  # about 5 s on 2 cores
def test_a_plain_resnet_20_is_markedly_less_convex_than_its_residual_twin():
    study = skip_study.skip_connection_study(size="quick", depths=(20,), seed=0)
    plain, residual = study.run(20, False), study.run(20, True)
    assert plain.nonconvex > residual.nonconvex + 0.3
    assert residual.test_accuracy > 0.9 and residual.train_loss < plain.train_loss


def test_the_study_is_reachable_as_landscape_skip_connection_study():
    import chainrule as cr
    from chainrule.theory import skip_study

    assert cr.landscape.skip_connection_study is skip_study.skip_connection_study
    assert cr.landscape.SkipConnectionStudy is skip_study.SkipConnectionStudy
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        cr.landscape.nothing_here  # noqa: B018
