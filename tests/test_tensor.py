"""Tensor creation, attributes, conversions, dtype rules, DLPack, in-place writes, devices.

References are NumPy (values, dtypes, promotion) and the documented API
(PyTorch-style names and messages).
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import DeviceError

HAS_CUPY = importlib.util.find_spec("cupy") is not None


def values(t):
    """The values of a tensor as a fresh NumPy array (independent of the tensor's memory)."""
    return np.array(t.numpy(), copy=True)


# ---------------------------------------------------------------------- creation: tensor()

@pytest.mark.parametrize(
    "data, dtype, shape",
    [
        (3.5, np.float32, ()),
        (3, np.int64, ()),
        (True, np.bool_, ()),
        ([1.0, 2.0, 3.0], np.float32, (3,)),
        ([1, 2.5], np.float32, (2,)),  # any float in the list makes it float
        ([1, 2, 3], np.int64, (3,)),
        ([True, False], np.bool_, (2,)),
        ([[1, 2], [3, 4], [5, 6]], np.int64, (3, 2)),
        ([[[1.0]], [[2.0]]], np.float32, (2, 1, 1)),
        ([], np.float32, (0,)),
        (np.array([1.0, 2.0]), np.float64, (2,)),  # NumPy float64 keeps float64
        (np.array([1.0, 2.0], dtype=np.float32), np.float32, (2,)),
        (np.array([[1, 2]], dtype=np.int64), np.int64, (1, 2)),
        (np.array([True]), np.bool_, (1,)),
        (np.float64(2.5), np.float64, ()),
        (np.float32(2.5), np.float32, ()),
        (np.int64(7), np.int64, ()),
    ],
)
def test_tensor_infers_dtype_and_shape(data, dtype, shape):
    t = cr.tensor(data)
    assert t.dtype == np.dtype(dtype)
    assert t.shape == shape
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=dtype))
    assert t.requires_grad is False and t.grad is None and t.grad_fn is None


def test_tensor_from_tensor_copies_and_keeps_dtype():
    src = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    t = cr.tensor(src)
    assert t.dtype == np.float64
    assert t.requires_grad is False
    t.numpy()[0] = 99.0
    assert src.numpy()[0] == 1.0
    assert not np.shares_memory(t.numpy(), src.numpy())


@pytest.mark.parametrize("make_source", [
    lambda: np.array([1.0, 2.0, 3.0]),
    lambda: np.array([[1, 2], [3, 4]]),
])
def test_tensor_copies_numpy_data(make_source):
    source = make_source()
    before = source.copy()
    t = cr.tensor(source)
    source[...] = 0
    np.testing.assert_array_equal(t.numpy(), before)
    assert not np.shares_memory(t.numpy(), source)


def test_tensor_copies_nested_list_data():
    source = [[1.0, 2.0], [3.0, 4.0]]
    t = cr.tensor(source)
    source[0][0] = 100.0
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize(
    "data, dtype, expected_dtype",
    [
        ([1, 2], cr.float32, np.float32),
        ([1, 2], "float64", np.float64),
        ([1, 2], "double", np.float64),
        ([1.0, 2.0], "float", np.float32),
        ([1.9, -1.9], "long", np.int64),
        ([0, 3], "bool", np.bool_),
        (np.array([1, 2], dtype=np.int32), "int64", np.int64),  # explicit conversion is allowed
        (np.array([1, 2], dtype=np.float16), cr.float32, np.float32),
        (np.array([1.0]), cr.float32, np.float32),
    ],
)
def test_tensor_explicit_dtype(data, dtype, expected_dtype):
    t = cr.tensor(data, dtype=dtype)
    assert t.dtype == np.dtype(expected_dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data).astype(expected_dtype))


@pytest.mark.parametrize(
    "data, named",
    [
        (np.array([1, 2], dtype=np.int32), "int32"),
        (np.array([1, 2], dtype=np.uint8), "uint8"),
        (np.array([1.0], dtype=np.float16), "float16"),
        (np.array([1 + 2j]), "complex128"),
        (np.array(["a", "b"]), "<U1"),
        (np.array([1, None], dtype=object), "object"),
        (np.int32(3), "int32"),
        ([1 + 2j], "complex128"),
        (["a", "b"], "<U1"),
    ],
)
def test_tensor_rejects_unsupported_dtypes_naming_them(data, named):
    with pytest.raises(TypeError, match=named.replace("<", "<?")):
        cr.tensor(data)


