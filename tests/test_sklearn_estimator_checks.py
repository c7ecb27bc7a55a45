"""scikit-learn's own estimator checks (``sklearn.utils.estimator_checks``) on every estimator of
chainrule.stats: the API checks and the legacy ones (input validation, fitted checks, shapes,
classifiers' labels, pickling, invariances …), as ``check_estimator`` runs them.

The instances have their default settings (the whole module runs in a few seconds), except that
Logit and MNLogit get ``on_separation="warn"``: several checks fit them on perfectly separated toy
data (scikit-learn's blobs) and expect a fit, which by default raises PerfectSeparationError. A
check may be marked as expected to fail only by the estimator itself
(``_sklearn_expected_failed_checks``, a dict of check name -> one-line reason); none is today.

``python tests/test_sklearn_estimator_checks.py [Name ...] [-v]`` prints how many checks pass per
estimator (``-v``: and why each failing one fails).
"""
from __future__ import annotations

import pytest

from chainrule import stats

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import (  # noqa: E402 - after the importorskip above
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

ESTIMATORS = [
    stats.OLS(),
    stats.Logit(on_separation="warn"),
    stats.MNLogit(on_separation="warn"),
    stats.LogisticRegression(),
    stats.LogisticRegressionCV(),
    stats.Ridge(),
    stats.RidgeCV(),
    stats.Lasso(),
    stats.LassoCV(),
    stats.ElasticNet(),
    stats.ElasticNetCV(),
    stats.ForwardStepwise(),
    stats.PCA(),
    stats.PCR(),
    stats.IV2SLS(endog=[0], instruments=[1]),
    stats.IVLIML(endog=[0], instruments=[1]),
]


def expected_failed_checks(estimator) -> dict:
    """What the estimator itself declares as expected to fail (check name -> reason)."""
    return dict(getattr(estimator, "_sklearn_expected_failed_checks", {}))


def test_every_exported_estimator_is_checked():
    exported = {name for name in stats.__all__
                if isinstance(getattr(stats, name), type) and issubclass(getattr(stats, name), stats.Estimator)}
    assert exported - {"Estimator"} == {type(estimator).__name__ for estimator in ESTIMATORS}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda estimator: type(estimator).__name__)
def test_dataframe_column_names_are_checked_as_sklearn_does(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


def count_passing(names=(), verbose=False) -> dict:
    """Run ``check_estimator`` on each estimator (or those named) and count the checks by status."""
    import collections
    import warnings

    from sklearn.utils.estimator_checks import check_estimator

    totals = collections.Counter()
    for estimator in ESTIMATORS:
        name = type(estimator).__name__
        if names and name not in names:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = check_estimator(estimator, on_fail=None, on_skip=None,
                                      expected_failed_checks=expected_failed_checks(estimator))
        counts = collections.Counter(result["status"] for result in results)
        totals.update(counts)
        print(f"{name:16s} passed {counts['passed']:3d} of {len(results):3d}   failed {counts['failed']:3d}   "
              f"xfail {counts['xfail']:2d}   skipped {counts['skipped']:2d}")
        for result in results if verbose else ():
            if result["status"] in ("failed", "xfail"):
                error = result["exception"]
                print(f"    {result['status']} {result['check_name']}: {type(error).__name__}: {str(error)[:300]!r}")
    print(f"{'all':16s} passed {totals['passed']:3d} of {sum(totals.values()):3d}")
    return dict(totals)


if __name__ == "__main__":
    import sys

    count_passing([arg for arg in sys.argv[1:] if not arg.startswith("-")], verbose="-v" in sys.argv)
