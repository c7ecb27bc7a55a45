"""Marginal effects of Logit and MNLogit (``get_margeff``): every ``at`` x ``method`` variant,
discrete changes for dummies and counts, ``atexog``; against Stata's ``margins`` results that
statsmodels keeps in its test suite (statsmodels/discrete/tests/results/results_discrete.py:
Spector logit and the ANES multinomial logit, Stata 11), against statsmodels' ``get_margeff``
itself, and against numerical derivatives where statsmodels has no answer (MNLogit's
elasticities, whose computation fails in statsmodels 0.15, and MNLogit's count effects).

Stata's numbers come from Stata's own estimates, which stop about 4e-7 (relative) short of
the maximum likelihood that both statsmodels and chainrule reach (Spector: Stata's GPA
coefficient 2.82611297, the converged one 2.82611259), so Stata's effects agree to ~1e-6,
statsmodels' to ~1e-12.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainrule.datasets import load_anes96
from chainrule.stats import Logit, MNLogit

pd = pytest.importorskip("pandas")

# The Spector & Mazzeo (1980) data (statsmodels.datasets.spector): GPA, TUCE, PSI and GRADE.
SPECTOR = np.array([
    [2.66, 20, 0, 0], [2.89, 22, 0, 0], [3.28, 24, 0, 0], [2.92, 12, 0, 0], [4.00, 21, 0, 1], [2.86, 17, 0, 0],
    [2.76, 17, 0, 0], [2.87, 21, 0, 0], [3.03, 25, 0, 0], [3.92, 29, 0, 1], [2.63, 20, 0, 0], [3.32, 23, 0, 0],
    [3.57, 23, 0, 0], [3.26, 25, 0, 1], [3.53, 26, 0, 0], [2.74, 19, 0, 0], [2.75, 25, 0, 0], [2.83, 19, 0, 0],
    [3.12, 23, 1, 0], [3.16, 25, 1, 1], [2.06, 22, 1, 0], [3.62, 28, 1, 1], [2.89, 14, 1, 0], [3.51, 26, 1, 0],
    [3.54, 24, 1, 1], [2.83, 27, 1, 1], [3.39, 17, 1, 1], [2.67, 24, 1, 0], [3.65, 21, 1, 1], [4.00, 23, 1, 1],
    [3.10, 21, 1, 0], [2.39, 19, 1, 1],
])

# Stata 11 ``margins`` after ``logit grade gpa tuce psi`` (results_discrete.Spector.logit):
# (at, method) -> (effects, standard errors), continuous regressors ("nodummy").
STATA_SPECTOR = {
    ("overall", "dydx"): ([.36258084688424, .01220841099085, .30517768382304], [.1094412, .0177942, .0923796]),
    ("mean", "dydx"): ([.53385885781692, .01797548988961, .44933926079386], [.237038, .0262369, .1967626]),
    ("median", "dydx"): ([.25009492465091, .00842091261329, .2105003352955], [.1546708, .0134314, .0928183]),
    ("zero", "dydx"): ([6.252993785e-06, 2.105437138e-07, 5.263030788e-06], [.0000288, 9.24e-07, .000025]),
    ("overall", "dyex"): ([1.1774000792198, .27896245178384, .16960002159996], [.3616481, .4090679, .0635583]),
    ("mean", "dyex"): ([1.6641381583512, .39433730945339, .19658592659731], [.7388917, .5755722, .0860836]),
    ("median", "dyex"): ([.76654095836557, .18947053379898, 0], [.4740659, .302207, 0]),
    ("zero", "dyex"): ([0, 0, 0], [0, 0, 0]),
    ("overall", "eydx"): ([1.8546366266779, .06244722072812, 1.5610138123033], [.847903, .0930901, .7146715]),
    ("mean", "eydx"): ([2.1116143062702, .0710998816585, 1.7773072368626], [1.076109, .1081501, .9120842]),
    ("median", "eydx"): ([2.5488082240624, .0858205793373, 2.1452853812126], [1.255377, .1283771, 1.106872]),
    ("zero", "eydx"): ([2.8261067189993, .0951574597115, 2.3786824653103], [1.262961, .1415544, 1.064574]),
    ("overall", "eyex"): ([5.4747106798973, 1.3173389907576, .44600395466634], [2.44682, 1.943525, .1567618]),
    ("mean", "eyex"): ([6.5822977203268, 1.5597536538833, .77757191612739], [3.354433, 2.372543, .3990368]),
    ("median", "eyex"): ([7.8120973525952, 1.9309630350892, 0], [3.847731951, 2.888485089, 0]),
    ("zero", "eyex"): ([0, 0, 0], [0, 0, 0]),
}
# Discrete changes for PSI (margins with i.psi) and atexog (results_discrete.Spector.logit).
STATA_SPECTOR_DISCRETE = [
    (dict(dummy=True), [.36258084688424, .01220841099085, .35751515254729], [.1094412, .0177942, .1420034]),
    (dict(dummy=True, at="mean"), [.53385885781692, .01797548988961, .4564984096959], [.237038, .0262369, .1810537]),
    (dict(dummy=True, method="eydx"), [1.8546366266779, .06244722072812, 1.5549034398832],
     [.847903, .0930901, .7283702]),
    (dict(dummy=True, method="eydx", at="mean"), [2.1116143062702, .0710998816585, 1.6631775707188],
     [1.076109, .1081501, .801205]),
    (dict(atexog={0: 2.0, 2: 1.0}), [.1456333017086, .00490359933927, .12257689308426], [.145633, .0111226, .1777101]),
    (dict(atexog={"TUCE": 21.0, "PSI": 0}, at="mean"), [.25105129214546, .00845311433473, .2113052923675],
     [.1735778, .012017, .0971515]),
    (dict(atexog={0: 2.0, 2: 1.0}, dummy=True), [.1456333017086, .00490359933927, .0494715429937],
     [.145633, .0111226, .0731368]),
    (dict(atexog={1: 21.0, 2: 0}, at="mean", dummy=True), [.25105129214546, .00845311433473, .44265645632553],
     [.1735778, .012017, .1811925]),
]
# Stata's old ``margeff, count`` command (results_discrete: "need old version of margeff"): its count
# effect convention differs from margins' in the 6th digit, so these agree to 2e-5 only.
STATA_SPECTOR_COUNT = [
    (dict(count=True), [.3625767598018, .0122068569914, .3051777], [.1094379569, .0177869773, .0923796]),
    (dict(count=True, at="mean"), [.5338588, .01797186545386, .4493393], [.237038, .0262211, .1967626]),
    (dict(count=True, dummy=True), [.362576759801767, .012206856991439, .357515163621704],
     [.1094379569, .0177869773, .1420034]),
    (dict(count=True, dummy=True, at="mean"), [0.533849340033768, 0.017971865453858, 0.456498405282412],
     [.2370202503, .0262210796, .1810536852]),
]

# Stata 11 after ``mlogit PID logpopul selfLR age educ income, base(0)`` (results_discrete.Anes):
# rows are the classes PID = 0..6, columns the regressors; transposed to (p, K) below.
STATA_ANES_DYDX = np.array([
    [0.00868085993550, -0.09779854015456, 0.00272556969847, -0.01992376579372, -0.00603133322764],
    [0.00699386733148, -0.05022430802614, -0.00211003909752, -0.00536980000265, -0.00554366741814],
    [-0.00391040848820, -0.02824717135857, -0.00100551299310, 0.00664337806861, 0.00097987356999],
    [-0.00182580888015, -0.00573744730031, -0.00004249256428, -0.00546669558488, 0.00054101121854],
    [-0.00098558129923, 0.01985550937033, 0.00047972250012, 0.00172605778905, 0.00211291403209],
    [-0.00153469551647, 0.03755346502013, -0.00068531143399, 0.00472471794347, 0.00254733486106],
    [-0.00741820702809, 0.12459834487569, 0.00063806819375, 0.01766610701188, 0.00539385283759]]).T
STATA_ANES_DYDX_SE = np.array([
    [.0038581061, .0080471125, .0007068488, .0082318967, .0020261706],
    [.003904378, .0073600286, .000756431, .0084381578, .0020482238],
    [.003137126, .0056813182, .0006601377, .0068932588, .0018481806],
    [.0019427783, .0031904763, .0003865411, .004361789, .0011523221],
    [.0029863227, .0054076092, .0005886612, .0064426365, .0018886818],
    [.0035806552, .0069497362, .000722511, .0078287717, .0022352393],
    [.0033641608, .008376629, .0006774697, .0073505286, .0021660086]]).T
STATA_ANES_DYDX_MEAN = np.array([
    [0.01149887431225, -0.13784207091973, 0.00273313385873, -0.02542974260540, -0.00855346837482],
    [0.01114846831102, -0.09864273512889, -0.00222435063712, -0.01214617126321, -0.00903581444579],
    [-0.00381702868421, -0.05132297961269, -0.00116763216994, 0.00624203027060, 0.00021912081810],
    [-0.00233455327258, -0.00928554037343, -0.00000206561214, -0.00775415690571, 0.00060004460394],
    [-0.00352579921274, 0.06412187169362, 0.00073938948643, 0.00747778063206, 0.00459965010365],
    [-0.00574308219449, 0.11126535089794, -0.00057337915464, 0.01467424346725, 0.00641760846097],
    [-0.00722687818452, 0.12170608820238, 0.00049490419675, 0.01693601418978, 0.00575285798725]]).T
STATA_ANES_DYDX_MEAN_SE = np.array([
    [.0043729758, .0110343353, .0008149907, .0092551389, .0023752071],
    [.004875051, .0124746358, .0009613152, .0105665812, .0026524426],
    [.0040718954, .0103613938, .0008554615, .0089931297, .0024374625],
    [.0026430804, .0070845916, .0005364369, .0057654258, .0015988838],
    [.0037798151, .0103849291, .0007393481, .0082021938, .0023489261],
    [.0045654631, .0130329403, .0009128134, .0100053262, .0028048602],
    [.0027682389, .0113292677, .0005325113, .0061289353, .0017330763]]).T
# with the dummy ``vote`` added as a sixth regressor, ``margins, dydx(*)`` with i.vote
STATA_ANES_DUMMY = np.array([
    [0.00549149574321, -0.05348235321783, 0.00298963549049, -0.01479461677951, -0.00332167981255, -0.26502967041815],
    [0.00345677928276, -0.00950322030929, -0.00189456107189, 0.00033893662061, -0.00314690167350, -0.21040878091828],
    [-0.00645089013284, 0.00401746940204, -0.00083948249351, 0.01114202556889, 0.00277069841472, -0.15967397659686],
    [-0.00215436802341, -0.00366545199370, -0.00000002297812, -0.00457368049644, 0.00065303026027, -0.00094772782001],
    [0.00058038428936, -0.00369080100124, 0.00035948233235, -0.00018863693013, 0.00079351293461, 0.12640653743480],
    [0.00217597030999, -0.01279456622853, -0.00091882392767, 0.00001651192759, -0.00037998290789, 0.27175070356670],
    [-0.00309932483642, 0.07911868907484, 0.00030378521102, 0.00805941631677, 0.00263129901425, 0.23790291475181]]).T
STATA_ANES_DUMMY_SE = np.array([
    [.0037314453, .0094102332, .000688838, .0079744554, .0019365971, .0243914836],
    [.0038215262, .0095938828, .0007410885, .008259353, .0019984087, .0317628806],
    [.0031045718, .00785814, .0006504353, .0067892866, .0018060332, 0.0262803561],
    [.0019756086, .0051031194, .0003862449, .0043621673, .0011796953, .0219999601],
    [.0029714074, .0081732018, .0005715192, .0064742872, .0019130195, .0331694192],
    [.0034443743, .0097296187, .0006774867, .0075996454, .0021993881, .038600835],
    [.0032003518, .0098741227, .0006335772, .0070902078, .0021003227, .0255727127]]).T
STATA_ANES_EYDX_DUMMY = np.array([
    [.03939188, -.65758371, .01750922, -.12131806, -.03613241, -3.2132513],
    [.02752366, -.383165, -.00830021, -.03652935, -.03286046, -1.8741853],
    [-.05006681, -.2719659, -.00626481, .06525323, .01012554, -2.0058029],
    [-.05239558, -.22549142, .00025015, -.13104416, .01114517, -.27052009],
    [-.00296374, .25627809, .00140513, .03358712, .02296041, 1.3302701],
    [.00328283, .2800168, -.0083912, .04332782, .01575863, 1.8441023],
    [-.03257068, .98346111, -.00122118, .10847807, .0406456, 2.9119099]]).T
STATA_ANES_EYDX_DUMMY_SE = np.array([
    [.0272085605, .0777760394, .0052427952, .0584011446, .0148618012, .5796921383],
    [.0262290023, .0724479385, .005174736, .0567743614, .0144447083, .3015738731],
    [.0321415498, .0895589422, .0067480662, .0701460193, .0190451865, .3904138447],
    [.0511305319, .1420904068, .0102342163, .1129912244, .0308618233, .3693799595],
    [.0340186217, .0991711703, .0065812158, .0737441012, .0212966336, .2346982385],
    [.0289250212, .0840662279, .0056743561, .0631772185, .0177278895, .2089516714],
    [.0318251305, .1085637405, .0062400589, .0699123044, .0201045606, .3727166284]]).T

METHODS = ("dydx", "dyex", "eydx", "eyex")
ATS = ("overall", "mean", "median", "zero")


@pytest.fixture(scope="module")
def spector():
    X = pd.DataFrame(SPECTOR[:, :3], columns=["GPA", "TUCE", "PSI"])
    y = pd.Series(SPECTOR[:, 3], name="GRADE")
    return X, y, Logit(tol=1e-12).fit(X, y)


@pytest.fixture(scope="module")
def anes():
    frame = load_anes96(as_frame=True)
    X = pd.DataFrame({"logpopul": np.log(frame["popul"] + 0.1), "selfLR": frame["selfLR"], "age": frame["age"],
                      "educ": frame["educ"], "income": frame["income"]}).astype(float)
    return X, frame["PID"], frame["vote"].astype(float)


@pytest.fixture(scope="module")
def anes_fit(anes):
    X, y, _ = anes
    return MNLogit(tol=1e-12).fit(X, y)


@pytest.fixture(scope="module")
def anes_vote_fit(anes):
    X, y, vote = anes
    return MNLogit(tol=1e-12).fit(X.assign(vote=vote), y)


@pytest.mark.parametrize("at, method", list(STATA_SPECTOR))
def test_logit_effects_equal_statas_margins(spector, at, method):
    effects, se = STATA_SPECTOR[at, method]
    result = spector[2].get_margeff(at=at, method=method)
    assert result.margeff.shape == (3,) and (result.at, result.method) == (at, method)
    np.testing.assert_allclose(result.margeff, effects, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.margeff_se, se, rtol=0, atol=1e-6)


@pytest.mark.parametrize("options, effects, se", STATA_SPECTOR_DISCRETE)
def test_logit_discrete_changes_and_atexog_equal_statas_margins(spector, options, effects, se):
    result = spector[2].get_margeff(**options)
    np.testing.assert_allclose(result.margeff, effects, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.margeff_se, se, rtol=0, atol=1e-6)
    if options.get("dummy"):
        assert result.dummy_idx.tolist() == [2] and result.count_idx is None


@pytest.mark.parametrize("options, effects, se", STATA_SPECTOR_COUNT)
def test_logit_count_effects_equal_statas_old_margeff_command(spector, options, effects, se):
    result = spector[2].get_margeff(**options)
    np.testing.assert_allclose(result.margeff, effects, rtol=0, atol=2e-5)
    np.testing.assert_allclose(result.margeff_se, se, rtol=0, atol=2e-5)
    assert result.count_idx.tolist() == [1]


def test_mnlogit_effects_equal_statas_margins(anes_fit, anes_vote_fit):
    cases = [
        (anes_fit.get_margeff(), STATA_ANES_DYDX, STATA_ANES_DYDX_SE, 1e-6),
        (anes_fit.get_margeff(at="mean"), STATA_ANES_DYDX_MEAN, STATA_ANES_DYDX_MEAN_SE, 1e-7),
        (anes_vote_fit.get_margeff(dummy=True), STATA_ANES_DUMMY, STATA_ANES_DUMMY_SE, 1e-6),
        # Stata's elasticities are printed to 8 digits and its estimate is ~1e-7 short of the optimum
        (anes_vote_fit.get_margeff(dummy=True, method="eydx"), STATA_ANES_EYDX_DUMMY, STATA_ANES_EYDX_DUMMY_SE, 1e-5),
    ]
    for result, effects, se, atol in cases:
        assert result.margeff.shape == effects.shape
        np.testing.assert_allclose(result.margeff, effects, rtol=0, atol=atol)
        np.testing.assert_allclose(result.margeff_se, se, rtol=0, atol=1e-6)


def _variants():
    for at in ATS:
        for method in METHODS:
            yield at, method, False, False
            if at in ("overall", "mean") and method in ("dydx", "eydx"):
                yield at, method, True, False
                yield at, method, False, True
                yield at, method, True, True


@pytest.mark.parametrize("at, method, dummy, count", list(_variants()))
def test_logit_effects_equal_statsmodels(spector, at, method, dummy, count):
    sm = pytest.importorskip("statsmodels.api")
    X, y, model = spector
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-14, maxiter=100)
    reference = reference.get_margeff(at=at, method=method, dummy=dummy, count=count)
    result = model.get_margeff(at=at, method=method, dummy=dummy, count=count)
    np.testing.assert_allclose(result.margeff, reference.margeff, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.margeff_se, reference.margeff_se, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.margeff_cov, reference.margeff_cov, rtol=1e-8, atol=1e-14)
    if at not in ("zero",) and method not in ("dyex", "eyex"):
        np.testing.assert_allclose(result.pvalues, reference.pvalues, rtol=1e-8)
        np.testing.assert_allclose(result.conf_int(0.1), reference.conf_int(0.1), rtol=1e-9)
        frame, theirs = result.summary_frame(0.1), reference.summary_frame(0.1)
        assert list(frame.columns) == list(theirs.columns) and list(frame.index) == list(theirs.index)
        np.testing.assert_allclose(frame.to_numpy(), theirs.to_numpy(), rtol=1e-8)


@pytest.mark.parametrize("at, method, dummy", [(at, method, dummy) for at in ATS for method in ("dydx", "eydx")
                                               for dummy in (False, True) if not dummy or at in ("overall", "mean")])
def test_mnlogit_effects_equal_statsmodels(anes, anes_vote_fit, at, method, dummy):
    sm = pytest.importorskip("statsmodels.api")
    X, y, vote = anes
    exog = sm.add_constant(X.assign(vote=vote))
    reference = sm.MNLogit(y, exog).fit(disp=0, method="newton", tol=1e-14, maxiter=100)
    reference = reference.get_margeff(at=at, method=method, dummy=dummy)
    result = anes_vote_fit.get_margeff(at=at, method=method, dummy=dummy)
    np.testing.assert_allclose(result.margeff, reference.margeff, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.margeff_se, reference.margeff_se, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(result.margeff_cov, reference.margeff_cov, rtol=1e-7, atol=1e-13)
    frame, theirs = result.summary_frame(), reference.summary_frame()
    assert list(frame.columns) == list(theirs.columns) and list(frame.index) == list(theirs.index)
    np.testing.assert_allclose(frame.to_numpy(), theirs.to_numpy(), rtol=1e-7, atol=1e-12)


def _rows(X, at):
    Z = np.asarray(X, dtype=float)
    return {"overall": Z, "mean": Z.mean(0, keepdims=True), "median": np.median(Z, 0, keepdims=True),
            "zero": np.zeros((1, Z.shape[1]))}[at]


def _probabilities(R, B):
    eta = np.column_stack([np.zeros(len(R)), B[0] + R @ B[1:]])
    return np.exp(eta - np.log(np.exp(eta).sum(1, keepdims=True)))


COUNTS = (1, 2, 3, 4)  # selfLR, age, educ, income: non-negative whole numbers


def _effects(X, B, at, method, count, differences):
    """MNLogit's effects with coefficients B: by central differences of the probabilities in x
    (``differences``), or by the closed form p_c (β_c − β̄) (count columns: the unit changes)."""
    rows = _rows(X, at)
    P = _probabilities(rows, B)
    slopes = np.column_stack([np.zeros(B.shape[0] - 1), B[1:]])
    effects = np.empty((rows.shape[1], B.shape[1] + 1))
    for j in range(rows.shape[1]):
        if count and j in COUNTS or differences:
            h = 1.0 if count and j in COUNTS else 1e-6 * max(1.0, np.abs(rows[:, j]).max())
            lo, hi = rows.copy(), rows.copy()
            lo[:, j] -= h
            hi[:, j] += h
            low, high = _probabilities(lo, B), _probabilities(hi, B)
            change = ((np.log(high) - np.log(low)) if method.startswith("ey") else high - low) / (2 * h)
        else:
            gap = slopes[j][None, :] - (P @ slopes[j])[:, None]
            change = gap if method.startswith("ey") else P * gap
        if method.endswith("ex"):
            change = change * rows[:, [j]]
        effects[j] = change.mean(0)
    return effects


@pytest.mark.parametrize("at, method, count", [(at, method, False) for at in ATS for method in METHODS]
                         + [("overall", "dydx", True), ("mean", "eydx", True)])
def test_mnlogit_effects_equal_numerical_derivatives(anes, anes_fit, at, method, count):
    """statsmodels 0.15 cannot compute MNLogit's elasticities (dyex, eyex) or count effects: the
    effects are checked against central differences of the probabilities in x, and their
    covariance against the delta method with a central-difference Jacobian in the parameters."""
    X, B = anes[0], np.asarray(anes_fit.params)
    result = anes_fit.get_margeff(at=at, method=method, count=count)
    np.testing.assert_allclose(result.margeff, _effects(X, B, at, method, count, True), rtol=1e-6, atol=1e-9)
    assert (result.count_idx.tolist() if count else result.count_idx) == (list(COUNTS) if count else None)
    flat = B.ravel(order="F")
    jacobian = np.empty((result.margeff.size, flat.size))
    for m in range(flat.size):
        step = 1e-5 * max(1.0, abs(flat[m]))
        up, down = flat.copy(), flat.copy()
        up[m] += step
        down[m] -= step
        change = (_effects(X, up.reshape(B.shape, order="F"), at, method, count, False)
                  - _effects(X, down.reshape(B.shape, order="F"), at, method, count, False))
        jacobian[:, m] = change.ravel(order="F") / (2 * step)
    cov = jacobian @ np.asarray(anes_fit.cov_params()) @ jacobian.T
    np.testing.assert_allclose(result.margeff_se, np.sqrt(np.diag(cov)).reshape((-1, 7), order="F"), rtol=1e-6)
    np.testing.assert_allclose(result.margeff_cov, cov, rtol=1e-5, atol=1e-7 * np.abs(cov).max())


def test_effects_on_probabilities_sum_to_zero_over_the_classes(anes_fit):
    for at in ATS:
        np.testing.assert_allclose(anes_fit.get_margeff(at=at).margeff.sum(axis=1), 0.0, atol=1e-14)


def test_logit_without_intercept_equals_statsmodels_without_constant(spector):
    sm = pytest.importorskip("statsmodels.api")
    X, y, _ = spector
    model = Logit(fit_intercept=False, tol=1e-12).fit(X, y)
    reference = sm.Logit(y, X).fit(disp=0, tol=1e-14)
    for at, method in (("overall", "eyex"), ("mean", "dydx"), ("median", "eydx")):
        np.testing.assert_allclose(model.get_margeff(at=at, method=method).margeff_se,
                                   reference.get_margeff(at=at, method=method).margeff_se, rtol=1e-9)


def test_summary_names_the_method_and_the_point(spector, anes_vote_fit):
    text = spector[2].get_margeff(at="mean", method="eydx", dummy=True).summary().as_text()
    assert "Logit Marginal Effects" in text and "d(lny)/dx" in text and "mean" in text
    assert "discrete change from 0 to 1 for PSI" in text and "means of the regressors" in text
    assert "[0.05" in spector[2].get_margeff().summary(alpha=0.1).as_text()
    result = anes_vote_fit.get_margeff(method="dyex")
    text = result.summary().as_text()
    assert "MNLogit Marginal Effects" in text and "dy/d(lnx)" in text and "PID=6: vote" in text
    assert result.margeff_options == {"method": "dyex", "at": "overall"}
    frame = result.summary_frame()
    assert frame.index.names == ["endog", "exog"] and frame.shape == (42, 6) and frame.columns[0] == "dy/d(lnx)"
    assert frame.loc[("PID=3", "age"), "dy/d(lnx)"] == result.margeff[2, 3]
    assert result.conf_int().shape == (6, 7, 2) and result.conf_int(0.01)[0, 0, 0] < result.conf_int()[0, 0, 0]


@pytest.mark.parametrize("options, error, match", [
    (dict(at="every"), ValueError, "at: expected one of 'overall', 'mean', 'median', 'zero', 'all'; got 'every'"),
    (dict(at="all", dummy=True, method="dyex"), ValueError, "dummy=True gives discrete changes.*got 'dyex'"),
    (dict(method="dydy"), ValueError, "method: expected one of"),
    (dict(at=None), ValueError, "at: expected one of"),
    (dict(dummy=True, method="eyex"), ValueError, "dummy=True gives discrete changes.*got 'eyex'"),
    (dict(count=True, at="median"), ValueError, "count=True: discrete changes are evaluated at='overall' or 'mean'"),
    (dict(dummy=1), TypeError, "dummy: expected True or False; got 1"),
    (dict(atexog={5: 1.0}), KeyError, "atexog: keys are regressor names or positions 0..2"),
    (dict(atexog={"const": 1.0}), KeyError, "no regressor named 'const'"),
    (dict(atexog=[1.0, 2.0, 3.0]), TypeError, "atexog: expected a dict"),
])
def test_bad_options_are_refused(spector, options, error, match):
    with pytest.raises(error, match=match):
        spector[2].get_margeff(**options)


@pytest.mark.parametrize("method, dummy, count", [   # discrete changes have no elasticity (refused)
    (method, dummy, count) for method in METHODS for dummy in (False, True) for count in (False, True)
    if not ((dummy or count) and method in ("dyex", "eyex"))])
def test_logit_effects_at_each_row_equal_statsmodels(spector, method, dummy, count):
    sm = pytest.importorskip("statsmodels.api")
    X, y, model = spector
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-14, maxiter=100)
    theirs = reference.get_margeff(at="all", method=method, dummy=dummy, count=count)
    result = model.get_margeff(at="all", method=method, dummy=dummy, count=count)
    assert result.margeff.shape == theirs.margeff.shape == (32, 3)
    np.testing.assert_allclose(result.margeff, theirs.margeff, rtol=1e-9, atol=1e-12)
    assert result.margeff_options == theirs.margeff_options == {"method": method, "at": "all"}
    overall = model.get_margeff(method=method, dummy=dummy, count=count).margeff
    np.testing.assert_allclose(result.margeff.mean(axis=0), overall, rtol=1e-12, atol=1e-15)


def test_logit_effects_at_each_row_with_atexog_and_without_intercept_equal_statsmodels(spector):
    sm = pytest.importorskip("statsmodels.api")
    X, y, model = spector
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0, tol=1e-14, maxiter=100)
    theirs = reference.get_margeff(at="all", atexog={2: 1.0})    # statsmodels counts the constant as column 0
    result = model.get_margeff(at="all", atexog={"TUCE": 1.0})
    np.testing.assert_allclose(result.margeff, theirs.margeff, rtol=1e-9, atol=1e-12)
    plain = sm.Logit(y, X).fit(disp=0, tol=1e-14).get_margeff(at="all", method="eyex")
    ours = Logit(fit_intercept=False, tol=1e-12).fit(X, y).get_margeff(at="all", method="eyex")
    np.testing.assert_allclose(ours.margeff, plain.margeff, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("member", ["tvalues", "pvalues", "conf_int", "summary", "summary_frame"])
def test_effects_at_each_row_refuse_inference_as_statsmodels_does(spector, member):
    sm = pytest.importorskip("statsmodels.api")
    X, y, model = spector
    theirs = sm.Logit(y, sm.add_constant(X)).fit(disp=0).get_margeff(at="all")
    result = model.get_margeff(at="all")
    for margins in (theirs, result):
        with pytest.raises(ValueError, match="Only margeff are available when `at` is 'all'"):
            value = getattr(margins, member)
            value()
    for margins in (theirs, result):
        assert not hasattr(margins, "margeff_se") and not hasattr(margins, "margeff_cov")


@pytest.mark.parametrize("method, dummy", [("dydx", False), ("eydx", False), ("dydx", True), ("eydx", True)])
def test_mnlogit_effects_at_each_row_equal_statsmodels(anes, anes_vote_fit, method, dummy):
    sm = pytest.importorskip("statsmodels.api")
    X, y, vote = anes
    reference = sm.MNLogit(y, sm.add_constant(X.assign(vote=vote))).fit(disp=0, method="newton", tol=1e-14,
                                                                         maxiter=100)
    theirs = reference.get_margeff(at="all", method=method, dummy=dummy)
    result = anes_vote_fit.get_margeff(at="all", method=method, dummy=dummy)
    assert result.margeff.shape == theirs.margeff.shape == (len(y), X.shape[1] + 1, 7)
    np.testing.assert_allclose(result.margeff, theirs.margeff, rtol=1e-9, atol=1e-12)
    assert result.margeff_options == theirs.margeff_options == {"method": method, "at": "all"}
    with pytest.raises(ValueError, match="Only margeff are available when `at` is 'all'"):
        result.summary()


@pytest.mark.parametrize("method, count", [("dyex", False), ("eyex", False), ("dydx", True), ("eydx", True)])
def test_mnlogit_effects_at_each_row_average_to_the_overall_effects(anes_fit, method, count):
    """statsmodels 0.15 fails on MNLogit's elasticities and count effects: the rows' mean is the
    at="overall" effect, which test_mnlogit_effects_equal_numerical_derivatives checks."""
    rows = anes_fit.get_margeff(at="all", method=method, count=count).margeff
    overall = anes_fit.get_margeff(method=method, count=count).margeff
    np.testing.assert_allclose(rows.mean(axis=0), overall, rtol=1e-12, atol=1e-15)


def test_upper_case_options_are_accepted_as_statsmodels_does(spector):
    np.testing.assert_array_equal(spector[2].get_margeff(at="Mean", method="EYDX").margeff,
                                  spector[2].get_margeff(at="mean", method="eydx").margeff)


def test_separated_fit_has_no_marginal_effect_errors():
    from chainrule.stats import PerfectSeparationError, PerfectSeparationWarning

    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        model = Logit(on_separation="warn").fit(X, y)
    with pytest.raises(PerfectSeparationError):
        model.get_margeff(at="mean", method="eydx")
