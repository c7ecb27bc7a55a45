"""``chainrule fit`` with absorbed fixed effects and instrumental variables (issue 22).

* ``--model ols --absorb firm,year``: ``stats.OLS(absorb=[...])`` (the within estimator,
  :mod:`chainrule.stats.absorbed_ols`), with ``--cov-type nonrobust|HC0|HC1`` or clustered standard
  errors by ``--cluster COL[,COL]`` (two or more columns: multi-way clustering). The absorbed columns
  (and the cluster columns) are not regressors: without ``--features`` the features are the other
  columns. The table is printed with the absorbed factors and their level counts, the singletons
  dropped and the within R²; the metrics are those of the fit's own fitted values (fixed effects
  included) on the rows kept. The fixed effects are not estimated, so ``chainrule predict`` refuses
  the model with the estimator's explanation (saved in ``model.json``).
* ``--model iv|liml --endog D[,D2] --instruments Z[,Z2]``: ``stats.IV2SLS`` / ``stats.IVLIML``
  (:mod:`chainrule.stats.iv`); the other features are the exogenous regressors. Prints the
  second-stage table and the first-stage diagnostics (R², partial R², F per endogenous regressor,
  Cragg-Donald, Kleibergen-Paap rk Wald F) and Sargan's, Wooldridge's and Hansen's J
  overidentification tests. Predict is X·b (the instruments' coefficients are zero in the saved model).
  With ``--absorb firm,year``: ``IV2SLS/IVLIML(absorb=[...])`` (:mod:`chainrule.stats.iv_absorbed`),
  the absorbed factors' table added and predict refused as for ``--model ols --absorb``.
* ``--formula "y ~ x | firm + year"``, ``--formula "y ~ x + (d ~ z1 + z2)"`` and both,
  ``"y ~ x + (d ~ z) | firm + year"``: the syntax of
  :mod:`chainrule.formula.panel`; the part before ``|`` (with the instruments added as design columns)
  is the design :mod:`chainrule.cli.formula_spec` builds and predict re-applies. In the CLI the
  endogenous regressors and the instruments are plain column names.
"""
from __future__ import annotations

import re
import time
import warnings

import numpy as np

from .arguments import name_list
from .errors import CommandError
from .models import FitOutcome, Predictor

MODELS = ("iv", "liml")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


# --------------------------------------------------------------------------- arguments and rules

def add_arguments(parser) -> None:
    """``--absorb``, ``--endog``, ``--instruments`` (``chainrule fit``)."""
    group = parser.add_argument_group("panel and instrumental variables (--absorb, iv, liml)")
    group.add_argument("--absorb", type=name_list, metavar="COL,COL",
                       help="ols, iv, liml: absorb the fixed effects of these columns (within estimator); "
                            "clustered errors by --cluster COL[,COL]")
    group.add_argument("--endog", type=name_list, metavar="D[,D2]",
                       help="iv, liml: the endogenous regressors (numeric columns)")
    group.add_argument("--instruments", type=name_list, metavar="Z[,Z2]",
                       help="iv, liml: the excluded instruments (numeric columns, at least one per --endog)")


def _absorbing(args) -> bool:
    return bool(getattr(args, "absorb", None))


def update_rules(rules: dict) -> None:
    """Add this module's rules to ``applicability.FIT_RULES`` (and narrow the ones it changes)."""
    chunks, no_intercept = rules.get("chunksize"), rules.get("no_intercept")
    rules.update({
        "absorb": (lambda args: args.model in ("ols",) + MODELS and not getattr(args, "chunksize", None),
                   "--model ols|iv|liml without --chunksize (the projections sweep every row)"),
        "endog": (lambda args: args.model in MODELS, "--model iv|liml"),
        "instruments": (lambda args: args.model in MODELS, "--model iv|liml"),
        "cov_type": (lambda args: args.model in ("ols",) + MODELS, "--model ols|iv|liml"),
        "cluster": (lambda args: args.model in ("ols",) + MODELS, "--model ols|iv|liml"),
        "val_split": (lambda args: not _absorbing(args),
                      "fits without --absorb (the fixed effects of held-out rows are not estimated)"),
    })
    if chunks is not None:
        rules["chunksize"] = (lambda args: chunks[0](args) and args.model not in MODELS and not _absorbing(args),
                              chunks[1] + "; not --model iv|liml nor --absorb (they need every row at once)")
    if no_intercept is not None:
        rules["no_intercept"] = (lambda args: no_intercept[0](args) and not _absorbing(args),
                                 no_intercept[1] + "; not with --absorb (the fixed effects absorb the intercept)")


