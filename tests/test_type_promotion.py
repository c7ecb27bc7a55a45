"""Type promotion (chainrule.engine.ops.arguments: result_type, promote_types) against PyTorch.

Every pair (tensor, operand) with the tensor float32 / float64 / int64 / bool, dimensioned
or 0-d, and the operand a Python bool / int / float, a NumPy scalar, a 0-d tensor or a
dimensioned tensor of each dtype: ``cr.result_type`` equals ``torch.result_type``, and the
ops (+ - * / **, maximum, comparisons, where, atan2) give the dtype PyTorch's ops give.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "int64", "bool"]
PYTHON_SCALARS = [True, 3, 2.5]
NUMPY_SCALARS = [np.float64(2.5), np.float32(2.5), np.int64(3)]  # np.bool_: see the documented difference


def tensor_pair(dtype: str, dimensioned: bool):
    """The same values as a chainrule and a torch tensor of ``dtype``."""
    values = np.array([1, 0, 2] if dimensioned else 2).astype(dtype)
    return cr.tensor(values), torch.from_numpy(values.copy())


def operand_kinds():
    """(id, chainrule operand, torch operand) for every operand kind."""
    for value in PYTHON_SCALARS:
        yield f"py-{type(value).__name__}", value, value
    for value in NUMPY_SCALARS:
        yield f"np-{value.dtype}", value, value
    for dtype, dimensioned in itertools.product(DTYPES, (False, True)):
        ours, theirs = tensor_pair(dtype, dimensioned)
        yield f"{'dim' if dimensioned else '0d'}-{dtype}", ours, theirs


CASES = [
    pytest.param(dtype, dimensioned, ours, theirs, id=f"{'dim' if dimensioned else '0d'}-{dtype}-with-{name}")
    for dtype, dimensioned in itertools.product(DTYPES, (True, False))
    for name, ours, theirs in operand_kinds()
]


def torch_dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


@pytest.mark.parametrize("dtype, dimensioned, ours, theirs", CASES)
def test_result_type_matches_torch(dtype, dimensioned, ours, theirs):
    a, a_torch = tensor_pair(dtype, dimensioned)
    expected = torch_dtype_name(torch.result_type(a_torch, theirs))
    assert str(cr.result_type(a, ours)) == expected
    if isinstance(ours, cr.Tensor):  # symmetric
        assert str(cr.result_type(ours, a)) == expected


OPERATORS = [
    pytest.param(lambda x, y: x + y, id="add"),
    pytest.param(lambda x, y: y + x, id="radd"),
    pytest.param(lambda x, y: x * y, id="mul"),
    pytest.param(lambda x, y: x - y, id="sub"),
    pytest.param(lambda x, y: y - x, id="rsub"),
    pytest.param(lambda x, y: x / y, id="div"),
    pytest.param(lambda x, y: y / x, id="rdiv"),
    pytest.param(lambda x, y: x ** y, id="pow"),
    pytest.param(lambda x, y: x == y, id="eq"),
    pytest.param(lambda x, y: x < y, id="lt"),
    pytest.param(lambda x, y: y >= x, id="rge"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # x / 0 and 0 ** -1 in the tables
@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize("dtype, dimensioned, ours, theirs", CASES)
def test_operator_dtypes_match_torch(operator, dtype, dimensioned, ours, theirs):
    a, a_torch = tensor_pair(dtype, dimensioned)
    try:
        expected = operator(a_torch, theirs)
    except NotImplementedError:
        pytest.skip("PyTorch has no kernel for bool ** bool tensor; chainrule computes it (a bool)")
    except RuntimeError:  # PyTorch refuses subtraction with a bool operand: so do we
        with pytest.raises(TypeError, match=r"subtract"):
            operator(a, ours)
        return
    got = operator(a, ours)
    assert str(got.dtype) == torch_dtype_name(expected.dtype)
    np.testing.assert_allclose(got.numpy().astype(np.float64), expected.numpy().astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("dtype, dimensioned, ours, theirs", CASES)
def test_maximum_and_where_dtypes_match_torch(dtype, dimensioned, ours, theirs):
    a, a_torch = tensor_pair(dtype, dimensioned)
    if isinstance(theirs, torch.Tensor):
        assert str(cr.maximum(a, ours).dtype) == torch_dtype_name(torch.maximum(a_torch, theirs).dtype)
    condition = np.array([True, False, True]) if dimensioned or getattr(ours, "ndim", 0) else np.array(True)
    expected = torch.where(torch.from_numpy(condition), a_torch, theirs)
    got = cr.where(cr.tensor(condition), a, ours)
    assert str(got.dtype) == torch_dtype_name(expected.dtype)
    np.testing.assert_array_equal(got.numpy().astype(np.float64), expected.numpy().astype(np.float64))


PROMOTE = list(itertools.product(DTYPES, DTYPES))


@pytest.mark.parametrize("first, second", PROMOTE)
def test_promote_types_matches_torch(first, second):
    expected = torch.promote_types(getattr(torch, first), getattr(torch, second))
    assert str(cr.promote_types(first, second)) == torch_dtype_name(expected)


def test_the_cases_the_brief_names():
    x = cr.tensor([1.0, 2.0])  # float32
    assert (x * 2.5).dtype == cr.float32
    assert (x * np.float64(2.0)).dtype == cr.float32
    assert (np.float64(2.0) * x).dtype == cr.float32
    assert (x + cr.tensor(2.0, dtype=cr.float64)).dtype == cr.float32
    assert (x + cr.tensor([2.0, 1.0], dtype=cr.float64)).dtype == cr.float64
    i = cr.tensor([1, 2])
    assert (i * 2.5).dtype == cr.float32 and (i + cr.tensor(2.5, dtype=cr.float64)).dtype == cr.float64
    assert (i / i).dtype == cr.float32 and (i / 2).dtype == cr.float32
    assert (i + True).dtype == cr.int64 and (cr.tensor([True]) + 2).dtype == cr.int64


def test_float32_compared_with_float64_scalars_compares_in_float32():
    x = cr.tensor([0.1, 0.2])
    assert (x == 0.1).tolist() == [True, False]
    assert (x == np.float64(0.1)).tolist() == [True, False]  # NumPy alone says False
    assert (x == cr.tensor(0.1, dtype=cr.float64)).tolist() == [True, False]
    assert (cr.tensor(0.1, dtype=cr.float64) == x).tolist() == [True, False]


def test_mixed_dtype_gradients_flow_back_in_each_leafs_dtype():
    x = cr.tensor([1.0, 2.0], requires_grad=True)  # float32
    s = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)  # 0-d float64
    y = x * s
    assert y.dtype == cr.float32
    y.sum().backward()
    assert x.grad.dtype == cr.float32 and s.grad.dtype == cr.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(s.grad.numpy(), 3.0)
    i = cr.tensor([1, 2])
    w = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    (i * w).sum().backward()  # float64 by the rule (0-d float above an integer tensor)
    np.testing.assert_allclose(w.grad.numpy(), 3.0)


def test_numpy_bool_scalar_is_a_python_bool_unlike_torch():
    """The one documented difference: PyTorch turns np.bool_ into a float."""
    i = cr.tensor([1, 2])
    assert cr.result_type(i, np.bool_(True)) == cr.int64
    assert str(torch.result_type(torch.tensor([1, 2]), np.bool_(True))) == "torch.float32"
    assert (cr.tensor([True]) * np.bool_(True)).dtype == cr.bool


@pytest.mark.parametrize("bad, message", [
    ("x", r"result_type: expected Tensors or numbers; got str"),
    (None, r"result_type: expected Tensors or numbers; got NoneType"),
])
def test_result_type_errors(bad, message):
    with pytest.raises(TypeError, match=message):
        cr.result_type(cr.tensor([1.0]), bad)


def test_promote_types_rejects_unknown_dtypes():
    with pytest.raises(TypeError, match=r"expected one of float32, float64, int64, bool; got 'int8'"):
        cr.promote_types("int8", "float32")
