"""Named results: a fit on a DataFrame gives statsmodels' pandas results (Series indexed by the
parameter names, "const" for the intercept; DataFrames for conf_int() and cov_params(); for
MNLogit DataFrames of names x classes and (class, name) MultiIndexes), equal to statsmodels'
including the index; arrays in, arrays out."""
from __future__ import annotations

import numpy as np
import pytest

from chainrule.datasets import load_grunfeld
from chainrule.stats import OLS, Logit, MNLogit

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

RTOL = 1e-8  # estimates of iterative fits (Logit, MNLogit) agree to the solvers' tolerance
RTOL_P = 1e-10  # OLS p-values


@pytest.fixture(scope="module")
def grunfeld():
    frame = load_grunfeld(as_frame=True)
    return frame[["value", "capital"]], frame["invest"], frame["firm"]


def _series_names(results):
    return {name: getattr(results, name) for name in ("params", "bse", "tvalues", "pvalues")}


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "HC3", "cluster"])
def test_ols_results_are_statsmodels_pandas_results(grunfeld, cov_type):
    X, y, firm = grunfeld
    groups = firm if cov_type == "cluster" else None
    model = OLS(cov_type=cov_type).fit(X, y, groups=groups)
    kwds = {"groups": pd.factorize(firm)[0]} if cov_type == "cluster" else None
    ref = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov_type, cov_kwds=kwds)
    for name, ours in _series_names(model).items():
        pd.testing.assert_series_equal(ours, getattr(ref, name), rtol=RTOL_P, obj=name)
    assert list(model.params.index) == ["const", "value", "capital"]
    pd.testing.assert_frame_equal(model.conf_int(), ref.conf_int(), rtol=RTOL_P)
    pd.testing.assert_frame_equal(model.conf_int(alpha=0.1), ref.conf_int(alpha=0.1), rtol=RTOL_P)
    pd.testing.assert_frame_equal(model.cov_params(), ref.cov_params(), rtol=RTOL_P)
    pd.testing.assert_series_equal(model.resid, ref.resid, rtol=1e-9, atol=1e-9)
    pd.testing.assert_series_equal(model.fittedvalues, ref.fittedvalues, rtol=1e-12)
    assert model.results_.params.equals(model.params)
    # scikit-learn's attributes stay arrays
    assert type(model.coef_) is np.ndarray and isinstance(model.intercept_, float)


def test_ols_keeps_the_row_index_of_the_data(grunfeld):
    X, y, _ = grunfeld
    X, y = X.iloc[::2].set_axis(range(1000, 1110)), y.iloc[::2].set_axis(range(1000, 1110))
    model = OLS().fit(X, y)
    assert list(model.resid.index) == list(range(1000, 1110))
    assert list(model.get_influence().summary_frame().index) == list(range(1000, 1110))


def test_arrays_in_arrays_out(grunfeld):
    X, y, _ = grunfeld
    model = OLS().fit(X.to_numpy(), y.to_numpy())
    named = OLS().fit(X, y)
    for name in ("params", "bse", "tvalues", "pvalues", "resid", "fittedvalues"):
        assert type(getattr(model, name)) is np.ndarray, name
        np.testing.assert_array_equal(getattr(model, name), getattr(named, name).to_numpy())
    assert model.conf_int().shape == (3, 2) and type(model.cov_params()) is np.ndarray
    np.testing.assert_array_equal(model.conf_int(), named.conf_int().to_numpy())
    assert model.results_.names == ["const", "x1", "x2"]  # the default names (restriction strings use them)


def test_a_frame_without_string_column_names_gives_arrays(grunfeld):
    """scikit-learn's rule for feature names (``feature_names_in_``): all column names strings."""
    X, y, _ = grunfeld
    model = OLS().fit(X.set_axis([0, 1], axis=1), y)
    assert type(model.params) is np.ndarray


