"""Fitting the ``chainrule.stats`` estimator that ``--model`` names (ols, logit, mnlogit,
ridge, lasso, stepwise, pcr) on the training rows, in memory or chunk by chunk
(``fit_stream``, ``--chunksize``); the fitted model predicts through its linear predictor
(:func:`linear_predictor_of`, see :mod:`chainrule.cli.models`).
"""
from __future__ import annotations

import time

import numpy as np

from .errors import CommandError
from .models import FitOutcome, Predictor


def make_estimator(args, data):
    """The ``chainrule.stats`` estimator ``--model`` names, configured from the options."""
    from .. import stats

    model, intercept = args.model, not args.no_intercept
    solver = args.solver
    if model == "ols":
        cov_type = "cluster" if args.cluster else args.cov_type
        if cov_type == "cluster" and not args.cluster:
            raise CommandError("--cov-type cluster needs --cluster COL (the grouping column)")
        return stats.OLS(fit_intercept=intercept, cov_type=cov_type, solver=solver or "qr")
    if model == "logit":
        if getattr(args, "penalty", None):
            return _penalized_logit(args, stats, intercept)
        return stats.Logit(fit_intercept=intercept, solver=solver or "newton")
    if model == "mnlogit":
        _reject_solver(solver, "mnlogit", ("newton",), args)
        return stats.MNLogit(fit_intercept=intercept)
    if model == "ridge":
        _reject_solver(solver, "ridge", (), args)
        if args.alpha is not None:
            return stats.Ridge(alpha=args.alpha, fit_intercept=intercept)
        return stats.RidgeCV(alphas=np.logspace(-4, 4, 33), fit_intercept=intercept, cv=args.cv)
    if model == "lasso":
        if args.alpha is not None:
            return stats.Lasso(alpha=args.alpha, solver=solver or "cd", fit_intercept=intercept)
        return stats.LassoCV(cv=args.cv or 5, fit_intercept=intercept)
    if model == "elasticnet":
        ratio = 0.5 if args.l1_ratio is None else args.l1_ratio
        if args.alpha is not None:
            return stats.ElasticNet(alpha=args.alpha, l1_ratio=ratio, solver=solver or "cd", fit_intercept=intercept)
        _reject_solver(solver, "elasticnet with cross-validation (the path is fitted by coordinate descent)",
                       ("cd",), args)
        return stats.ElasticNetCV(l1_ratio=ratio, cv=args.cv or 5, fit_intercept=intercept)
    if model == "stepwise":
        return stats.ForwardStepwise(criterion=args.criterion, fit_intercept=intercept,
                                     cv=args.cv or 5, random_state=args.seed)
    if model == "pcr":
        if args.no_intercept:
            raise CommandError("--no-intercept is not available for pcr (it centres the data)")
        components = args.n_components if args.n_components is not None else "cv"
        return stats.PCR(n_components=components, cv=args.cv or 5, random_state=args.seed)
    raise CommandError(f"{model!r} is not a statistical model")


def _penalized_logit(args, stats, intercept: bool):
    """``--model logit --penalty P``: LogisticRegression at ``--C``, or LogisticRegressionCV
    choosing C by ``--cv`` folds (stratified, scored by accuracy)."""
    _reject_solver(args.solver, f"logit --penalty {args.penalty} (proximal Newton)", (), args)
    ratio = None
    if args.penalty == "elasticnet":
        ratio = 0.5 if args.l1_ratio is None else args.l1_ratio
    if args.cv is not None:
        if args.C is not None:
            raise CommandError("--C and --cv: give C, or let --cv choose it, not both")
        return stats.LogisticRegressionCV(Cs=10, cv=args.cv, penalty=args.penalty,
                                          l1_ratios=None if ratio is None else [ratio], fit_intercept=intercept)
    return stats.LogisticRegression(penalty=args.penalty, C=1.0 if args.C is None else args.C, l1_ratio=ratio,
                                    fit_intercept=intercept)


def _reject_solver(solver, model: str, allowed: tuple, args) -> None:
    if solver is not None and solver not in allowed:
        choices = ", ".join(allowed) if allowed else "none (it has one closed-form solver)"
        raise CommandError(f"--solver {solver} is not available for {model}; choices: {choices}")