def test_tensor_rejects_ragged_lists():
    with pytest.raises(TypeError, match="could not convert"):
        cr.tensor([[1, 2], [3]])


@pytest.mark.parametrize("dtype", ["float16", "int32", "complex64", "f8", np.int32, np.uint8, "cpu"])
def test_invalid_dtype_argument(dtype):
    with pytest.raises(TypeError, match=r"dtype: expected one of float32, float64, int64, bool"):
        cr.tensor([1.0], dtype=dtype)
    with pytest.raises(TypeError, match=r"dtype: expected one of"):
        cr.zeros(2, dtype=dtype)


def test_public_dtypes_are_the_numpy_dtypes():
    assert cr.float32 == np.dtype("float32")
    assert cr.float64 == np.dtype("float64")
    assert cr.int64 == np.dtype("int64")
    assert cr.bool == np.dtype("bool")
    assert cr.bool_ is cr.bool


def test_tensor_constructor_class_matches_factory():
    t = cr.Tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(t, cr.Tensor)
    assert t.dtype == np.float32 and t.requires_grad and t.is_leaf
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


# ---------------------------------------------------------------------- creation: factories

@pytest.mark.parametrize("factory, fill", [(cr.zeros, 0.0), (cr.ones, 1.0), (cr.empty, None)])
@pytest.mark.parametrize("args", [(2, 3), ((2, 3),), ([2, 3],)])
def test_filled_factories_accept_varargs_or_tuple(factory, fill, args):
    t = factory(*args)
    assert t.shape == (2, 3)
    assert t.dtype == np.float32
    if fill is not None:
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), fill, dtype=np.float32))


@pytest.mark.parametrize("factory", [cr.zeros, cr.ones, cr.empty])
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64, cr.int64, cr.bool])
def test_filled_factories_dtype(factory, dtype):
    t = factory(4, dtype=dtype)
    assert t.dtype == dtype and t.shape == (4,)


@pytest.mark.parametrize("factory", [cr.zeros, cr.ones, cr.empty, cr.rand, cr.randn])
def test_factories_scalar_shape_and_requires_grad(factory):
    t = factory((), requires_grad=True)
    assert t.shape == () and t.requires_grad and t.is_leaf


@pytest.mark.parametrize("bad", [(-1,), (2, -3), (2.0,), (True,)])
def test_factories_reject_bad_sizes(bad):
    with pytest.raises(ValueError, match="zeros: size must be non-negative ints"):
        cr.zeros(*bad)


@pytest.mark.parametrize(
    "fill, dtype, expected_dtype",
    [(2.5, None, np.float32), (7, None, np.int64), (True, None, np.bool_), (3, cr.float64, np.float64)],
)
def test_full(fill, dtype, expected_dtype):
    t = cr.full((2, 2), fill, dtype=dtype)
    assert t.dtype == np.dtype(expected_dtype) and t.shape == (2, 2)
    np.testing.assert_array_equal(t.numpy(), np.full((2, 2), fill, dtype=expected_dtype))


def test_full_rejects_non_numbers():
    with pytest.raises(TypeError, match="full: expected a Python bool, int or float; got str"):
        cr.full((2,), "a")


@pytest.mark.parametrize(
    "like_factory, dtype, expected_dtype",
    [
        (lambda: cr.ones(2, 3, dtype=cr.float64), None, np.float64),
        (lambda: cr.ones(2, 3, dtype=cr.int64), None, np.int64),
        (lambda: cr.ones(2, 3), cr.float64, np.float64),
        (lambda: cr.ones(2, 3), cr.int64, np.int64),
        (lambda: cr.ones(2, 3, dtype=cr.float64), "float32", np.float32),
    ],
)
def test_like_factories(like_factory, dtype, expected_dtype):
    like = like_factory()
    for made, fill in (
        (cr.zeros_like(like, dtype=dtype), 0),
        (cr.ones_like(like, dtype=dtype), 1),
        (cr.full_like(like, 5, dtype=dtype), 5),
    ):
        assert made.shape == (2, 3)
        assert made.dtype == np.dtype(expected_dtype)
        np.testing.assert_array_equal(made.numpy(), np.full((2, 3), fill, dtype=expected_dtype))
        assert not np.shares_memory(made.numpy(), like.numpy())


