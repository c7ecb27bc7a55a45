"""PCA against scikit-learn's PCA (up to sign) and the SVD; PCR against a scikit-learn
Pipeline(PCA, LinearRegression) and against brute-force cross-validation refits."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import decomposition
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import chainrule
from chainrule.stats import PCA, PCR, NotFittedError


def _generated(n=150, p=8, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    X = latent @ rng.normal(size=(3, p)) * 2 + rng.normal(0, 0.3, (n, p)) + rng.normal(0, 5, p)
    y = latent @ np.array([1.5, -1.0, 0.5]) + rng.normal(0, 0.5, n)
    return X, y


def _datasets():
    Xd, yd = load_diabetes(return_X_y=True)
    Xw = np.random.default_rng(1).normal(size=(10, 25))  # wide: n < p
    return {"generated": _generated()[0], "diabetes": Xd, "wide": Xw}


def _signs(a, b):
    """Per-row signs s with a ≈ s * b (rows: components)."""
    return np.sign(np.sum(a * b, axis=1))[:, None]


@pytest.mark.parametrize("dataset", ["generated", "diabetes", "wide"])
@pytest.mark.parametrize("n_components", [None, 3, 0.9])
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_sklearn_up_to_sign(dataset, n_components, whiten):
    X = _datasets()[dataset]
    ours = PCA(n_components=n_components, whiten=whiten).fit(X)
    ref = decomposition.PCA(n_components=n_components, whiten=whiten, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
    k = ours.n_components_
    signs = _signs(ours.components_, ref.components_)
    np.testing.assert_allclose(ours.components_, signs * ref.components_, atol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=1e-9, abs=1e-12)
    # transforms: a variance-0 trailing direction (wide data) is arbitrary, compare the rest
    keep = ours.explained_variance_ > 1e-12 * ours.explained_variance_[0]
    Z, Zref = ours.transform(X), ref.transform(X)
    np.testing.assert_allclose((Z * signs.T)[:, keep], Zref[:, keep], atol=1e-8)
    np.testing.assert_allclose(PCA(n_components, whiten=whiten).fit_transform(X)[:, keep], Z[:, keep], atol=1e-8)
    Zs = Z[:, keep]
    back = ours.inverse_transform(Z)
    np.testing.assert_allclose(back, ref.inverse_transform(Zref if keep.all() else Z * signs.T), atol=1e-8)
    if whiten:
        np.testing.assert_allclose(Zs.var(axis=0, ddof=1), 1.0, rtol=1e-8)
    assert k == len(ours.explained_variance_)


def test_svd_relation_and_full_reconstruction():
    X, _ = _generated()
    pca = PCA().fit(X)
    Xc = X - X.mean(axis=0)
    U = pca.transform(X) / pca.singular_values_  # scores Z = U S
    np.testing.assert_allclose(U.T @ U, np.eye(pca.n_components_), atol=1e-10)
    np.testing.assert_allclose((U * pca.singular_values_) @ pca.components_, Xc, atol=1e-9)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-9)
    eigenvalues = np.linalg.eigvalsh(np.cov(X, rowvar=False))[::-1]
    np.testing.assert_allclose(pca.explained_variance_, eigenvalues, rtol=1e-9)
    assert pca.explained_variance_ratio_.sum() == pytest.approx(1.0)
    # scikit-learn's sign convention: the largest |loading| of each component is positive
    rows = np.arange(pca.n_components_)
    assert np.all(pca.components_[rows, np.argmax(np.abs(pca.components_), axis=1)] > 0)


def test_pca_inputs_names_summary_and_validation():
    X, _ = load_diabetes(return_X_y=True, as_frame=True)
    from_frame = PCA(2).fit(X)
    from_tensor = PCA(2).fit(chainrule.tensor(X.to_numpy()))
    np.testing.assert_allclose(from_frame.components_, from_tensor.components_)
    assert from_frame.feature_names_ == list(X.columns)
    text = from_frame.summary().as_text()
    assert "PC2" in text and "cumulative" in text and "<table" in from_frame.summary().as_html()
    with pytest.raises(ValueError, match="n_components=11"):
        PCA(11).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        PCA(1.5).fit(X)
    with pytest.raises(ValueError, match="bmi"):
        PCA().fit(X.assign(bmi=np.where(X.index == 4, np.inf, X["bmi"])))
    with pytest.raises(ValueError, match="seen at fit time, yet now missing:\n- s6"):
        from_frame.transform(X.iloc[:, :9])
    with pytest.raises(ValueError, match="X has 9 features, but PCA is expecting 10 features as input"):
        from_frame.transform(X.iloc[:, :9].to_numpy())
    with pytest.raises(ValueError, match="3 columns but PCA has 2"):
        from_frame.inverse_transform(np.zeros((4, 3)))
    with pytest.raises(NotFittedError, match="not fitted"):
        PCA().transform(X)


def test_pca_inside_sklearn_pipeline_and_clone():
    X, y = load_diabetes(return_X_y=True)
    pca = PCA(n_components=4, whiten=True)
    assert clone(pca).get_params() == {"n_components": 4, "whiten": True}
    assert repr(pca) == "PCA(n_components=4, whiten=True)"
    ours = make_pipeline(PCA(4), LinearRegression()).fit(X, y)
    ref = make_pipeline(decomposition.PCA(4), LinearRegression()).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9)
    scores = cross_val_score(make_pipeline(PCA(4), LinearRegression()), X, y, cv=3)
    assert np.all(np.isfinite(scores))


@pytest.mark.parametrize("k", [1, 3, 7, 10])
@pytest.mark.parametrize("scale", [False, True])
def test_pcr_matches_sklearn_pipeline(k, scale):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X = X * np.linspace(1, 40, X.shape[1])  # unequal scales, so scale=True matters
    ours = PCR(n_components=k, scale=scale).fit(X, y)
    steps = ([StandardScaler()] if scale else []) + [decomposition.PCA(k), LinearRegression()]
    ref = make_pipeline(*steps).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-9)
    assert ours.n_components_ == k and len(ours.gamma_) == k
    if not scale:
        coef = ref[-2].components_.T @ ref[-1].coef_
        np.testing.assert_allclose(ours.coef_, coef, rtol=1e-8)
    if k == 10 and not scale:  # all components: ordinary least squares
        np.testing.assert_allclose(ours.coef_, LinearRegression().fit(X, y).coef_, rtol=1e-8)


@pytest.mark.parametrize("random_state", [None, 3])
def test_pcr_cv_equals_brute_force_refits(random_state):
    X, y = _generated(n=120, p=8, seed=4)
    model = PCR(n_components="cv", cv=5, random_state=random_state).fit(X, y)
    if random_state is None:
        splits = list(KFold(5).split(X))
    else:
        perm = np.random.default_rng(random_state).permutation(len(y))
        splits = [(np.sort(np.setdiff1d(perm, perm[t])), np.sort(perm[t])) for _, t in KFold(5).split(X)]
    sse = np.zeros(8)
    for train, test in splits:
        for k in range(1, 9):
            fit = make_pipeline(decomposition.PCA(k), LinearRegression()).fit(X[train], y[train])
            r = y[test] - fit.predict(X[test])
            sse[k - 1] += r @ r
    np.testing.assert_allclose(model.cv_mse_, sse / len(y), rtol=1e-9)
    assert model.n_components_ == int(np.argmin(sse)) + 1
    assert model.n_components_ >= 3  # three latent factors drive y
    ref = make_pipeline(decomposition.PCA(model.n_components_), LinearRegression()).fit(X, y)
    np.testing.assert_allclose(model.predict(X), ref.predict(X), rtol=1e-9)


def test_pcr_max_components_protocol_and_validation():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = PCR(max_components=4).fit(X, y)
    assert len(model.cv_mse_) == 4 and 1 <= model.n_components_ <= 4
    assert clone(model).get_params() == model.get_params()
    assert repr(PCR(5)) == "PCR(n_components=5)"
    scores = cross_val_score(Pipeline([("pcr", PCR(cv=3))]), X, y, cv=3)
    assert np.all(np.isfinite(scores)) and scores.mean() > 0.3
    from_tensor = PCR(3).fit(chainrule.tensor(X.to_numpy()), chainrule.tensor(y.to_numpy()))
    np.testing.assert_allclose(from_tensor.coef_, PCR(3).fit(X, y).coef_)
    with pytest.raises(ValueError, match="n_components"):
        PCR("all").fit(X, y)
    with pytest.raises(ValueError, match="'k' are constant"):
        PCR(2, scale=True).fit(X.assign(k=1.0), y)
    with pytest.raises(ValueError, match="cv must be"):
        PCR(cv=0).fit(X, y)
    with pytest.raises(ValueError, match="rows"):
        PCR(2).fit(X, y[:-2])
    missing = "Feature names unseen at fit time:\n- S1\nFeature names seen at fit time, yet now missing:\n- s1\n"
    with pytest.raises(ValueError, match=missing):
        PCR(2).fit(X, y).predict(X.rename(columns={"s1": "S1"}))
