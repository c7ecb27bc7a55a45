"""``OLS.fit_stream`` and ``Logit.fit_stream``: fits on blocks of rows read by a factory, one
pass (or one per Newton iteration), against the in-memory fits and statsmodels."""
from __future__ import annotations

import re

import numpy as np
import pytest

from chainrule.stats import OLS, CollinearityError, Logit

sm = pytest.importorskip("statsmodels.api")

# uneven blocks, an empty one, and one with fewer rows than parameters
BOUNDS = [0, 97, 97, 100, 350, 611, 803]


def _blocks(X, y, bounds=BOUNDS):
    def batches():
        for start, stop in zip(bounds[:-1], bounds[1:]):
            yield X[start:stop], y[start:stop]
    return batches


def _regression(n=803, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1e-2, 1.0, 1e2] + [0.0, 5.0, 0.0]
    y = 1.5 + X @ [30.0, -0.5, 2e-3] + rng.normal(size=n) * (1 + np.abs(X[:, 1] - 5))
    return X, y


def _classification(n=803, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.4 + X @ [0.8, -0.3, 1.2])))).astype(np.float64)
    return X, y


SCALARS = ("rsquared", "rsquared_adj", "fvalue", "f_pvalue", "llf", "aic", "bic", "ssr", "ess", "scale",
           "condition_number", "nobs", "df_resid", "df_model")


@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
def test_ols_fit_stream_equals_the_in_memory_fit(cov_type, intercept):
    X, y = _regression()
    streamed = OLS(cov_type=cov_type, fit_intercept=intercept).fit_stream(_blocks(X, y))
    reference = OLS(cov_type=cov_type, fit_intercept=intercept).fit(X, y)
    np.testing.assert_allclose(streamed.params, reference.params, rtol=1e-10)
    np.testing.assert_allclose(streamed.bse, reference.bse, rtol=1e-10)
    np.testing.assert_allclose(streamed.cov_params(), reference.cov_params(), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(streamed.pvalues, reference.pvalues, rtol=1e-8, atol=1e-300)
    for name in SCALARS:
        np.testing.assert_allclose(getattr(streamed.results_, name), getattr(reference.results_, name),
                                   rtol=1e-10, err_msg=name)
    np.testing.assert_allclose(streamed.coef_, reference.coef_, rtol=1e-10)
    assert streamed.solver_used_ == "tsqr" and streamed.n_batches_ == len(BOUNDS) - 1
    assert streamed.results_.names == reference.results_.names


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC3"])
def test_ols_fit_stream_matches_statsmodels(cov_type):
    X, y = _regression(seed=4)
    streamed = OLS(cov_type=cov_type).fit_stream(_blocks(X, y), feature_names=["a", "b", "c"], target_name="w")
    reference = sm.OLS(y, sm.add_constant(X)).fit(cov_type=cov_type)
    np.testing.assert_allclose(streamed.params, reference.params, rtol=1e-10)
    np.testing.assert_allclose(streamed.bse, reference.bse, rtol=1e-10)
    np.testing.assert_allclose([streamed.rsquared, streamed.llf], [reference.rsquared, reference.llf], rtol=1e-10)
    text = streamed.summary().as_text()
    assert re.search(r"Dep. Variable:\s+w\s", text) and re.search(r"^c\s", text, re.M)


def test_ols_fit_stream_keeps_no_per_row_arrays_and_says_why():
    X, y = _regression()
    model = OLS().fit_stream(_blocks(X, y))
    for name in ("resid", "fittedvalues"):
        with pytest.raises(AttributeError, match=f"{name} is not kept by OLS.fit_stream.*need not fit in memory"):
            getattr(model, name)
        assert not hasattr(model.results_, name)
    np.testing.assert_allclose(model.predict(X[:5]), OLS().fit(X, y).predict(X[:5]), rtol=1e-10)


@pytest.mark.parametrize("settings, match", [
    ({"cov_type": "cluster"}, "cluster sums need every row's group label"),
    ({"solver": "normal"}, "needs solver='qr'"),
    ({"solver": "gd"}, "needs solver='qr'"),
])
def test_ols_fit_stream_refuses_settings_it_cannot_stream(settings, match):
    X, y = _regression()
    with pytest.raises(ValueError, match=match):
        OLS(**settings).fit_stream(_blocks(X, y))


def test_ols_fit_stream_rejects_bad_batches():
    X, y = _regression()
    with pytest.raises(TypeError, match="batches: expected a function of no arguments.*got list"):
        OLS().fit_stream([(X, y)])
    with pytest.raises(ValueError, match="feature_names: expected 3 names"):
        OLS().fit_stream(_blocks(X, y), feature_names=["a"])
    X_nan = X.copy()
    X_nan[400, 1] = np.nan
    with pytest.raises(ValueError, match="block 4: NaN or inf"):
        OLS().fit_stream(_blocks(X_nan, y))
    calls = []

    def shrinking():
        calls.append(1)
        stop = 803 if len(calls) == 1 else 700
        yield X[:stop], y[:stop]
    with pytest.raises(ValueError, match="second pass read 700 rows but the first read 803"):
        OLS(cov_type="HC1").fit_stream(shrinking)


def test_ols_fit_stream_names_collinear_columns():
    X, y = _regression()
    X = np.column_stack([X, 2.0 * X[:, 0] - X[:, 2]])
    with pytest.raises(CollinearityError, match="rank deficient"):
        OLS().fit_stream(_blocks(X, y), feature_names=["a", "b", "c", "d"])


def test_logit_fit_stream_equals_the_in_memory_fit():
    X, y = _classification()
    streamed = Logit(tol=1e-10).fit_stream(_blocks(X, y), feature_names=["a", "b", "c"], target_name="buy")
    reference = Logit(tol=1e-10).fit(X, y)
    np.testing.assert_allclose(streamed.params, reference.params, rtol=1e-8)
    np.testing.assert_allclose(streamed.bse, reference.bse, rtol=1e-8)
    for name in ("llf", "llnull", "prsquared", "llr_pvalue", "aic", "bic", "nobs", "df_model", "df_resid"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(reference, name), rtol=1e-8, err_msg=name)
    np.testing.assert_allclose(streamed.predict_proba(X[:7]), reference.predict_proba(X[:7]), rtol=1e-8)
    assert streamed.converged_ and streamed.n_batches_ == len(BOUNDS) - 1
    assert streamed.param_names_ == ["const", "a", "b", "c"] and "buy" in streamed.summary().as_text()
    with pytest.raises(ValueError, match="get_margeff.*does not keep"):
        streamed.get_margeff()


def test_logit_fit_stream_matches_statsmodels_without_intercept():
    X, y = _classification(seed=6)
    streamed = Logit(fit_intercept=False, tol=1e-10).fit_stream(_blocks(X, y))
    reference = sm.Logit(y, X).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(streamed.params, reference.params, rtol=1e-8)
    np.testing.assert_allclose(streamed.bse, reference.bse, rtol=1e-7)
    np.testing.assert_allclose([streamed.llf, streamed.llnull], [reference.llf, reference.llnull], rtol=1e-10)


def test_logit_fit_stream_rejects_bad_targets_settings_and_separation():
    X, y = _classification()
    with pytest.raises(ValueError, match=r"block 2: y: expected targets 0 or 1; got 1 other values, e.g. \[2.0\]"):
        Logit().fit_stream(_blocks(X, np.where(np.arange(803) == 98, 2.0, y)))
    with pytest.raises(ValueError, match="expected both classes 0 and 1; all 803 targets are 0"):
        Logit().fit_stream(_blocks(X, np.zeros(803)))
    with pytest.raises(ValueError, match="solver: expected 'newton'"):
        Logit(solver="gd").fit_stream(_blocks(X, y))
    with pytest.raises(TypeError, match="batches: expected a function"):
        Logit().fit_stream(iter([(X, y)]))
    with pytest.raises(ValueError, match="distributed: expected False"):
        Logit(distributed=True).fit_stream(_blocks(X, y))
    separated = (X[:, 0] > 0).astype(np.float64)
    with pytest.raises(ValueError, match=r"classifies every row correctly \(complete separation\): the classes are"):
        Logit().fit_stream(_blocks(X, separated))
    duplicated = np.column_stack([X, X[:, 1]])
    with pytest.raises(ValueError, match="X'WX is singular: .*separated.* or the columns are collinear"):
        Logit().fit_stream(_blocks(duplicated, y))


# ----------------------------------------------------------------------------- distributed Logit

def _mpi_runner():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "mpi"))
    import runner  # noqa: PLC0415

    return runner