def test_like_factories_requires_grad():
    like = cr.ones(3)
    assert cr.zeros_like(like, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="only floating-point"):
        cr.zeros_like(cr.ones(3, dtype=cr.int64), requires_grad=True)


@pytest.mark.parametrize(
    "args, expected, dtype",
    [
        ((5,), np.arange(5), np.int64),
        ((2, 7), np.arange(2, 7), np.int64),
        ((10, 0, -3), np.arange(10, 0, -3), np.int64),
        ((5.0,), np.arange(5.0), np.float32),
        ((0, 1, 0.25), np.arange(0, 1, 0.25), np.float32),
        ((0.5, 3), np.arange(0.5, 3), np.float32),
    ],
)
def test_arange(args, expected, dtype):
    t = cr.arange(*args)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), expected.astype(dtype))


def test_arange_dtype_and_zero_step():
    assert cr.arange(4, dtype=cr.float64).dtype == np.float64
    with pytest.raises(ValueError, match="arange: step must be non-zero"):
        cr.arange(0, 5, 0)


@pytest.mark.parametrize(
    "start, end, steps, dtype",
    [(0, 1, 5, None), (-2, 3, 11, cr.float64), (1, 1, 1, None), (0, 1, 0, None), (3, -3, 4, cr.float64)],
)
def test_linspace(start, end, steps, dtype):
    t = cr.linspace(start, end, steps, dtype=dtype)
    expected_dtype = np.float32 if dtype is None else dtype
    assert t.dtype == expected_dtype and t.shape == (steps,)
    np.testing.assert_allclose(t.numpy(), np.linspace(start, end, steps), rtol=1e-6, atol=1e-7)


def test_linspace_rejects_bad_steps():
    with pytest.raises(ValueError, match="linspace: steps must be a non-negative int"):
        cr.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="linspace: steps"):
        cr.linspace(0, 1, 2.0)


@pytest.mark.parametrize("n, m", [(3, None), (2, 4), (4, 2), (0, None)])
def test_eye(n, m):
    t = cr.eye(n, m)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), np.eye(n, m, dtype=np.float32))


# ---------------------------------------------------------------------- random

@pytest.mark.parametrize("factory", [cr.rand, cr.randn])
@pytest.mark.parametrize("args", [(3, 4), ((3, 4),)])
def test_rand_randn_shapes_and_dtypes(factory, args):
    assert factory(*args).shape == (3, 4)
    assert factory(*args).dtype == np.float32
    assert factory(*args, dtype=cr.float64).dtype == np.float64


def test_rand_range_and_moments():
    cr.manual_seed(0)
    u = cr.rand(20000, dtype=cr.float64).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    z = cr.randn(20000, dtype=cr.float64).numpy()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03


@pytest.mark.parametrize("factory", [cr.rand, cr.randn])
def test_rand_randn_reject_integer_dtypes(factory):
    with pytest.raises(TypeError, match="dtype must be float32 or float64; got int64"):
        factory(3, dtype=cr.int64)


@pytest.mark.parametrize(
    "args, kwargs, low, high, shape",
    [
        ((10, (500,)), {}, 0, 10, (500,)),
        ((10,), {"size": (20, 25)}, 0, 10, (20, 25)),
        ((-3, 4, (500,)), {}, -3, 4, (500,)),
        ((5, 6), {"size": (7,)}, 5, 6, (7,)),
    ],
)
def test_randint(args, kwargs, low, high, shape):
    cr.manual_seed(1)
    t = cr.randint(*args, **kwargs)
    assert t.dtype == np.int64 and t.shape == shape
    a = t.numpy()
    assert a.min() >= low and a.max() < high
    if t.numel() >= 500:
        assert set(np.unique(a)) == set(range(low, high))  # every value is hit


def test_randint_rejects_empty_range():
    with pytest.raises(ValueError, match="randint: need low < high; got low=5, high=2"):
        cr.randint(5, 2, (3,))


