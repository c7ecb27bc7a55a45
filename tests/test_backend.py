"""backend: dtype and device canonicalization, the array namespace per device,
and the small array helpers everything else goes through."""
from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np
import pytest

from chainrule import backend
from chainrule.backend import DeviceError

HAS_CUPY = importlib.util.find_spec("cupy") is not None


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("float32", np.float32), ("float", np.float32), ("float64", np.float64), ("double", np.float64),
        ("int64", np.int64), ("long", np.int64), ("bool", np.bool_),
        (np.float32, np.float32), (np.float64, np.float64), (np.int64, np.int64), (np.bool_, np.bool_),
        (np.dtype("float32"), np.float32), (backend.float64, np.float64), (backend.bool_, np.bool_),
        (bool, np.bool_), (float, np.float64), (int, np.int64),
    ],
)
def test_canonical_dtype_accepts_names_and_aliases(spec, expected):
    resolved = backend.canonical_dtype(spec)
    assert resolved == np.dtype(expected)
    assert isinstance(resolved, np.dtype)
    assert resolved in backend.SUPPORTED_DTYPES


@pytest.mark.parametrize(
    "spec",
    ["float16", "int32", "uint8", "complex128", "f4", "f8", "i8", "Float32", "FLOAT64", "", "cpu", "half",
     np.int32, np.float16, np.complex64, np.uint8, np.dtype("int32"), np.dtype("<U3"), object, 1.5, [1, 2]],
)
def test_canonical_dtype_rejects_others(spec):
    with pytest.raises(TypeError, match=r"^dtype: expected one of float32, float64, int64, bool; got "):
        backend.canonical_dtype(spec)


@pytest.mark.parametrize("argument", ["dtype", "x.dtype", "target_dtype"])
def test_canonical_dtype_message_names_the_argument(argument):
    with pytest.raises(TypeError) as info:
        backend.canonical_dtype("int32", argument=argument)
    assert str(info.value) == f"{argument}: expected one of float32, float64, int64, bool; got 'int32'"


def test_dtype_constants():
    assert backend.SUPPORTED_DTYPES == (np.dtype("float32"), np.dtype("float64"), np.dtype("int64"), np.dtype("bool"))
    assert backend.FLOAT_DTYPES == (np.dtype("float32"), np.dtype("float64"))
    assert backend.DEFAULT_FLOAT == np.dtype("float32")


@pytest.mark.parametrize(
    "spec, expected",
    [("cpu", "cpu"), (None, "cpu"), ("cuda", "cuda:0"), ("cuda:0", "cuda:0"), ("cuda:3", "cuda:3"),
     ("cuda:12", "cuda:12")],
)
def test_canonical_device(spec, expected):
    assert backend.canonical_device(spec) == expected


@pytest.mark.parametrize(
    "spec", ["gpu", "tpu", "CPU", "Cuda", "cuda:", "cuda:-1", "cuda:a", "cuda0", "cpu:0", "", " cpu", 0]
)
def test_canonical_device_rejects_others(spec):
    with pytest.raises(DeviceError) as info:
        backend.canonical_device(spec)
    assert str(info.value) == f"device: expected 'cpu', 'cuda' or 'cuda:N'; got {spec!r}"


def test_namespace_cpu_is_numpy():
    assert backend.namespace("cpu") is np
    assert backend.host is np


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed: the missing-CuPy error cannot be tested")
@pytest.mark.parametrize("device", ["cuda:0", "cuda:1"])
def test_namespace_cuda_without_cupy_gives_install_hint(device):
    with pytest.raises(DeviceError) as info:
        backend.namespace(device)
    message = str(info.value)
    assert f"device {device!r} needs CuPy, which is not installed" in message
    assert "pip install 'chainrule[gpu]'" in message
    assert isinstance(info.value, RuntimeError)


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed: the missing-CuPy error cannot be tested")
def test_move_to_cuda_without_cupy_raises():
    with pytest.raises(DeviceError, match=r"chainrule\[gpu\]"):
        backend.move(np.ones(2), "cuda:0")


@pytest.mark.parametrize(
    "obj, expected",
    [(np.ones(3), True), (np.float64(1.0), False), ([1.0], False), (1.0, False), (None, False)],
)
def test_is_array(obj, expected):
    assert backend.is_array(obj) is expected


def test_namespace_of_and_device_of_host_arrays():
    for obj in (np.ones(2), np.float32(1.0), np.asarray(3)):
        assert backend.namespace_of(obj) is np
        assert backend.device_of(obj) == "cpu"


def test_as_array():
    scalar = backend.as_array(np.float32(2.5))
    assert isinstance(scalar, np.ndarray) and scalar.shape == () and scalar.dtype == np.float32
    array = np.ones(3)
    assert backend.as_array(array) is array
    with pytest.raises(TypeError, match="expected an array; got list"):
        backend.as_array([1.0])


def test_to_host_and_move_on_cpu_do_not_copy():
    array = np.arange(4.0)
    assert backend.to_host(array) is array
    assert backend.move(array, "cpu") is array


def test_expit_is_stable_and_exact():
    x = np.array([-1000.0, -30.0, 0.0, 2.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = backend.expit(x)
    np.testing.assert_allclose(y, [0.0, 1 / (1 + math.exp(30.0)), 0.5, 1 / (1 + math.exp(-2.0)), 1.0], rtol=1e-15)
    assert backend.expit(np.float32(0.0)).dtype == np.float32


def test_erf_matches_math():
    x = np.linspace(-4, 4, 17)
    np.testing.assert_allclose(backend.erf(x), [math.erf(v) for v in x], rtol=1e-14, atol=1e-16)


def test_special_functions_on_host_is_scipy_special():
    import scipy.special

    assert backend.special_functions(np.ones(2)) is scipy.special


def test_backend_from_dlpack_shares_memory():
    source = np.arange(3.0)
    view = backend.from_dlpack(source)
    source[0] = 7.0
    assert view[0] == 7.0


def test_canonical_dtype_rejects_none():
    with pytest.raises(TypeError, match="dtype: expected one of float32, float64, int64, bool; got None"):
        backend.canonical_dtype(None)