# --------------------------------------------------------------------------- before the data is read

def prepare_args(args) -> None:
    """Before the table is read: a panel/IV ``--formula`` split into its design, ``--absorb``,
    ``--endog`` and ``--instruments``; the default features without the absorbed and cluster
    columns; the options each model needs."""
    if getattr(args, "formula", None):
        _split_formula(args)
    if args.model not in ("ols",) + MODELS:
        return
    clash = [name for name in (getattr(args, "absorb", None) or ()) if name in (args.features or ())]
    if clash:
        raise CommandError(f"--absorb {clash[0]!r} is also a feature; leave it out of --features")
    if args.model in MODELS and not (args.endog and args.instruments):
        raise CommandError(f"--model {args.model} needs --endog D[,D2] and --instruments Z[,Z2] "
                           f"(or a formula with a '(D ~ Z)' term)")
    if args.features is None and not getattr(args, "formula", None) and (_absorbing(args) or args.model in MODELS):
        from ..datasets import read_table

        excluded = set(args.absorb or ()) | set(_cluster_columns(args)) | {args.target}
        args.features = [str(c) for c in read_table(args.data).columns if str(c) not in excluded]


def _split_formula(args) -> None:
    from ..formula import FormulaError
    from ..formula.panel import split_formula

    try:
        main, endog, instruments, absorb = split_formula(args.formula)
    except FormulaError as error:
        raise CommandError(f"--formula: {error}") from None
    if absorb:
        if args.model not in ("ols",) + MODELS:
            raise CommandError(f"--formula {args.formula!r}: fixed effects ('|') need --model ols, iv or liml")
        if _absorbing(args):
            raise CommandError("--formula with '|' and --absorb: give the fixed effects once")
        args.absorb = absorb
    if endog is not None:
        if args.model not in MODELS:
            raise CommandError(f"--formula {args.formula!r}: a '(endogenous ~ instruments)' term needs "
                               f"--model iv or liml")
        if args.endog or args.instruments:
            raise CommandError("--formula with '(D ~ Z)' and --endog/--instruments: give them once")
        args.endog, args.instruments = _names(endog, args.formula), _names(instruments, args.formula)
        main = main + " + " + " + ".join(args.instruments)
    args.formula = main


def _names(terms: str, formula: str) -> list:
    names = [part.strip() for part in terms.split("+")]
    bad = [name for name in names if not _NAME.match(name)]
    if bad:
        raise CommandError(f"--formula {formula!r}: in the command line, write the endogenous regressors and the "
                           f"instruments as column names joined by '+'; got {bad[0]!r}")
    return names


def _cluster_columns(args) -> list:
    return [part.strip() for part in (args.cluster or "").split(",") if part.strip()]


# --------------------------------------------------------------------------- the fit

def handles(args) -> bool:
    """True for the fits of this module: ``--absorb``, ``--model iv|liml``."""
    return _absorbing(args) or args.model in MODELS