@pytest.mark.parametrize("n", [0, 1, 7, 100])
def test_randperm_is_a_permutation(n):
    t = cr.randperm(n)
    assert t.dtype == np.int64 and t.shape == (n,)
    np.testing.assert_array_equal(np.sort(t.numpy()), np.arange(n))


def test_randperm_rejects_negative():
    with pytest.raises(ValueError, match="randperm: n must be a non-negative int; got -1"):
        cr.randperm(-1)


def _random_sequence():
    return [
        cr.rand(3, 2).numpy(),
        cr.randn(4).numpy(),
        cr.randint(0, 100, (5,)).numpy(),
        cr.randperm(10).numpy(),
        cr.randn(2, dtype=cr.float64).numpy(),
        cr.rand(2, dtype=cr.float64).numpy(),
    ]


def test_manual_seed_reproduces_every_random_call():
    cr.manual_seed(1234)
    first = _random_sequence()
    cr.manual_seed(1234)
    second = _random_sequence()
    for a, b in zip(first, second):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_sequences():
    cr.manual_seed(1)
    first = _random_sequence()
    cr.manual_seed(2)
    second = _random_sequence()
    for a, b in zip(first[:3] + first[4:], second[:3] + second[4:]):  # randperm(10) may repeat by chance
        assert not np.array_equal(a, b)


def test_consecutive_calls_differ_without_reseeding():
    cr.manual_seed(5)
    assert not np.array_equal(cr.randn(5).numpy(), cr.randn(5).numpy())


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True, None])
def test_manual_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="manual_seed: seed must be a non-negative int"):
        cr.manual_seed(seed)


# ---------------------------------------------------------------------- attributes

def test_shape_ndim_size_numel_device():
    t = cr.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4)
    assert t.numel() == 24
    assert t.device == "cpu"
    assert cr.tensor(5.0).numel() == 1 and cr.tensor(5.0).ndim == 0


@pytest.mark.parametrize("d, expected", [(0, 2), (1, 3), (2, 4), (-1, 4), (-2, 3), (-3, 2)])
def test_size_of_dim(d, expected):
    assert cr.zeros(2, 3, 4).size(d) == expected


@pytest.mark.parametrize("d", [3, -4, 10])
def test_size_out_of_range(d):
    with pytest.raises(IndexError, match=f"size: dim {d} is out of range for a tensor with 3 dimension"):
        cr.zeros(2, 3, 4).size(d)


def test_size_rejects_non_int_dim():
    with pytest.raises(TypeError, match="size: dim must be an int"):
        cr.zeros(2, 3).size(1.0)


@pytest.mark.parametrize("shape", [(2, 3), (3,), (1, 5)])
def test_T_and_t(shape):
    a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    t = cr.tensor(a)
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    np.testing.assert_array_equal(t.t().numpy(), a.T)


def test_T_reverses_all_dims_of_3d():
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(cr.tensor(a).T.numpy(), a.transpose(2, 1, 0))


def test_t_rejects_3d():
    with pytest.raises(ValueError, match=r"t: expects a tensor with at most 2 dimensions; got shape \(2, 3, 4\)"):
        cr.zeros(2, 3, 4).t()


# ---------------------------------------------------------------------- conversions

@pytest.mark.parametrize(
    "t, expected, kind",
    [
        (cr.tensor(2.5), 2.5, float),
        (cr.tensor([[7]]), 7, int),
        (cr.tensor([True]), True, bool),
        (cr.tensor(0.1, dtype=cr.float64), 0.1, float),
    ],
)
def test_item(t, expected, kind):
    value = t.item()
    assert type(value) is kind and value == expected


@pytest.mark.parametrize("shape", [(2,), (2, 3), (0,)])
def test_item_rejects_many_elements_naming_the_shape(shape):
    with pytest.raises(ValueError,
                       match=r"only one-element tensors.*got shape "
                       + str(shape).replace("(", r"\(").replace(")", r"\)")):
        cr.zeros(*shape).item()


