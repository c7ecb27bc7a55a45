"""Cluster-robust DML (``fit(..., clusters=...)``, :mod:`chainrule.causal.clusters`) against
DoubleML's cluster data (``DoubleMLData(cluster_cols=...)``): one- and two-way clustering,
PLR, IRM and PLIV, on the same folds and learners (1e-8); the folds never split a cluster;
bad cluster input and the bootstrap are refused with clear errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

dml = pytest.importorskip("doubleml")
sklearn_linear = pytest.importorskip("sklearn.linear_model")
from doubleml.irm.datasets import make_irm_data  # noqa: E402
from doubleml.plm.datasets import make_pliv_multiway_cluster_CKMS2021  # noqa: E402

from chainrule.causal import IRM, PLIV, PLR, cluster_fold_sets, make_cluster_folds  # noqa: E402

LinearRegression, LogisticRegression = sklearn_linear.LinearRegression, sklearn_linear.LogisticRegression
TOL = 1e-8


@pytest.fixture(scope="module")
def panel():
    np.random.seed(21)
    data = make_pliv_multiway_cluster_CKMS2021(N=20, M=15, dim_X=6, theta=1.0, return_type="DoubleMLData")
    return data.data


def doubleml_fit(model, data, learners, n_folds, n_rep, seed, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(seed)
        fitted = model(data, *learners, n_folds=n_folds, n_rep=n_rep, **kwargs)
        return fitted.fit()


def assert_same(reference, ours):
    np.testing.assert_allclose(ours.params, reference.coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.bse, reference.se, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.all_params, reference.all_coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.all_bse, reference.all_se, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.pvalues, reference.pval, rtol=0, atol=TOL)
    np.testing.assert_allclose(np.asarray(ours.conf_int()), reference.confint().to_numpy(), rtol=0, atol=TOL)


XS = [f"X{i}" for i in range(1, 7)]


@pytest.mark.parametrize("ways", [1, 2])
@pytest.mark.parametrize("score", ["partialling out", "IV-type"])
@pytest.mark.parametrize("n_rep", [1, 2])
def test_plr_with_clusters_equals_doubleml(panel, ways, score, n_rep):
    cluster_cols = ["cluster_var_i", "cluster_var_j"][:ways]
    data = dml.DoubleMLData(panel, "Y", "D", x_cols=XS, cluster_cols=cluster_cols)
    extra = {"ml_g": LinearRegression()} if score == "IV-type" else {}
    reference = doubleml_fit(dml.DoubleMLPLR, data, (LinearRegression(), LinearRegression()), 3, n_rep, 5,
                             score=score, **extra)
    ours = PLR(LinearRegression(), LinearRegression(), score=score, n_folds=3, **extra).fit(
        panel[XS], panel["Y"], panel["D"], folds=reference.smpls, clusters=panel[cluster_cols])
    assert_same(reference, ours.results_)
    assert ours.results_.clusters == {name: panel[name].nunique() for name in cluster_cols}
    text = ours.summary().as_text()
    assert "robust to clustering by" in text and "cluster_var_i" in text


@pytest.mark.parametrize("ways", [1, 2])
def test_pliv_with_clusters_equals_doubleml(panel, ways):
    cluster_cols = ["cluster_var_i", "cluster_var_j"][:ways]
    data = dml.DoubleMLData(panel, "Y", "D", x_cols=XS, z_cols="Z", cluster_cols=cluster_cols)
    reference = doubleml_fit(dml.DoubleMLPLIV, data, (LinearRegression(),) * 3, 2, 1, 8)
    ours = PLIV(LinearRegression(), LinearRegression(), LinearRegression(), n_folds=2).fit(
        panel[XS], panel["Y"], panel["D"], panel[["Z"]], folds=reference.smpls, clusters=panel[cluster_cols])
    assert_same(reference, ours.results_)


@pytest.mark.parametrize("score", ["ATE", "ATTE"])
def test_irm_with_one_way_clusters_equals_doubleml(score):
    np.random.seed(4)
    frame = make_irm_data(n_obs=400, dim_x=4, theta=0.5, return_type="DataFrame")
    frame["firm"] = np.repeat(np.arange(40), 10)
    xs = [c for c in frame.columns if c.startswith("X")]
    data = dml.DoubleMLData(frame, "y", "d", x_cols=xs, cluster_cols="firm")
    reference = doubleml_fit(dml.DoubleMLIRM, data, (LinearRegression(), LogisticRegression()), 4, 1, 9,
                             score=score)
    ours = IRM(LinearRegression(), LogisticRegression(), score=score, n_folds=4).fit(
        frame[xs], frame["y"], frame["d"], folds=reference.smpls, clusters=frame["firm"])
    assert_same(reference, ours.results_)


@pytest.mark.parametrize("ways", [1, 2])
def test_our_cluster_folds_give_doubleml_numbers_too(panel, ways):
    """Folds drawn by make_cluster_folds, handed to DoubleML with their cluster sets."""
    cluster_cols = ["cluster_var_i", "cluster_var_j"][:ways]
    ours = PLR(LinearRegression(), LinearRegression(), n_folds=3, random_state=2).fit(
        panel[XS], panel["Y"], panel["D"], clusters=panel[cluster_cols])
    folds = ours.folds_
    codes = np.column_stack([np.unique(panel[c], return_inverse=True)[1] for c in cluster_cols])
    labels = [np.unique(panel[c]) for c in cluster_cols]
    cluster_sets = []
    for rep in folds:
        K, sets = cluster_fold_sets(codes, rep)
        cluster_sets.append([([np.setdiff1d(labels[j], labels[j][chosen[j]]) for j in range(ways)],
                              [labels[j][chosen[j]] for j in range(ways)]) for chosen in sets])
    data = dml.DoubleMLData(panel, "Y", "D", x_cols=XS, cluster_cols=cluster_cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = dml.DoubleMLPLR(data, LinearRegression(), LinearRegression(), n_folds=3,
                                    draw_sample_splitting=False)
        reference.set_sample_splitting(folds, cluster_sets)
        reference.fit()
    assert_same(reference, ours.results_)


@pytest.mark.parametrize("ways", [1, 2])
def test_cluster_folds_never_split_a_cluster(ways):
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.integers(0, 13, 500), rng.integers(0, 11, 500)])[:, :ways]
    for rep in make_cluster_folds(codes, 4, 2, random_state=1):
        assert len(rep) == 4 ** ways
        tests = np.sort(np.concatenate([test for _, test in rep]))
        np.testing.assert_array_equal(tests, np.arange(500))  # the test sets partition the rows
        for train, test in rep:
            for j in range(ways):  # no cluster on both sides of a fold
                assert np.intersect1d(codes[train, j], codes[test, j]).size == 0
        K, sets = cluster_fold_sets(codes, rep)
        assert K == 4 and all(len(chosen) == ways for chosen in sets)


def test_bootstrap_is_refused_and_bad_clusters_are_errors(panel):
    fitted = PLR(LinearRegression(), LinearRegression(), n_folds=3, random_state=0).fit(
        panel[XS], panel["Y"], panel["D"], clusters=panel["cluster_var_i"])
    with pytest.raises(ValueError, match="not available for a cluster-robust fit"):
        fitted.results_.bootstrap()
    model = PLR(LinearRegression(), LinearRegression(), n_folds=3)
    X, y, d = panel[XS], panel["Y"], panel["D"]
    with pytest.raises(ValueError, match="one row per observation"):
        model.fit(X, y, d, clusters=panel["cluster_var_i"].to_numpy()[:-1])
    with pytest.raises(ValueError, match="one or two columns"):
        model.fit(X, y, d, clusters=np.zeros((len(y), 3)))
    with pytest.raises(ValueError, match="non-finite"):
        model.fit(X, y, d, clusters=np.where(np.arange(len(y)) == 3, np.nan, 1.0))
    with pytest.raises(ValueError, match="exceeds the number of clusters"):
        PLR(LinearRegression(), LinearRegression(), n_folds=5).fit(X, y, d, clusters=np.arange(len(y)) % 3)
    row_folds = PLR(LinearRegression(), LinearRegression(), n_folds=3, random_state=0).fit(X, y, d).folds_
    with pytest.raises(ValueError, match="a cluster is split between folds"):
        model.fit(X, y, d, folds=row_folds, clusters=panel["cluster_var_i"])
    with pytest.raises(ValueError, match="must number K"):
        model.fit(X, y, d, folds=row_folds, clusters=panel[["cluster_var_i", "cluster_var_j"]])
