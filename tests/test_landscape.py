"""chainrule.landscape: filter-normalized directions, exact restoration of the weights, the
exact quadratic surface of linear regression, interpolation, plots; filter normalization of
convolution kernels and evaluation of a ResNet in evaluation mode (the skip-connection study
itself: tests/test_landscape_study.py)."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import landscape, models, nn, optim


def _regression(n=50, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (X @ rng.standard_normal(p) + 0.3 * rng.standard_normal(n))[:, None]
    cr.manual_seed(seed)
    return nn.Linear(p, 1, dtype=cr.float64), X, y


def _mlp(batchnorm=False):
    cr.manual_seed(1)
    return nn.MLP([4, 8, 8, 3], batchnorm=batchnorm, dtype=cr.float64)


def _classification(n=40):
    rng = np.random.default_rng(2)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


# ------------------------------------------------------------------ directions

def test_filter_normalization_matches_each_filter_norm_and_zeroes_biases_and_batchnorm():
    model = _mlp(batchnorm=True)
    direction = landscape.random_direction(model, "filter", seed=3)
    params = dict(model.named_parameters())
    assert list(direction) == list(params)
    for name, p in params.items():
        d, w = direction[name], p.numpy()
        if w.ndim == 1:  # biases and BatchNorm weight/bias
            assert np.all(d == 0), name
        else:
            np.testing.assert_allclose(np.linalg.norm(d, axis=1), np.linalg.norm(w, axis=1), rtol=1e-12)


def test_layer_and_no_normalization():
    model = _mlp()
    layer = landscape.random_direction(model, "layer", seed=5, ignore_bias_and_bn=False)
    raw = landscape.random_direction(model, "none", seed=5, ignore_bias_and_bn=False)
    rng = np.random.default_rng(5)  # the draw order is named_parameters()
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(raw[name], rng.standard_normal(p.shape))
        assert np.linalg.norm(layer[name]) == pytest.approx(np.linalg.norm(p.numpy()), rel=1e-12)
        np.testing.assert_allclose(layer[name] / np.linalg.norm(layer[name]), raw[name] / np.linalg.norm(raw[name]))


def test_directions_are_reproducible_from_the_seed():
    model = _mlp()
    first, again = (landscape.random_direction(model, seed=9) for _ in range(2))
    other = landscape.random_direction(model, seed=10)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["layers.0.weight"], other["layers.0.weight"])


# ------------------------------------------------------------------ exactness

def test_linear_regression_surface_is_the_exact_quadratic():
    model, X, y = _regression()
    rng = np.random.default_rng(7)
    d1 = {"weight": rng.standard_normal((1, 3)), "bias": rng.standard_normal(1)}
    d2 = {"weight": rng.standard_normal((1, 3)), "bias": rng.standard_normal(1)}
    result = landscape.surface(model, nn.MSELoss(), (X, y), directions=(d1, d2), steps=(7, 5), span=((-2, 1), (-1, 3)))
    W, b = model.weight.numpy().copy(), model.bias.numpy().copy()
    r0 = X @ W.T + b - y
    r1 = X @ d1["weight"].T + d1["bias"]
    r2 = X @ d2["weight"].T + d2["bias"]
    A, B = np.meshgrid(result.alphas, result.betas)
    # mean((r0 + a r1 + b r2)^2) expanded: a quadratic in (a, b) with these coefficients
    c = {name: np.mean(u * v) for name, (u, v) in {
        "00": (r0, r0), "01": (r0, r1), "02": (r0, r2), "11": (r1, r1), "12": (r1, r2), "22": (r2, r2)}.items()}
    analytic = c["00"] + 2 * A * c["01"] + 2 * B * c["02"] + A ** 2 * c["11"] + 2 * A * B * c["12"] + B ** 2 * c["22"]
    assert result.losses.shape == (5, 7)
    np.testing.assert_allclose(result.losses, analytic, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(result.alphas, np.linspace(-2, 1, 7))


def test_random_filter_normalized_surface_of_linear_regression_is_quadratic():
    model, X, y = _regression(seed=4)
    result = landscape.surface(model, nn.MSELoss(), (X, y), steps=9, seed=11)
    d1, d2 = result.directions
    r0 = X @ model.weight.numpy().T + model.bias.numpy() - y
    r1, r2 = X @ d1["weight"].T, X @ d2["weight"].T  # biases have zero direction
    A, B = np.meshgrid(result.alphas, result.betas)
    analytic = np.mean((r0[None, None] + A[..., None, None] * r1 + B[..., None, None] * r2) ** 2, axis=(2, 3))
    np.testing.assert_allclose(result.losses, analytic, rtol=0, atol=1e-10)
    assert result.nonconvex_fraction() == 0.0


def test_weights_grads_and_mode_are_restored_exactly_even_on_error():
    model = _mlp(batchnorm=True)
    X, y = _classification()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    buffers = {name: b.data.copy() for name, b in model.named_buffers()}
    landscape.surface(model, nn.CrossEntropyLoss(), (X, y), steps=3)
    landscape.line(model, nn.CrossEntropyLoss(), (X, y), steps=4)
    calls = []

    def failing_loss(outputs, target):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return nn.CrossEntropyLoss()(outputs, target)

    with pytest.raises(RuntimeError, match="boom"):
        landscape.line(model, failing_loss, (X, y), steps=5)
    assert model.training is True
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])
        assert p.grad is None
    for name, b in model.named_buffers():
        np.testing.assert_array_equal(b.data, buffers[name])


def test_interpolation_between_two_solutions_hits_both_ends():
    model, X, y = _regression(seed=0)
    other, _, _ = _regression(seed=5)
    result = landscape.line(model, nn.MSELoss(), (X, y), to=other, steps=5, span=(0.0, 1.0))
    same = landscape.line(model, nn.MSELoss(), (X, y), direction=("to", other.state_dict()), steps=5, span=(0.0, 1.0))
    assert result.kind == "interpolation"
    mse = lambda m: np.mean((X @ m.weight.numpy().T + m.bias.numpy() - y) ** 2)  # noqa: E731
    assert result.losses[0] == pytest.approx(mse(model), rel=1e-12)
    assert result.losses[-1] == pytest.approx(mse(other), rel=1e-12)
    np.testing.assert_array_equal(result.losses, same.losses)
    assert landscape.line(model, nn.MSELoss(), (X, y), to=other, steps=3).alphas.tolist() == [-0.5, 0.5, 1.5]


def test_batched_evaluation_equals_full_batch():
    model = _mlp()
    X, y = _classification(n=37)
    full = landscape.line(model, nn.CrossEntropyLoss(), (X, y), steps=4, seed=1)
    batched = landscape.line(model, nn.CrossEntropyLoss(), (X, y), steps=4, seed=1, batch_size=10)
    np.testing.assert_allclose(batched.losses, full.losses, rtol=1e-12)


@pytest.mark.parametrize("f, expected", [
    (lambda a, b: a ** 2 + 0.5 * a * b + b ** 2, 0.0),   # convex bowl
    (lambda a, b: a ** 2 - b ** 2, 1.0),                 # saddle everywhere
])
def test_nonconvex_fraction(f, expected):
    alphas = betas = np.linspace(-1, 1, 9)
    A, B = np.meshgrid(alphas, betas)
    result = landscape.SurfaceResult(alphas, betas, f(A, B), ({}, {}))
    assert landscape.nonconvex_fraction(result) == expected


def test_nonconvex_fraction_sees_the_basin_of_a_surface_with_a_huge_rim():
    alphas = betas = np.linspace(-1, 1, 9)
    A, B = np.meshgrid(alphas, betas)
    saddle = A ** 2 - B ** 2
    saddle[0, 0] = 1e12  # one exploded corner: rounding there is far above the basin's curvature
    result = landscape.SurfaceResult(alphas, betas, saddle, ({}, {}))
    assert landscape.nonconvex_fraction(result) >= 48 / 49  # every point but the corner's neighbour


@pytest.mark.parametrize("kwargs, match", [
    ({"normalization": "unit"}, "normalization must be one of"),
    ({"steps": 1}, "steps must be an int >= 2"),
    ({"span": (1.0, -1.0)}, "lo < hi"),
    ({"direction": {"weight": np.zeros((2, 2)), "bias": np.zeros(1)}}, "shape"),
    ({"direction": {"weight": np.zeros((1, 3))}}, "lacks entries"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_arguments_are_named(kwargs, match):
    model, X, y = _regression()
    with pytest.raises((TypeError, ValueError), match=match):
        landscape.line(model, nn.MSELoss(), (X, y), **kwargs)


# ------------------------------------------------------------------ plots and the study

def test_figures_have_labels():
    model, X, y = _regression()
    line_figure = landscape.line(model, nn.MSELoss(), (X, y), steps=5).figure()
    result = landscape.surface(model, nn.MSELoss(), (X, y), steps=5)
    contour, surface3d = result.figure_contour(), result.figure_surface()
    assert all(isinstance(f, Figure) for f in (line_figure, contour, surface3d))
    assert "α" in line_figure.axes[0].get_xlabel() and "loss" in line_figure.axes[0].get_ylabel()
    assert "β" in contour.axes[0].get_ylabel() and len(contour.axes) == 2  # plot and colorbar
    assert surface3d.axes[0].name == "3d" and surface3d.axes[0].get_zlabel() == "loss"


# ------------------------------------------------------------------ convolutional networks

def _small_resnet(skip=True):
    cr.manual_seed(4)
    return models.resnet(8, (2, 3, 4), skip=skip, in_channels=1, num_classes=3)


def test_filter_normalization_of_conv_kernels_is_per_output_channel():
    model = _small_resnet()
    direction = landscape.random_direction(model, "filter", seed=6)
    rng = np.random.default_rng(6)  # the draw order is named_parameters(), one draw per parameter
    kernels = 0
    for name, p in model.named_parameters():
        raw, w = rng.standard_normal(p.shape), p.numpy().astype(np.float64)
        expected = np.zeros_like(raw)
        if w.ndim >= 2:  # a kernel (out, in, kh, kw) or the head (out, in): one filter per output
            for i in range(w.shape[0]):
                expected[i] = raw[i] / np.sqrt(np.sum(raw[i] ** 2)) * np.sqrt(np.sum(w[i] ** 2))
        assert direction[name].dtype == p.numpy().dtype
        np.testing.assert_allclose(direction[name], expected.astype(np.float32), rtol=1e-6, atol=0, err_msg=name)
        kernels += w.ndim == 4
    assert kernels == 7 + 2  # 7 3x3 convolutions and 2 1x1 projection shortcuts (option B)
    kernel = direction["layer2.0.conv1.weight"]
    weights = model.layer2[0].conv1.weight.numpy()
    assert kernel.shape == (3, 2, 3, 3)
    np.testing.assert_allclose(np.linalg.norm(kernel.reshape(3, -1), axis=1),
                               np.linalg.norm(weights.reshape(3, -1), axis=1), rtol=1e-6)
    # not per (out, in) slice: those norms do not match the weights'
    assert not np.allclose(np.linalg.norm(kernel, axis=(2, 3)), np.linalg.norm(weights, axis=(2, 3)), rtol=1e-3)


def test_batchnorm_parameters_get_a_zero_direction_in_a_resnet():
    model = _small_resnet()
    direction = landscape.random_direction(model, "filter", seed=2)
    batchnorm = [name for name, module in model.named_modules() if isinstance(module, nn.BatchNorm2d)]
    assert len(batchnorm) == 1 + 2 * 3 + 2  # stem, two per block, two shortcuts
    for prefix in batchnorm:
        for suffix in ("weight", "bias"):
            assert np.all(direction[f"{prefix}.{suffix}"] == 0)
    assert np.all(direction["fc.bias"] == 0) and np.any(direction["fc.weight"] != 0)


def test_resnet_surface_is_evaluated_in_eval_mode_and_leaves_everything_as_it_was():
    model = _small_resnet(skip=False)
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.standard_normal((24, 1, 8, 8)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 3, 24))
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):  # running statistics now differ from the batch's own
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(X), y).backward()
        opt.step()
    parameters = {name: p.data.copy() for name, p in model.named_parameters()}
    buffers = {name: b.data.copy() for name, b in model.named_buffers()}
    result = landscape.surface(model, nn.CrossEntropyLoss(), (X, y), steps=3, seed=1)
    assert model.training
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, parameters[name])
    for name, b in model.named_buffers():
        np.testing.assert_array_equal(b.data, buffers[name])
    with cr.no_grad():
        model.eval()
        eval_mode = float(nn.CrossEntropyLoss()(model(X), y).item())
        model.train()
        train_mode = float(nn.CrossEntropyLoss()(model(X), y).item())  # batch statistics
    assert result.losses[1, 1] == eval_mode != pytest.approx(train_mode, rel=1e-3)