def test_numpy_shares_memory_and_tolist():
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    a[0, 0] = 10.0
    assert t[0, 0].item() == 10.0
    assert t.tolist() == [[10.0, 2.0], [3.0, 4.0]]
    assert cr.tensor(3).tolist() == 3
    assert cr.tensor([True, False]).tolist() == [True, False]


@pytest.mark.parametrize(
    "method, dtype",
    [("float", np.float32), ("double", np.float64), ("long", np.int64), ("bool", np.bool_)],
)
def test_dtype_conversion_methods(method, dtype):
    a = np.array([-1.7, 0.0, 2.2])
    t = getattr(cr.tensor(a), method)()
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), a.astype(dtype))


@pytest.mark.parametrize(
    "target, dtype",
    [(cr.float32, np.float32), ("float64", np.float64), ("double", np.float64), (cr.int64, np.int64),
     ("bool", np.bool_), (np.float64, np.float64)],
)
def test_to_dtype(target, dtype):
    t = cr.tensor([0.5, 1.5], dtype=cr.float64).to(target)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.array([0.5, 1.5]).astype(dtype))


def test_to_same_dtype_and_cpu_return_self():
    t = cr.ones(3)
    assert t.to(cr.float32) is t
    assert t.to("cpu") is t
    assert t.to(device="cpu") is t
    assert t.cpu() is t
    assert t.to(dtype="float64", device="cpu").dtype == np.float64


def test_to_invalid_device_raises():
    with pytest.raises(DeviceError, match="device: expected 'cpu', 'cuda' or 'cuda:N'; got 'tpu'"):
        cr.ones(2).to(device="tpu")
    with pytest.raises((TypeError, DeviceError)):
        cr.ones(2).to("tpu")


def test_array_protocol():
    t = cr.tensor([1.0, 2.0, 3.0])
    a = np.asarray(t)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])
    assert np.shares_memory(a, t.numpy())
    converted = np.asarray(t, dtype=np.float64)
    assert converted.dtype == np.float64
    copied = np.array(t, copy=True)
    copied[0] = 50.0
    assert t[0].item() == 1.0


def test_len_iteration_and_python_scalars():
    t = cr.tensor([[1, 2], [3, 4], [5, 6]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, cr.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[2].numpy(), [5, 6])
    assert [x.item() for x in cr.tensor([4.0, 5.0])] == [4.0, 5.0]
    assert float(cr.tensor([2.5])) == 2.5
    assert int(cr.tensor(3.9)) == 3
    assert int(cr.tensor([[7]])) == 7
    assert bool(cr.tensor([1.0])) is True
    assert bool(cr.tensor(0)) is False


def test_len_of_0d_raises():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(cr.tensor(1.0))


@pytest.mark.parametrize("shape", [(2,), (2, 2), (0,)])
def test_bool_of_many_elements_is_ambiguous(shape):
    with pytest.raises(ValueError, match="ambiguous; use .any\\(\\) or .all\\(\\)"):
        bool(cr.ones(*shape))


@pytest.mark.parametrize("convert", [float, int])
def test_float_int_of_many_elements_raise(convert):
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        convert(cr.ones(3))


def test_integer_tensor_as_index():
    items = ["a", "b", "c"]
    assert items[cr.tensor(2)] == "c"
    with pytest.raises(TypeError, match="only one-element integer tensors"):
        items[cr.tensor(1.0)]


@pytest.mark.parametrize(
    "t, fragments",
    [
        (cr.tensor([1.5, 2.0]), ["tensor([1.5, 2. ]", "dtype=float32"]),
        (cr.tensor([1, 2]), ["tensor([1, 2]", "dtype=int64"]),
        (cr.tensor([1.0], dtype=cr.float64, requires_grad=True),
         ["tensor([1.]", "dtype=float64", "requires_grad=True"]),
        (cr.tensor([[1.0, 2.0], [3.0, 4.0]]), ["[[1., 2.],", "[3., 4.]]"]),
    ],
)
def test_repr_shows_values_dtype_and_grad(t, fragments):
    text = repr(t)
    for fragment in fragments:
        assert fragment in text


def test_repr_of_result_shows_grad_fn():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    text = repr(x * 2)
    assert "grad_fn=<mul>" in text and "tensor([2., 4.]" in text
    assert "requires_grad" not in repr(cr.tensor([1.0]))
    assert "grad_fn=<matmul>" in repr(x @ x)


# ---------------------------------------------------------------------- dtype rules

@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.tensor([1, 2], requires_grad=True),
        lambda: cr.tensor([True], requires_grad=True),
        lambda: cr.tensor(np.array([1, 2]), requires_grad=True),
        lambda: cr.zeros(2, dtype=cr.int64, requires_grad=True),
        lambda: cr.arange(3, requires_grad=True),
        lambda: cr.ones(2, dtype="bool", requires_grad=True),
    ],
)
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(TypeError,
                       match=r"only floating-point tensors can require gradients; got dtype (int64|bool)\. "
                             r"Convert first"):
        make()


