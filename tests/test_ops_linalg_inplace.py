"""In-place modification around the linear-algebra ops, against PyTorch's rule: modifying a
value that an op's backward reads (an input it saved, or its own output) is an error at
backward, naming the op; modifying one it does not read is allowed, with the same gradients.
Each program runs in both libraries; the one documented difference (solve's B) is listed."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

A = np.array([[3.0, 1.0], [0.5, 2.0]])
B = np.array([[1.0, 0.0], [2.0, 1.0]])


def _modify_input(make_input, op, modify="add_"):
    """op(x) with x = make_input(a, b), then x modified in place, then the sum of the result."""
    def program(ns, a, b):
        x = make_input(a, b)
        y = op(ns, x, a, b)
        getattr(x, modify)(1.0)
        return (y * y).sum()
    return program


def _modify_output(op, modify="mul_"):
    def program(ns, a, b):
        y = op(ns, a * 1, a, b)
        getattr(y, modify)(2.0)
        return y.sum()
    return program


PROGRAMS = [
    # (name, program, torch and chainrule both raise)
    ("inv: output modified", _modify_output(lambda ns, x, a, b: ns.linalg.inv(x)), True),
    ("inv: input modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.linalg.inv(x)), False),
    ("det: input modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.linalg.det(x)), True),
    ("det: output modified", _modify_output(lambda ns, x, a, b: ns.linalg.det(x)), True),
    ("slogdet: input modified",
     _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.linalg.slogdet(x).logabsdet), True),
    ("solve: A modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.linalg.solve(x, b)), True),
    ("solve: output modified", _modify_output(lambda ns, x, a, b: ns.linalg.solve(x, b)), True),
    ("cholesky: output modified", _modify_output(lambda ns, x, a, b: ns.linalg.cholesky(x @ x.mT)), True),
    ("cholesky: input modified",
     _modify_input(lambda a, b: a @ a.mT, lambda ns, x, a, b: ns.linalg.cholesky(x)), False),
    ("tril: input modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.tril(x)), False),
    ("trace: input modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.trace(x)), False),
    ("diagonal_scatter: input modified",
     _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.diagonal_scatter(x, b[0])), False),
    ("einsum: operand modified",
     _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.einsum("ij,jk->ik", x, b)), True),
    ("einsum: the one operand modified",
     _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.einsum("ij->j", x)), False),
    ("vector_norm: input modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.linalg.vector_norm(x)),
     True),
    ("vector_norm: output modified", _modify_output(lambda ns, x, a, b: ns.linalg.vector_norm(x), "add_"), True),
    ("svdvals: output modified", _modify_output(lambda ns, x, a, b: ns.linalg.svdvals(x), "add_"), True),
    ("svdvals: input modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.linalg.svdvals(x)), False),
    ("mm: input modified", _modify_input(lambda a, b: a * 1, lambda ns, x, a, b: ns.mm(x, b)), True),
]


def _run(lib, program):
    if lib == "torch":
        ns, a, b = torch, torch.tensor(A, requires_grad=True), torch.tensor(B, requires_grad=True)
    else:
        ns = cr
        a = cr.tensor(A, dtype=cr.float64, requires_grad=True)
        b = cr.tensor(B, dtype=cr.float64, requires_grad=True)
    try:
        program(ns, a, b).backward()
    except RuntimeError as err:
        return err
    return [np.zeros((2, 2)) if t.grad is None else np.asarray(t.grad.detach() if lib == "torch" else t.grad.numpy())
            for t in (a, b)]


@pytest.mark.parametrize("name, program, raises", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_inplace_rule_as_torch(name, program, raises):
    expected, actual = _run("torch", program), _run("chainrule", program)
    assert isinstance(expected, RuntimeError) == raises
    if raises:
        assert isinstance(actual, RuntimeError)
        assert "modified in place" in str(actual)
    else:
        assert not isinstance(actual, Exception), actual
        for mine, theirs in zip(actual, expected):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def test_solve_refuses_a_modified_b_where_torch_allows_it():
    """The documented difference: the engine's saves_inputs is one flag per op."""
    program = _modify_input(lambda a, b: b * 1, lambda ns, x, a, b: ns.linalg.solve(a, x))
    assert not isinstance(_run("torch", program), Exception)
    assert "linalg.solve" in str(_run("chainrule", program))