def fit_statistical(args, data) -> FitOutcome:
    """Fit a statistical model on the training rows; its predictor is linear in X."""
    import pandas as pd

    from . import panel_iv  # issue 22: panel/IV

    if panel_iv.handles(args):  # issue 22: panel/IV (--absorb, --model iv|liml)
        return panel_iv.fit(args, data)
    estimator = make_estimator(args, data)
    X = pd.DataFrame(data.X_train, columns=data.feature_names)
    y = pd.Series(data.y_train, name=args.target)
    start = time.perf_counter()
    if args.model == "ols" and args.cluster:
        groups = _cluster_groups(args, data)
        estimator.fit(X, y, groups=groups)
    else:
        estimator.fit(X, y)
    seconds = time.perf_counter() - start
    return FitOutcome(predictor=linear_predictor_of(args.model, estimator, data),
                      estimator=estimator, seconds=seconds)


def _cluster_groups(args, data) -> np.ndarray:
    frame = data.frame
    if args.cluster not in frame.columns:
        raise CommandError(f"--cluster {args.cluster!r} is not a column of the data; "
                           f"columns: {', '.join(map(str, frame.columns))}")
    groups = frame[args.cluster].to_numpy()[data.train_rows]
    missing = int(pd_isna(groups).sum())
    if missing:
        raise CommandError(f"--cluster column {args.cluster!r} has {missing} missing values "
                           "in the rows used for the fit")
    return groups


def pd_isna(values) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values))


def linear_predictor_of(kind: str, estimator, data) -> Predictor:
    """B and c of a fitted statistical model, on the encoded feature scale."""
    p = len(data.feature_names)
    if kind == "mnlogit":
        coef = np.zeros((p, len(data.classes)))
        intercept = np.zeros(len(data.classes))
        coef[:, 1:] = np.asarray(estimator.coef_, dtype=np.float64).T
        intercept[1:] = np.asarray(estimator.intercept_, dtype=np.float64)
    else:
        coef = np.asarray(estimator.coef_, dtype=np.float64).reshape(p, 1)
        intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64)).reshape(1)
    return Predictor(kind=kind, task=data.task, classes=data.classes, coef=coef, intercept=intercept)


def fit_statistical_chunks(args, data) -> FitOutcome:
    """Fit ols or logit on the training rows of a file read chunk by chunk (``fit_stream``).

    OLS: one pass (sequential TSQR) plus one for HC0-HC3; under ``mpiexec -n N`` rank r takes
    the chunks c ≡ r (mod N) (``data.rank``, ``data.size``) and ``OLS(distributed=True)``
    combines the ranks' triangles by TSQR. The Logit: Newton with one pass per iteration
    (every rank fits all the chunks). Refuses, as :class:`CommandError`, the options that need every row at
    once: cluster-robust errors, the ``normal``/``gd`` OLS solvers, gradient Logit solvers,
    a target with more than two classes, ``--margeff``.
    """
    if args.model == "ols":
        if args.cluster or args.cov_type == "cluster":
            raise CommandError("--chunksize: cluster-robust standard errors need every row's group at once; "
                               "use --cov-type nonrobust, HC0, HC1, HC2 or HC3, or drop --chunksize")
        _reject_solver(args.solver, "ols with --chunksize (streamed Householder QR)", ("qr",), args)
    else:
        _reject_solver(args.solver, "logit with --chunksize (Newton, one pass over the file per iteration)",
                       ("newton",), args)
        if data.task != "binary":
            raise CommandError(f"--model logit needs a target with two classes; {args.target!r} has "
                               f"{len(data.classes)} (mnlogit fits more, without --chunksize)")
        if args.margeff:
            raise CommandError("--margeff: average marginal effects are means over rows kept in memory; "
                               "drop --margeff or --chunksize")
    estimator = make_estimator(args, data)
    if args.model == "ols" and data.size > 1:
        estimator.distributed = True  # each rank streams its chunks; TSQR combines the triangles
    start = time.perf_counter()
    estimator.fit_stream(data.batches("train"), feature_names=data.feature_names, target_name=args.target)
    seconds = time.perf_counter() - start
    return FitOutcome(predictor=linear_predictor_of(args.model, estimator, data), estimator=estimator,
                      seconds=seconds, notes=[f"{estimator.n_batches_} chunks of at most {data.chunksize} rows"])