@pytest.mark.parametrize("dtype", [cr.int64, cr.bool])
def test_requires_grad_underscore_rejects_integer_and_bool(dtype):
    t = cr.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match=f"only floating-point tensors can require gradients; got dtype {dtype}"):
        t.requires_grad_()
    assert t.requires_grad is False
    assert t.requires_grad_(False) is t  # turning it off is fine


@pytest.mark.parametrize(
    "a_dtype, b_dtype",
    [
        (np.float32, np.float64), (np.float64, np.float32), (np.float32, np.float32),
        (np.int64, np.float32), (np.int64, np.float64), (np.bool_, np.float32), (np.int64, np.int64),
        (np.bool_, np.int64),
    ],
)
def test_binary_promotion_follows_pytorch(a_dtype, b_dtype):
    a = np.array([1, 2, 3]).astype(a_dtype)
    b = np.array([3, 1, 2]).astype(b_dtype)
    for op in (lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y if x.dtype != np.bool_ else x * y):
        expected = op(a, b)
        if (a_dtype, b_dtype) == (np.int64, np.float32):  # PyTorch (unlike NumPy): an integer with float32 is float32
            expected = expected.astype(np.float32)
        got = op(cr.tensor(a), cr.tensor(b))
        assert got.dtype == expected.dtype, (a_dtype, b_dtype)
        np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_python_scalars_are_weak(dtype, scalar):
    t = cr.tensor(np.array([1.0, 2.0], dtype=dtype))
    assert (t * scalar).dtype == dtype
    assert (scalar + t).dtype == dtype
    np.testing.assert_array_equal((t * scalar).numpy(), np.array([1.0, 2.0], dtype=dtype) * scalar)


def test_integer_tensor_times_float_scalar_is_float32_as_in_pytorch():
    t = cr.tensor([1, 2])
    expected = (np.array([1, 2]) * 0.5).astype(np.float32)
    got = t * 0.5
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.numpy(), expected)


# ---------------------------------------------------------------------- DLPack and from_numpy

def test_numpy_from_dlpack_shares_memory():
    t = cr.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])
    t.numpy()[1] = 20.0
    assert a[1] == 20.0
    with cr.no_grad():
        t[2] = 30.0
    assert a[2] == 30.0


def test_chainrule_from_dlpack_round_trip_shares_memory():
    source = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = cr.from_dlpack(source)
    assert t.dtype == np.float64 and t.shape == (2, 3)
    source[0, 0] = -1.0
    assert t[0, 0].item() == -1.0
    t[1, 2] = 42.0
    assert source[1, 2] == 42.0
    back = np.from_dlpack(cr.from_dlpack(np.from_dlpack(t)))
    assert np.shares_memory(back, source)


def test_from_dlpack_rejects_unsupported_dtype():
    with pytest.raises(TypeError, match="from_dlpack: dtype int32 is not supported"):
        cr.from_dlpack(np.zeros(3, dtype=np.int32))


def test_dlpack_device_is_cpu():
    assert cr.ones(3).__dlpack_device__() == (1, 0)  # (kDLCPU, device 0)


def test_torch_reads_chainrule_tensor_via_dlpack():
    torch = pytest.importorskip("torch")
    t = cr.tensor([1.0, 2.0], dtype=cr.float64)
    tt = torch.from_dlpack(t)
    assert tt.dtype == torch.float64
    tt[0] = 9.0
    assert t[0].item() == 9.0