def fit(args, data) -> FitOutcome:
    """Fit OLS with absorbed fixed effects, IV2SLS or IVLIML on the training rows."""
    import pandas as pd

    from ..stats.least_squares import CollinearityError

    X = pd.DataFrame(data.X_train, columns=data.feature_names)
    y = pd.Series(data.y_train, name=args.target)
    groups = _columns(args, data, _cluster_columns(args), "--cluster")
    cov_type = "cluster" if groups is not None else args.cov_type
    if cov_type == "cluster" and groups is None:
        raise CommandError("--cov-type cluster needs --cluster COL[,COL] (the grouping columns)")
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.model in MODELS:
                estimator, predictor = _fit_iv(args, data, X, y, groups, cov_type)
            else:
                estimator, predictor = _fit_absorbed(args, data, X, y, groups, cov_type)
    except (ValueError, TypeError, CollinearityError) as error:
        raise CommandError(f"--model {args.model}: {error}") from None
    seconds = time.perf_counter() - start
    notes = [f"warning: {w.message}" for w in caught]
    return FitOutcome(predictor=predictor, estimator=estimator, seconds=seconds, notes=notes)


def _columns(args, data, names, option):
    """The training rows of the columns ``names`` of the table: None, one array, or a DataFrame."""
    if not names:
        return None
    frame = data.frame
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise CommandError(f"{option} {missing[0]!r} is not a column of the data; "
                           f"columns: {', '.join(map(str, frame.columns))}")
    values = frame[list(names)].iloc[data.train_rows].reset_index(drop=True)
    empty = [name for name in names if values[name].isna().any()]
    if empty:
        raise CommandError(f"{option} column {empty[0]!r} has missing values in the rows used for the fit")
    return values[names[0]].to_numpy() if len(names) == 1 else values


def _check_cov(args, cov_type, allowed):
    if cov_type not in allowed:
        raise CommandError(f"--cov-type {cov_type} is not available for --model {args.model}"
                           f"{' --absorb' if _absorbing(args) else ''}; choices: {', '.join(allowed)}")


def _fit_absorbed(args, data, X, y, groups, cov_type):
    from .. import stats
    from ..stats.absorbed_ols import ABSORB_COV_TYPES

    _check_cov(args, cov_type, ABSORB_COV_TYPES)
    if args.solver not in (None, "qr"):
        raise CommandError(f"--solver {args.solver} is not available with --absorb; choices: qr")
    frame = _with_effects(args, data, X)
    estimator = stats.OLS(absorb=list(args.absorb), cov_type=cov_type).fit(frame, y, groups=groups)
    coef = _coefficients(data.feature_names, estimator.results_.names, estimator.results_._params)
    predictor = Predictor(kind=args.model, task=data.task, classes=None, coef=coef, intercept=np.zeros(1))
    return estimator, predictor


def _with_effects(args, data, X):
    """X with the --absorb columns (training rows) added."""
    clash = [name for name in args.absorb if name in X.columns]
    if clash:
        raise CommandError(f"--absorb {clash[0]!r} is also a feature; leave it out of --features")
    effects = _columns(args, data, args.absorb, "--absorb")
    if len(args.absorb) == 1:
        effects = {args.absorb[0]: effects}
    return X.assign(**{name: np.asarray(effects[name]) for name in args.absorb})


def _fit_iv(args, data, X, y, groups, cov_type):
    from .. import stats
    from ..stats.iv_results import IV_COV_TYPES

    _check_cov(args, cov_type, IV_COV_TYPES)
    if args.solver is not None:
        raise CommandError(f"--solver {args.solver} is not available for --model {args.model} (closed form)")
    missing = [name for name in args.endog + args.instruments if name not in X.columns]
    if missing:
        raise CommandError(f"--endog/--instruments {missing[0]!r} is not a numeric feature; the features after "
                           f"encoding are {', '.join(map(str, X.columns))}")
    kind = stats.IV2SLS if args.model == "iv" else stats.IVLIML
    absorb = None
    if _absorbing(args):
        X, absorb = _with_effects(args, data, X), list(args.absorb)
    estimator = kind(endog=list(args.endog), instruments=list(args.instruments), absorb=absorb,
                     fit_intercept=not args.no_intercept, cov_type=cov_type).fit(X, y, groups=groups)
    coef = _coefficients(data.feature_names, estimator.results_.names, estimator.results_._params)
    predictor = Predictor(kind=args.model, task=data.task, classes=None, coef=coef,
                          intercept=np.array([estimator.intercept_], dtype=np.float64))
    return estimator, predictor


