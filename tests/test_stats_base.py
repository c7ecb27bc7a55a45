"""The shared pieces of chainrule.stats: estimator protocol, input validation, Wald inference, tables."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

import chainrule as cr
from chainrule.stats import OLS, Estimator, NotFittedError, Summary, wald
from chainrule.stats.validation import (
    DataConversionWarning,
    as_design,
    as_labels,
    as_target,
    check_binary,
    check_columns,
    check_enough_rows,
)


class Toy(Estimator):
    def __init__(self, alpha=1.0, fit_intercept=True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        self.coef_ = np.zeros(np.asarray(X).shape[1])
        return self


def test_get_and_set_params():
    toy = Toy(alpha=2.0)
    assert toy.get_params() == {"alpha": 2.0, "fit_intercept": True}
    assert toy.set_params(fit_intercept=False) is toy and toy.fit_intercept is False
    with pytest.raises(ValueError, match="unknown parameter 'beta'; valid: alpha, fit_intercept"):
        toy.set_params(beta=1)


def test_repr_shows_changed_params_only():
    assert repr(Toy()) == "Toy()"
    assert repr(Toy(alpha=0.5)) == "Toy(alpha=0.5)"


def test_check_fitted():
    with pytest.raises(NotFittedError, match="Toy is not fitted yet"):
        Toy()._check_fitted()
    Toy().fit(np.ones((3, 2)), np.ones(3))._check_fitted()


def test_not_fitted_error_is_a_value_and_attribute_error_and_sklearns_once_imported():
    exceptions = pytest.importorskip("sklearn.exceptions")
    with pytest.raises(NotFittedError) as caught:
        Toy()._check_fitted()
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, AttributeError)
    assert isinstance(error, exceptions.NotFittedError)  # scikit-learn is imported here
    assert not hasattr(OLS(), "params")  # an AttributeError: hasattr says False before a fit
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is NotFittedError and again.args == error.args


def test_not_fitted_error_without_importing_sklearn():
    code = (
        "import sys; import numpy as np; from chainrule.stats import OLS, NotFittedError\n"
        "try:\n    OLS().predict(np.ones((2, 2)))\n"
        "except NotFittedError as error:\n    assert type(error) is NotFittedError, type(error)\n"
        "assert 'sklearn' not in sys.modules, 'chainrule.stats imported scikit-learn'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sklearn_clone_keeps_params():
    base = pytest.importorskip("sklearn.base")
    copy = base.clone(Toy(alpha=3.0))
    assert isinstance(copy, Toy) and copy.alpha == 3.0 and not hasattr(copy, "coef_")


@pytest.mark.parametrize("make", [
    lambda a: a,
    lambda a: cr.tensor(a),
    lambda a: a.tolist(),
])
def test_as_design_accepts_arrays_tensors_lists(make):
    data = np.arange(6.0).reshape(3, 2)
    values, names = as_design(make(data))
    np.testing.assert_array_equal(values, data)
    assert values.dtype == np.float64 and names == ["x1", "x2"]


def test_as_design_keeps_dataframe_names_and_rejects_text():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"age": [1, 2, 3], "income": [1.0, 2.0, 4.0]})
    values, names = as_design(frame)
    assert names == ["age", "income"] and values.shape == (3, 2)
    with pytest.raises(ValueError, match="not: city"):
        as_design(frame.assign(city=["a", "b", "c"]))


def test_nan_is_reported_by_column_and_row():
    X = np.ones((5, 3))
    X[3, 1] = np.nan
    X[4, 1] = np.inf
    with pytest.raises(ValueError, match=r"x2 \(2 of 5 rows, first at row 3\)"):
        as_design(X)


def test_target_length_and_shape():
    with pytest.raises(ValueError, match="y has 2 rows but X has 3"):
        as_target([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="expected a 1-D target; got shape"):
        as_target(np.ones((3, 2)), 3)
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed when a 1d array was expected"):
        values, name = as_target(np.ones((3, 1)), 3)
    assert values.shape == (3,) and name == "y"


@pytest.mark.parametrize("X, error, match", [
    (np.arange(4.0), ValueError, r"Expected 2D array, got 1D array instead \(shape \(4,\)\)\. Reshape your data"),
    (np.float64(2.0), ValueError, "Expected 2D array, got a scalar"),
    (np.ones((2, 2, 2)), ValueError, r"expected a 2-D array \(rows x columns\); got shape \(2, 2, 2\)"),
    (np.empty((0, 3)), ValueError, r"0 sample\(s\) and 3 feature\(s\) \(shape=\(0, 3\)\) while a minimum of 1"),
    (np.empty((4, 0)), ValueError, r"0 feature\(s\) \(shape=\(4, 0\)\) while a minimum of 1 is required"),
    (np.ones((3, 2)) + 1j, ValueError, "Complex data not supported; got dtype complex128"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "expected numeric data; got dtype <U1"),
    (np.array([[1.0, "a"], [2.0, 3.0]], dtype=object), ValueError, "holds a value that is not a number: could not"),
    (np.array([[1.0, {}], [2.0, 3.0]], dtype=object), TypeError, "not a number: float.. argument must be a string or"),
    (np.array(["2020-01-01"], dtype="datetime64[D]").reshape(1, 1), ValueError, "expected numeric data"),
])
def test_as_design_refuses_what_it_cannot_read(X, error, match):
    with pytest.raises(error, match=match):
        as_design(X)


def test_as_design_refuses_sparse_and_converts_numeric_objects():
    sparse = pytest.importorskip("scipy.sparse")
    for matrix in (sparse.csr_matrix(np.eye(3)), sparse.csc_array(np.eye(3))):
        with pytest.raises(TypeError, match="X: sparse input is not supported .* convert it with X.toarray()"):
            as_design(matrix)
        with pytest.raises(TypeError, match="y: sparse input is not supported"):
            as_target(matrix, 3)
    values, _ = as_design(np.array([[1, 2.5], [3, 4]], dtype=object))
    assert values.dtype == np.float64 and values.tolist() == [[1.0, 2.5], [3.0, 4.0]]
    target, _ = as_target(np.array([1, 2.5, 3], dtype=object), 3)
    assert target.dtype == np.float64 and target.tolist() == [1.0, 2.5, 3.0]


def test_as_target_refuses_none_complex_and_text():
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        as_target(None, 3)
    with pytest.raises(ValueError, match="Complex data not supported"):
        as_target(np.ones(3) + 1j, 3)
    with pytest.raises(ValueError, match="expected numeric data; got dtype <U1"):
        as_target(np.array(["a", "b", "c"]), 3)


def test_duplicate_and_constant_columns_are_named():
    X = np.column_stack([np.arange(4.0), np.arange(4.0)])
    with pytest.raises(ValueError, match="columns 'a' and 'b' are identical"):
        check_columns(X, ["a", "b"], fit_intercept=True)
    X = np.column_stack([np.arange(4.0), np.full(4, 2.0)])
    with pytest.raises(ValueError, match="'c' are constant"):
        check_columns(X, ["a", "c"], fit_intercept=True)
    check_columns(X, ["a", "c"], fit_intercept=False)


def test_duplicates_and_constants_are_judged_on_all_rows_not_just_the_first():
    rng = np.random.default_rng(0)
    n = 2_000
    base = rng.normal(size=n)
    late = base.copy()
    late[1_500] += 1.0  # equal to base on the first rows (the candidates), different later
    step = np.r_[np.zeros(1_000), np.ones(n - 1_000)]  # constant on the first rows only
    X = np.column_stack([base, late, step, rng.normal(size=n)])
    check_columns(X, ["base", "late", "step", "noise"], fit_intercept=True)  # nothing to report
    X = np.column_stack([base, late, -0.0 * base, step, 0.0 * base, late])
    with pytest.raises(ValueError, match="columns 'z1' and 'z2' are identical"):  # -0.0 equals 0.0
        check_columns(X[:, 2:5], ["z1", "step", "z2"], fit_intercept=False)
    with pytest.raises(ValueError, match="columns 'late' and 'late again' are identical"):
        check_columns(X[:, [0, 1, 5]], ["base", "late", "late again"], fit_intercept=True)
    X = np.column_stack([base, np.full(n, 3.0), step, np.full(n, -1.0)])
    with pytest.raises(ValueError, match="'three', 'minus one' are constant"):
        check_columns(X, ["base", "three", "step", "minus one"], fit_intercept=True)


def test_finite_check_reads_through_overflowing_sums():
    X = np.full((4, 2), 1e308)  # finite, but each column sums to inf
    values, _ = as_design(X)
    assert values is X or np.shares_memory(values, X)  # float64 input is not copied
    X[2, 1] = -np.inf
    with pytest.raises(ValueError, match=r"x2 \(1 of 4 rows, first at row 2\)"):
        as_design(X)


def test_rows_and_binary_checks():
    with pytest.raises(ValueError, match="3 rows are too few for 3 parameters"):
        check_enough_rows(3, 3, "OLS")
    with pytest.raises(ValueError, match="Only binary classification is supported .* 3 classes .* use MNLogit"):
        check_binary(np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="Logit needs 2 classes; got 1 class"):
        check_binary(np.array([1.0, 1.0]))
    classes, y01 = check_binary(np.array([2.0, 5.0, 5.0]))
    np.testing.assert_array_equal(classes, [2.0, 5.0])
    np.testing.assert_array_equal(y01, [0.0, 1.0, 1.0])
    classes, y01 = check_binary(np.array(["spam", "ham", "spam"]))
    assert classes.tolist() == ["ham", "spam"] and y01.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("y, match", [
    (np.array([0.0, 0.5, 1.0]), "Unknown label type: continuous .the value 0.5 is not a whole number"),
    (np.array([0.0, np.nan, 1.0]), "NaN or inf"),
    (np.array(["a", None, "b"], dtype=object), r"missing class labels \(None or NaN\) at rows \[1\]"),
    (np.array(["a", 1, "b"], dtype=object), r"Unknown label type: the labels mix types \(int, str\)"),
    (np.ones(3) + 1j, "Complex data not supported"),
    (None, "requires y to be passed, but the target y is None"),
])
def test_as_labels_refuses_what_is_not_a_class_label(y, match):
    with pytest.raises(ValueError, match=match):
        as_labels(y, 3)


def test_as_labels_keeps_any_labels():
    for y in (np.array(["b", "a", "b"]), np.array([True, False, True]), np.array([3, 1, 3]),
              np.array([2.0, 1.0, 2.0]), np.array(["b", "a", "b"], dtype=object)):
        labels, _ = as_labels(y, 3)
        np.testing.assert_array_equal(labels, y)


@pytest.mark.parametrize("df", [None, 7, 120])
def test_wald_matches_distribution_formulas(df):
    params, bse = np.array([1.5, -0.2, 0.0]), np.array([0.5, 0.4, 1.0])
    result = wald(params, bse, df_resid=df, alpha=0.1)
    dist = sps.norm if df is None else sps.t(df)
    t = params / bse
    np.testing.assert_allclose(result["statistic"], t)
    np.testing.assert_allclose(result["pvalues"], 2 * (1 - dist.cdf(np.abs(t))), rtol=1e-12)
    q = dist.ppf(0.95)
    np.testing.assert_allclose(result["conf_int"], np.column_stack([params - q * bse, params + q * bse]))


def test_wald_rejects_bad_alpha():
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\); got 1.5"):
        wald([1.0], [1.0], alpha=1.5)


def test_summary_text_and_html():
    w = wald([1.0, -0.5], [0.2, 0.5], df_resid=30)
    table = Summary("OLS Regression Results", [("Dep. Variable", "wage"), ("No. Observations", 32)],
                    ["const", "educ<"], [1.0, -0.5], [0.2, 0.5], w["statistic"], w["pvalues"], w["conf_int"],
                    notes=["nonrobust covariance"])
    text = table.as_text()
    assert "OLS Regression Results" in text and "P>|t|" in text and "[0.025" in text
    row = next(line for line in text.splitlines() if line.startswith("const"))
    assert row.split() == ["const", "1.0000", "0.2000", "5.000", "0.000", "0.5915", "1.4085"]
    assert "Note: nonrobust covariance" in text
    page = table.as_html()
    assert "<caption>OLS Regression Results</caption>" in page and "educ&lt;" in page