def test_from_numpy_shares_memory():
    a = np.array([1.0, 2.0])
    t = cr.from_numpy(a)
    a[0] = 5.0
    assert t[0].item() == 5.0
    assert t.dtype == np.float64 and t.requires_grad is False


@pytest.mark.parametrize(
    "arg, error",
    [(np.zeros(2, dtype=np.int32), "from_numpy: dtype int32 is not supported"),
     ([1.0, 2.0], "from_numpy: expected a numpy.ndarray; got list")],
)
def test_from_numpy_rejects(arg, error):
    with pytest.raises(TypeError, match=error):
        cr.from_numpy(arg)


def test_as_tensor_shares_or_returns_self():
    a = np.array([1.0, 2.0])
    t = cr.as_tensor(a)
    assert np.shares_memory(t.numpy(), a)
    assert cr.as_tensor(t) is t
    assert cr.as_tensor(t, dtype=cr.float32).dtype == np.float32
    assert cr.as_tensor([1, 2]).dtype == np.int64


# ---------------------------------------------------------------------- __setitem__ and in-place

@pytest.mark.parametrize(
    "index, value",
    [
        (0, 9.0),
        ((1, 2), -1.0),
        (slice(1, 3), 7.0),
        ((slice(None), 0), np.array([1.0, 2.0, 3.0])),
        (np.array([0, 2]), 5.0),
        ([0, 2], 6.0),
        (np.array([[True, False, True, False]] * 3), 0.5),
        ((Ellipsis, -1), 3.0),
    ],
)
def test_setitem_without_grad(index, value):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = cr.tensor(a)
    a[index] = value
    t[index] = value
    np.testing.assert_array_equal(t.numpy(), a)


def test_setitem_with_tensor_index_and_values():
    t = cr.zeros(5)
    t[cr.tensor([1, 3])] = cr.tensor([10.0, 30.0])
    mask = cr.tensor([True, False, False, False, True])
    t[mask] = cr.tensor(-1.0)
    np.testing.assert_array_equal(t.numpy(), [-1.0, 10.0, 0.0, 30.0, -1.0])
    t[t > 5] = 0.0
    np.testing.assert_array_equal(t.numpy(), [-1.0, 0.0, 0.0, 0.0, -1.0])


def test_setitem_on_leaf_requiring_grad_raises_in_grad_mode():
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError,
                       match=r"__setitem__: a leaf tensor that requires grad .* cannot be modified in "
                             r"place while gradients are recorded.*no_grad"):
        w[0] = 5.0
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0, 1.0])


def test_setitem_on_leaf_inside_no_grad():
    w = cr.ones(3, requires_grad=True)
    with cr.no_grad():
        w[0] = 5.0
        w[cr.tensor([1])] = cr.tensor([6.0])
    np.testing.assert_array_equal(w.numpy(), [5.0, 6.0, 1.0])
    assert w.requires_grad and w.is_leaf


def test_setitem_on_non_leaf_inside_no_grad_writes_and_counts_a_version():
    # PyTorch allows it; a backward that saved y would now fail (tests/test_inplace)
    x = cr.ones(3, requires_grad=True)
    y = x * 2
    before = y._version
    with cr.no_grad():
        y[0] = 1.0
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0, 2.0])
    assert y._version == before + 1 and y.grad_fn is not None


@pytest.mark.parametrize(
    "apply, expected",
    [
        (lambda t: t.__iadd__(2.0), [3.0, 4.0]),
        (lambda t: t.__isub__(cr.tensor([1.0, 1.0])), [0.0, 1.0]),
        (lambda t: t.__imul__(3.0), [3.0, 6.0]),
        (lambda t: t.__itruediv__(cr.tensor(2.0)), [0.5, 1.0]),
    ],
)
def test_inplace_arithmetic_without_grad(apply, expected):
    t = cr.tensor([1.0, 2.0])
    data = t.numpy()
    out = apply(t)
    assert out is t
    np.testing.assert_array_equal(t.numpy(), expected)
    assert np.shares_memory(t.numpy(), data)


@pytest.mark.parametrize("symbol, op", [("+=", "add_"), ("-=", "sub_"), ("*=", "mul_"), ("/=", "div_")])
def test_inplace_arithmetic_on_leaf_requiring_grad_raises(symbol, op):
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{op}: a leaf tensor that requires grad"):
        exec(f"w {symbol} 2.0", {"w": w})
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])