def _coefficients(feature_names, names, params) -> np.ndarray:
    """B (p, 1) over the encoded features: the estimates by name, zero for the others (instruments,
    regressors dropped as collinear with the fixed effects)."""
    by_name = dict(zip(map(str, names), np.asarray(params, dtype=np.float64)))
    return np.array([by_name.get(str(name), 0.0) for name in feature_names], dtype=np.float64).reshape(-1, 1)


def metrics(args, outcome):
    """With ``--absorb``: R², RMSE, MAE of the fit's own fitted values (the fixed effects included)
    on the rows kept; None otherwise (the predictor's metrics apply)."""
    if not _absorbing(args):
        return None
    results = outcome.estimator.results_
    resid = np.asarray(results.resid, dtype=np.float64)
    return {"train": {"r2": float(results.rsquared), "rmse": float(np.sqrt(np.mean(resid ** 2))),
                      "mae": float(np.mean(np.abs(resid))), "n": int(results.nobs)}}


# --------------------------------------------------------------------------- output

def tables(args, estimator) -> list:
    """The tables shown after the coefficients: the absorbed factors, or the first stage and the
    overidentification tests."""
    from ..stats.inference import Table

    if estimator is None or not handles(args):
        return []
    results = estimator.results_
    absorbed = []
    if _absorbing(args):
        rows = [[str(name), str(levels)] for name, levels in zip(results.absorb, results.levels)]
        absorbed = [Table("Absorbed fixed effects", [("Singletons dropped", str(results.n_singletons)),
                                                     ("R-squared within", f"{results.rsquared_within:.6g}"),
                                                     ("Absorbed df", str(results.df_absorbed))],
                          ["fixed effect", "levels"], rows)]
    if args.model not in MODELS:
        return absorbed
    overid = [[label, f"{test.stat:.6g}", f"{test.pval:.4g}", str(test.df)]
              for label, test in (("Sargan", results.sargan), ("Wooldridge score", results.wooldridge_overid),
                                  ("Hansen J", results.j_stat))]
    return [results.first_stage.summary(),
            Table("Overidentification tests", [], ["", "statistic", "P-value", "df"], overid,
                  notes=[] if results.sargan.df else ["exactly identified: no test"])] + absorbed


def adjust_report(args, run) -> None:
    """With ``--absorb``: the report's prediction figures show the fit's own fitted values (the fixed
    effects included) on the rows kept, not X·b, which leaves the fixed effects out."""
    if not _absorbing(args) or run.estimator is None:
        return
    results = run.estimator.results_
    fitted = np.asarray(results.fittedvalues, dtype=np.float64)
    rows = np.arange(len(fitted), dtype=np.float64).reshape(-1, 1)
    run.X_eval, run.y_eval = rows, fitted + np.asarray(results.resid, dtype=np.float64)
    run.eval_split = "training"
    run.predict_scores = lambda X: fitted[np.asarray(X, dtype=np.int64)[:, 0]]


def print_results(screen, args, outcome) -> None:
    """The tables of :func:`tables` and the fit's warnings (singletons, collinear regressors)."""
    for note in outcome.notes:
        screen.print(note, markup=False)
    for table in tables(args, outcome.estimator):
        screen.print(str(table), markup=False)


def saved(args, outcome) -> dict:
    """What ``model.json`` adds: for ``--absorb``, the estimator's reason it cannot predict."""
    if not _absorbing(args) or outcome.estimator is None:
        return {}
    try:
        outcome.estimator.predict(np.zeros((1, len(outcome.estimator.coef_))))
    except ValueError as error:
        return {"predict_refused": str(error)}
    return {}


def refuse_prediction(spec: dict, model_dir) -> None:
    """``chainrule predict`` on a model that cannot predict new rows (``--absorb``): CommandError."""
    reason = spec.get("predict_refused")
    if reason:
        absorbed = ",".join((spec.get("settings") or {}).get("absorb") or ())
        raise CommandError(f"the model in {model_dir} was fitted with --absorb {absorbed}: {reason}")
