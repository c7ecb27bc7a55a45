"""Shared fixtures and helpers for the test suite.

* A deterministic hypothesis profile ("ci"): few examples per test, no deadline,
  derandomized so every CI run draws the same cases.
* Strategies for shapes (0 to 3 dims, sizes 1..4, so central differences stay cheap),
  for pairs of mutually broadcastable shapes, and for float64 arrays whose values
  keep clear of the points where an op is not differentiable.
* Helpers that turn a NumPy array into a float64 leaf tensor that requires grad,
  either contiguous or as a NON-contiguous (transposed, strided) view.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule
from chainrule.autograd import gradcheck

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci")

# Tolerances every gradient check in the suite uses (float64 central differences).
GRADCHECK = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}


def check_grad(fn, *inputs) -> None:
    """Assert that ``fn``'s autodiff gradient matches central differences."""
    assert gradcheck(fn, *inputs, **GRADCHECK) is True


# ---------------------------------------------------------------------- shapes

MAX_SIDE = 4


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = MAX_SIDE):
    """Array shapes with ``min_dims``..``max_dims`` dims, each of size ``min_side``..``max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_pairs(min_dims: int = 0, max_dims: int = 3):
    """Pairs of shapes that broadcast together: different ranks, 0-d, size-1 dims."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=MAX_SIDE
    ).map(lambda drawn: drawn.input_shapes)


seeds = st.integers(min_value=0, max_value=2**32 - 1)
layouts = st.sampled_from(["contiguous", "noncontiguous"])


# ---------------------------------------------------------------------- values

def make_values(shape, domain: str = "real", seed: int = 0) -> np.ndarray:
    """Deterministic float64 values of ``shape`` drawn from ``domain``:

    real      uniform on (-2, 2)
    positive  uniform on (0.3, 2): log, sqrt, pow bases
    nonzero   |x| in (0.1, 2) with a random sign: away from the kinks of abs/relu
    distinct  all values at least ~0.3 apart and at least 0.06 from 0 (no ties, no
              kinks): max/min reductions, clamp, relu
    unit      uniform on (-0.8, 0.8)
    grid_a    values near k * 0.4 (k integer) ...
    grid_b    ... and near k * 0.4 + 0.2: a grid_a and a grid_b array differ by at
              least 0.1 everywhere, whatever the broadcasting (maximum/minimum)
    """
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    size = int(np.prod(shape, dtype=np.int64))
    if domain == "real":
        values = rng.uniform(-2.0, 2.0, size)
    elif domain == "positive":
        values = rng.uniform(0.3, 2.0, size)
    elif domain == "nonzero":
        values = rng.choice([-1.0, 1.0], size) * rng.uniform(0.1, 2.0, size)
    elif domain == "distinct":
        centre = (size - 1) / 2
        values = (rng.permutation(size) - centre + 0.25) * 0.37 + rng.uniform(-0.03, 0.03, size)
    elif domain == "unit":
        values = rng.uniform(-0.8, 0.8, size)
    elif domain in ("grid_a", "grid_b"):
        offset = 0.0 if domain == "grid_a" else 0.2
        values = rng.integers(-5, 6, size) * 0.4 + offset + rng.uniform(-0.05, 0.05, size)
    else:  # pragma: no cover - a typo in a test table
        raise ValueError(f"unknown domain {domain!r}")
    return values.reshape(shape)


def avoid(values: np.ndarray, points, margin: float = 0.1) -> np.ndarray:
    """Move values that lie within ``margin`` of any of ``points`` to distance ``margin``."""
    values = np.array(values, dtype=np.float64, copy=True)
    for point in points:
        close = np.abs(values - point) < margin
        direction = np.where(values >= point, 1.0, -1.0)
        values = np.where(close, point + direction * margin, values)
    return values


# ---------------------------------------------------------------------- tensors

def leaf(array, requires_grad: bool = True) -> chainrule.Tensor:
    """A float64 leaf tensor (a contiguous copy of ``array``)."""
    return chainrule.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def noncontiguous_array(array) -> np.ndarray:
    """The values of ``array`` in a NON-contiguous layout: a transposed view of a
    strided (every other element) buffer of the reversed shape.

    Every dimension of size > 1 has a stride that is not the C-contiguous one, so the
    result is not C-contiguous whenever it has more than one element (0-d and
    one-element arrays are contiguous by definition)."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        return array.copy()
    reversed_shape = array.shape[::-1]
    buffer = np.full(tuple(2 * size for size in reversed_shape), np.nan)
    view = buffer[(slice(None, None, 2),) * array.ndim]
    view[...] = array.T
    result = view.T
    assert result.shape == array.shape
    np.testing.assert_array_equal(result, array)
    if array.size > 1:
        assert not result.flags.c_contiguous
    return result


def noncontiguous_leaf(array, requires_grad: bool = True) -> chainrule.Tensor:
    """A float64 leaf whose ``.data`` is a non-contiguous view (no copy is made, so the
    op under test really receives strided memory)."""
    data = noncontiguous_array(array)
    t = chainrule.from_numpy(data)
    if requires_grad:
        t.requires_grad_(True)
    if data.size > 1:
        assert not t.data.flags.c_contiguous
    return t


def make_leaf(array, layout: str = "contiguous", requires_grad: bool = True) -> chainrule.Tensor:
    """A float64 leaf in the given layout ("contiguous" or "noncontiguous")."""
    if layout == "contiguous":
        return leaf(array, requires_grad)
    if layout == "noncontiguous":
        return noncontiguous_leaf(array, requires_grad)
    raise ValueError(f"unknown layout {layout!r}")  # pragma: no cover


@pytest.fixture
def rng():
    """A fresh deterministic NumPy generator."""
    return np.random.default_rng(12345)