def test_sgd_step_inside_no_grad_keeps_identity():
    w = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()
    original, data = w, w.numpy()
    lr = 0.1
    with cr.no_grad():
        w -= lr * w.grad
    assert w is original
    assert w.numpy() is data or np.shares_memory(w.numpy(), data)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None
    np.testing.assert_allclose(w.numpy(), np.array([1.0, -2.0, 3.0]) * (1 - 2 * lr), rtol=1e-6)


def test_zero_():
    t = cr.ones(3)
    assert t.zero_() is t
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 0.0])
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="zero_: a leaf tensor that requires grad"):
        w.zero_()


# ---------------------------------------------------------------------- NumPy interop

@pytest.mark.parametrize(
    "op",
    [lambda a, t: a + t, lambda a, t: a - t, lambda a, t: a * t, lambda a, t: a / t, lambda a, t: a @ t],
)
def test_numpy_array_on_the_left_returns_a_tensor(op):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t_values = np.array([[2.0, 1.0], [0.5, 4.0]])
    t = cr.tensor(t_values, requires_grad=True)
    result = op(a, t)
    assert isinstance(result, cr.Tensor)
    np.testing.assert_allclose(result.numpy(), op(a, t_values))
    assert result.requires_grad


def test_numpy_scalar_on_the_left_returns_a_tensor():
    t = cr.tensor([1.0, 2.0], dtype=cr.float64)
    result = np.float64(3.0) * t
    assert isinstance(result, cr.Tensor)
    np.testing.assert_array_equal(result.numpy(), [3.0, 6.0])


def test_numpy_comparison_on_the_left_returns_a_tensor():
    result = np.array([1.0, 5.0]) < cr.tensor([2.0, 2.0])
    assert isinstance(result, cr.Tensor) and result.dtype == np.bool_
    np.testing.assert_array_equal(result.numpy(), [True, False])


# ---------------------------------------------------------------------- devices

@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed: the missing-CuPy error cannot be tested")
@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.tensor([1.0], device="cuda"),
        lambda: cr.zeros(2, device="cuda:0"),
        lambda: cr.randn(2, device="cuda"),
        lambda: cr.ones(2).to("cuda"),
        lambda: cr.ones(2).cuda(),
    ],
)
def test_cuda_without_cupy_says_how_to_install(make):
    with pytest.raises(DeviceError, match=r"needs CuPy, which is not installed.*pip install 'chainrule\[gpu\]'"):
        make()


@pytest.mark.parametrize("device", ["tpu", "gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cpu:0", ""])
def test_invalid_device_strings_raise(device):
    with pytest.raises(DeviceError, match="device: expected 'cpu', 'cuda' or 'cuda:N'"):
        cr.tensor([1.0], device=device)
    with pytest.raises(DeviceError, match="device: expected"):
        cr.zeros(2, device=device)


def test_device_error_is_a_runtime_error():
    assert issubclass(DeviceError, RuntimeError)


# ---------------------------------------------------------------------- formerly known gaps (regression tests)

@pytest.mark.parametrize("d", [0, -1])
def test_size_of_0d_names_the_dim(d):
    with pytest.raises(IndexError, match=f"size: dim {d} is out of range for a tensor with 0 dimension"):
        cr.tensor(1.0).size(d)


def test_inplace_add_of_grad_tensor_into_plain_tensor_keeps_or_refuses_gradient():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    acc = cr.zeros(2)
    try:
        acc += w * 3.0
    except RuntimeError:
        return  # refusing is acceptable
    (acc.sum() + w.sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 4.0])


def test_setitem_of_grad_value_keeps_or_refuses_gradient():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    buf = cr.zeros(2)
    try:
        buf[0] = w[1] * 5.0
    except RuntimeError:
        return  # refusing is acceptable
    assert buf.requires_grad
    buf.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [0.0, 5.0])


def test_inplace_change_of_saved_constant_is_detected_or_harmless():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    y = (x * c).sum()
    try:
        c += 10.0
        y.backward()
    except RuntimeError:
        return  # detecting it (at the write or at backward) is acceptable
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
