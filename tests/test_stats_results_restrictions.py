"""Wald tests of linear restrictions (t_test, f_test, wald_test) on OLS, Logit and MNLogit
results against statsmodels, and the parser of restrictions written as text."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainrule.datasets import load_grunfeld
from chainrule.stats import OLS, ContrastResults, Logit, MNLogit, linear_restrictions

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

RTOL = 1e-10
HYPOTHESES = ["value = capital", "value = 0, capital = 0", "2*value - capital = 1", "const + value = capital = 0",
              "(value + capital)/2 = 0.1", "-value = -0.1"]


@pytest.fixture(scope="module")
def grunfeld():
    frame = load_grunfeld(as_frame=True)
    return frame[["value", "capital"]], frame["invest"], frame["firm"]


def _fits(grunfeld, cov_type, use_t):
    X, y, firm = grunfeld
    model = OLS(cov_type=cov_type, use_t=use_t).fit(X, y, groups=firm if cov_type == "cluster" else None)
    kwds = {"groups": pd.factorize(firm)[0]} if cov_type == "cluster" else None
    return model, sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov_type, cov_kwds=kwds, use_t=use_t)


def _same_t(ours, ref, rtol=RTOL):
    assert isinstance(ours, ContrastResults)
    for name in ("effect", "sd", "tvalue", "pvalue"):
        np.testing.assert_allclose(ours.__dict__[name] if name != "tvalue" else ours.tvalue,
                                   np.ravel(getattr(ref, name)), rtol=rtol, err_msg=name)
    np.testing.assert_allclose(ours.conf_int(), ref.conf_int(), rtol=rtol)
    np.testing.assert_allclose(ours.conf_int(alpha=0.1), ref.conf_int(alpha=0.1), rtol=rtol)
    assert ours.distribution == ref.distribution
    if ref.distribution == "t":
        assert ours.df_denom == ref.df_denom


def _same_joint(ours, ref, rtol=RTOL):
    assert ours.distribution == ref.distribution
    assert ours.statistic == pytest.approx(float(np.squeeze(ref.statistic)), rel=rtol)
    assert ours.pvalue == pytest.approx(float(ref.pvalue), rel=rtol)
    assert ours.df_denom == float(ref.df_denom)
    if ref.distribution == "F":
        assert ours.fvalue == ours.statistic and ours.df_num == float(ref.df_num)


@pytest.mark.parametrize("cov_type, use_t", [("nonrobust", None), ("HC1", None), ("HC1", True), ("HC3", False),
                                             ("cluster", True), ("cluster", None), ("nonrobust", False)])
@pytest.mark.parametrize("hypothesis", HYPOTHESES)
def test_ols_tests_equal_statsmodels(grunfeld, cov_type, use_t, hypothesis):
    model, ref = _fits(grunfeld, cov_type, use_t)
    _same_t(model.t_test(hypothesis), ref.t_test(hypothesis))
    _same_joint(model.f_test(hypothesis), ref.f_test(hypothesis))
    _same_joint(model.wald_test(hypothesis), ref.wald_test(hypothesis, scalar=True))
    _same_joint(model.wald_test(hypothesis, use_f=False), ref.wald_test(hypothesis, use_f=False, scalar=True))
    _same_joint(model.results_.wald_test(hypothesis, use_f=True), ref.wald_test(hypothesis, use_f=True, scalar=True))


def test_matrix_and_tuple_forms(grunfeld):
    model, ref = _fits(grunfeld, "HC2", True)
    R = np.array([[0.0, 1.0, -1.0], [0.0, 1.0, 0.0]])
    q = np.array([0.0, 0.1])
    _same_t(model.t_test(R), ref.t_test(R))
    _same_t(model.t_test((R, q)), ref.t_test((R, q)))
    _same_joint(model.f_test((R, q)), ref.f_test((R, q)))
    _same_joint(model.wald_test((R, 0.1)), ref.wald_test((R, np.full(2, 0.1)), scalar=True))  # q broadcast
    _same_t(model.t_test(R[0]), ref.t_test(R[:1]))  # one row as a 1-D array
    _same_t(model.t_test(["value = capital", "value = 0.1"]), ref.t_test((R, q)))


def test_array_fit_uses_the_default_names(grunfeld):
    X, y, _ = grunfeld
    model = OLS().fit(X.to_numpy(), y.to_numpy())
    ref = sm.OLS(y.to_numpy(), sm.add_constant(X.to_numpy())).fit()
    _same_t(model.t_test("x1 = x2"), ref.t_test("x1 = x2"))
    _same_joint(model.f_test("x1, x2"), ref.f_test("x1, x2"))


def test_t_test_summary_and_frame(grunfeld):
    model, ref = _fits(grunfeld, "nonrobust", None)
    test = model.t_test("value = capital, value = 0")
    assert "Test for Constraints" in str(test.summary()) and "c1" in str(test)
    frame = test.summary_frame()
    expected = ref.t_test("value = capital, value = 0").summary_frame()
    np.testing.assert_allclose(frame.to_numpy(), expected.to_numpy(), rtol=RTOL)
    assert list(frame.columns) == list(expected.columns) and list(frame.index) == ["c0", "c1"]
    assert str(model.f_test("value = 0")).startswith("<F test: F=")
    assert "chi2" in str(model.wald_test("value = 0", use_f=False))
    with pytest.raises(ValueError, match="has no confidence interval; use t_test"):
        model.f_test("value = 0").conf_int()


def test_singular_restrictions_reduce_the_degrees_of_freedom_with_a_warning(grunfeld):
    model, ref = _fits(grunfeld, "nonrobust", None)
    hypothesis = "value = 0, 2*value = 0, capital = 0"
    with pytest.warns(RuntimeWarning, match="does not have full rank"):
        ours = model.f_test(hypothesis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref.f_test(hypothesis)
    _same_joint(ours, expected, rtol=1e-8)
    assert ours.df_num == 2


def _binary(n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["age", "income", "score"])
    eta = 0.3 + X.to_numpy() @ [0.8, -0.5, 0.2]
    return X, pd.Series((rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float), name="bought")


@pytest.mark.parametrize("hypothesis", ["age = -income", "age = 0, income = 0, score = 0", "const + 2*score = 0.5"])
def test_logit_tests_equal_statsmodels(hypothesis):
    X, y = _binary()
    model = Logit(tol=1e-12).fit(X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    _same_t(model.t_test(hypothesis), ref.t_test(hypothesis), rtol=1e-8)
    _same_joint(model.f_test(hypothesis), ref.f_test(hypothesis), rtol=1e-8)
    _same_joint(model.wald_test(hypothesis), ref.wald_test(hypothesis, scalar=True), rtol=1e-8)
    assert model.t_test(hypothesis).distribution == "norm"


def test_mnlogit_tests_equal_statsmodels():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(600, 2)), columns=["a", "b"])
    logits = np.column_stack([np.zeros(600), 0.2 + X @ [0.8, -0.4], -0.1 + X @ [-0.3, 0.9]])
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = pd.Series(np.array([rng.choice(3, p=row) for row in P]), name="choice")
    model = MNLogit(tol=1e-12).fit(X, y)
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, method="newton")
    for hypothesis in ["y1_a = y2_a", "y1_a = 0, y2_b = 0", "y1_const - y2_const = 0.1"]:
        _same_t(model.t_test(hypothesis), ref.t_test(hypothesis), rtol=1e-8)
        _same_joint(model.f_test(hypothesis), ref.f_test(hypothesis), rtol=1e-8)
        _same_joint(model.wald_test(hypothesis), ref.wald_test(hypothesis, scalar=True), rtol=1e-8)
    R = np.zeros((1, 6))
    R[0, 4] = 1.0  # class-major order: the second class's "a"
    _same_t(model.t_test(R), ref.t_test(R), rtol=1e-8)


NAMES = ["const", "x1", "x10", "C(firm)[T.B]", "np.log(k)"]


@pytest.mark.parametrize("text, R, q", [
    ("x1", [[0, 1, 0, 0, 0]], [0]),
    ("x10 = 2", [[0, 0, 1, 0, 0]], [2]),
    ("x1 = x10", [[0, 1, -1, 0, 0]], [0]),
    ("x1 + x10 = 1, const = 0", [[0, 1, 1, 0, 0], [1, 0, 0, 0, 0]], [1, 0]),
    ("2 * x1 - x10/4 = 1.5e-1", [[0, 2, -0.25, 0, 0]], [0.15]),
    ("C(firm)[T.B] = np.log(k)", [[0, 0, 0, 1, -1]], [0]),
    ("x1 = x10 = const", [[0, 1, -1, 0, 0], [-1, 0, 1, 0, 0]], [0, 0]),
    ("-(x1 - 3) = +x10 * 2", [[0, -1, -2, 0, 0]], [-3]),
    ("x1*2 + 3 = 0", [[0, 2, 0, 0, 0]], [-3]),
    (".5x1 = 1", None, None),  # a number glued to a name: rejected below
])
def test_parser(text, R, q):
    if R is None:
        with pytest.raises(ValueError, match="expected"):
            linear_restrictions(text, NAMES)
        return
    got_R, got_q = linear_restrictions(text, NAMES)
    np.testing.assert_array_equal(got_R, R)
    np.testing.assert_array_equal(got_q, q)


@pytest.mark.parametrize("restrictions, message", [
    ("x2 = 0", r"unknown name 'x2' at position 0; the parameters are 'const', 'x1'"),
    ("x1 * x10 = 0", r"a product of two parameters at position 3 is not linear"),
    ("x1 / x10 = 0", r"the divisor at position 3 must be a nonzero number"),
    ("x1 / 0 = 0", r"the divisor at position 3 must be a nonzero number"),
    ("x1 = ", r"expected a number, a parameter name or '\(' at position 5; found the end"),
    ("(x1 = 0", r"expected '\)' at position 4"),
    ("x1 x10", r"expected ',' or '=' or an operator at position 3"),
    ("1 = 1", r"equation 1 involves no parameter"),
    ("x1 - x1 = 2", r"equation 1 involves no parameter"),
    (np.ones((1, 3)), r"R must have 5 columns \(one per parameter: const, x1, x10, C\(firm\)\[T.B\], np.log\(k\)\)"),
    ((np.ones((2, 5)), [1, 2, 3]), r"q must have one value per row of R \(2\); got 3"),
    ((np.ones((2, 5)), 1, 2), r"a tuple must be \(R, q\); got a tuple of 3 items"),
])
def test_parser_errors(restrictions, message):
    with pytest.raises(ValueError, match=message):
        linear_restrictions(restrictions, NAMES)