def test_ols_fit_stream_is_named_when_given_feature_names(grunfeld):
    X, y, _ = grunfeld
    def blocks():
        return iter([(X.to_numpy()[:100], y.to_numpy()[:100]), (X.to_numpy()[100:], y.to_numpy()[100:])])
    named = OLS().fit_stream(blocks, feature_names=["value", "capital"], target_name="invest")
    plain = OLS().fit_stream(blocks)
    pd.testing.assert_series_equal(named.params, OLS().fit(X, y).params, rtol=1e-10)
    assert type(plain.params) is np.ndarray


def test_summary_cli_style_consumers_still_read_arrays(grunfeld):
    X, y, _ = grunfeld
    model = OLS(cov_type="HC1").fit(X, y)
    text = model.summary().as_text()
    assert "value" in text and "const" in text
    values, interval = np.asarray(model.params, dtype=float), np.asarray(model.conf_int(), dtype=float)
    assert values.shape == (3,) and interval.shape == (3, 2)


def _binary_frame(n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["age", "income", "score"])
    eta = 0.3 + X.to_numpy() @ [0.8, -0.5, 0.2]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float), name="bought")
    return X, y


def test_logit_results_are_statsmodels_pandas_results():
    X, y = _binary_frame()
    model = Logit(tol=1e-12).fit(X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12)
    for name, ours in _series_names(model).items():
        pd.testing.assert_series_equal(ours, getattr(ref, name), rtol=RTOL, obj=name)
    pd.testing.assert_frame_equal(model.conf_int(), ref.conf_int(), rtol=RTOL)
    pd.testing.assert_frame_equal(model.cov_params(), ref.cov_params(), rtol=RTOL)
    assert type(model.coef_) is np.ndarray
    assert "Logit Regression Results" in model.summary().as_text()
    model.get_margeff()  # reads the arrays it needs


def test_logit_arrays_in_arrays_out():
    X, y = _binary_frame()
    model = Logit().fit(X.to_numpy(), y.to_numpy())
    assert type(model.params) is np.ndarray and model.conf_int().shape == (4, 2)
    assert type(model.cov_params()) is np.ndarray


@pytest.mark.parametrize("labels", [[0, 1, 2], ["u", "v", "w"]])
def test_mnlogit_results_are_statsmodels_pandas_results(labels):
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(600, 2)), columns=["a", "b"])
    logits = np.column_stack([np.zeros(600), 0.2 + X @ [0.8, -0.4], -0.1 + X @ [-0.3, 0.9]])
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = np.array([rng.choice(3, p=row) for row in P])
    y = pd.Series(np.asarray(labels, dtype=object)[codes], name="choice")
    if isinstance(labels[0], int):
        y = y.astype(int)
    model = MNLogit(tol=1e-12).fit(X, y)
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, tol=1e-12, method="newton")
    for name, ours in _series_names(model).items():
        pd.testing.assert_frame_equal(ours, getattr(ref, name), rtol=RTOL, obj=name)
    assert list(model.params.columns) == [0, 1]  # statsmodels' columns: positions of the non-reference classes
    pd.testing.assert_frame_equal(model.conf_int(), ref.conf_int(), rtol=RTOL)
    pd.testing.assert_frame_equal(model.cov_params(), ref.cov_params(), rtol=RTOL)
    assert model.conf_int().index.names == ["choice", None]
    assert model.coef_.shape == (2, 2) and type(model.coef_) is np.ndarray
    model.get_margeff()


def test_mnlogit_arrays_in_arrays_out():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    y = rng.integers(0, 3, 300)
    model = MNLogit().fit(X, y)
    assert type(model.params) is np.ndarray and model.params.shape == (3, 2)
    assert model.conf_int().shape == (3, 2, 2) and model.cov_params().shape == (6, 6)


def test_named_results_survive_pickling(grunfeld):
    import pickle

    X, y, _ = grunfeld
    model = pickle.loads(pickle.dumps(OLS().fit(X, y)))
    pd.testing.assert_series_equal(model.params, OLS().fit(X, y).params)
    assert model.get_influence().summary_frame().shape == (220, 9)
    frame, target = _binary_frame()
    logit = pickle.loads(pickle.dumps(Logit().fit(frame, target)))
    assert list(logit.params.index) == ["const", "age", "income", "score"]