def test_logit_distributed_refuses_other_solvers_and_non_bool():
    X, y = _classification()
    with pytest.raises(ValueError, match="distributed=True fits by Newton.*got 'gd'"):
        Logit(solver="gd", distributed=True).fit(X, y)
    with pytest.raises(TypeError, match="distributed: expected True or False; got 'yes'"):
        Logit(distributed="yes").fit(X, y)


def test_logit_distributed_on_two_ranks_equals_the_single_process_fit(tmp_path):
    runner = _mpi_runner()
    if runner.missing_reason() is not None:
        pytest.skip(runner.missing_reason())
    import fit_logit  # noqa: PLC0415 - tests/mpi, put on sys.path by _mpi_runner

    X, y = fit_logit.data()
    reference = Logit(tol=1e-10).fit(X, y)
    single = runner.run_single("fit_logit.py", tmp_path / "one.npz")
    assert single.returncode == 0, single.stderr
    two = runner.run("fit_logit.py", tmp_path / "two.npz", ranks=2)
    assert two.returncode == 0, two.stderr
    for name in ("one", "two"):
        got = np.load(tmp_path / f"{name}.npz")
        np.testing.assert_allclose(got["params"], reference.params, rtol=1e-10)
        np.testing.assert_allclose(got["bse"], reference.bse, rtol=1e-10)
        np.testing.assert_allclose(got["scalars"], [reference.llf, reference.llnull, reference.nobs,
                                                    reference.prsquared, reference.aic], rtol=1e-10)
        np.testing.assert_allclose(got["proba"], reference.predict_proba(X[:5]), rtol=1e-10)
        assert got["classes"].tolist() == [3.0, 7.0]
