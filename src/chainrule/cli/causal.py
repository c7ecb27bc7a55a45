"""``chainrule dml``: the effect of a treatment column by double/debiased machine learning.

    chainrule dml data.csv --target y --treatment d [--model plr|irm|pliv] [--instruments z]
                  [--controls a,b,...] [--learner lasso|ridge|mlp] [--folds 5] [--reps 1]

reads the table, takes the controls X (default: every other numeric column), fits
``chainrule.causal.PLR`` / ``IRM`` / ``PLIV`` with the chosen nuisance learners (lasso:
``stats.LassoCV``; ridge: ``stats.RidgeCV``; both with ``stats.LogisticRegression`` for a
propensity; mlp: ``causal.NetworkLearner`` (64, 64) with early stopping, tanh with weight decay
0.1 for plr and pliv, ReLU without weight decay for irm: the configurations whose intervals
covered in the guide's coverage study, chapter 12) and prints the results table and the learners' out-of-fold losses.
``--cluster COL[,COL]``: folds drawn by cluster and cluster-robust standard errors (one- or
two-way, :mod:`chainrule.causal.clusters`).
"""
from __future__ import annotations

from .arguments import add_debug_argument, name_list, positive_int
from .errors import CommandError
from .output import console

SCORES = {"plr": ("partialling out", "IV-type"), "irm": ("ATE", "ATTE"), "pliv": ("partialling out", "IV-type")}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dml",
        help="a treatment effect with a standard error by double/debiased machine learning",
        description="Estimate the effect of --treatment on --target controlling for the other columns "
                    "(partially linear, interactive or IV model of Chernozhukov et al. 2018), with "
                    "cross-fitted nuisance learners and standard errors from the orthogonal score.",
        epilog="example: chainrule dml data.csv --target y --treatment d --learner lasso --folds 5",
    )
    parser.add_argument("data", metavar="DATA", help="a .csv/.parquet file or a bundled dataset name")
    parser.add_argument("--target", metavar="COL", required=True, help="the outcome column Y")
    add_estimation_arguments(parser)
    parser.add_argument("--instruments", metavar="Z[,Z2...]", type=name_list,
                        help="pliv: the instrument column(s)")
    parser.add_argument("--controls", metavar="A,B,...", type=name_list,
                        help="the control columns X (default: every other numeric column)")
    parser.add_argument("--model", choices=tuple(SCORES), default="plr", help="plr (default), irm or pliv")
    parser.add_argument("--cluster", metavar="COL[,COL]", type=name_list,
                        help="cluster-robust standard errors and folds drawn by cluster (one or two columns)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds and the networks (default: 0)")
    add_debug_argument(parser)
    parser.set_defaults(func=run)


def add_estimation_arguments(parser, *, required: bool = True) -> None:
    """The options ``chainrule dml`` shares with ``chainrule fit --model dml-plr|dml-irm|dml-pliv``:
    --treatment, --score, --learner, --folds, --reps, --trimming."""
    parser.add_argument("--treatment", metavar="D[,D2...]", type=name_list, required=required,
                        help="the treatment column(s); irm: one 0/1 column")
    parser.add_argument("--score", help="plr/pliv: 'partialling out' (default) or 'IV-type'; irm: ATE or ATTE")
    parser.add_argument("--learner", choices=("lasso", "ridge", "mlp"), default="lasso",
                        help="the nuisance learners (default: lasso)")
    parser.add_argument("--folds", type=positive_int, default=5, help="cross-fitting folds (default: 5)")
    parser.add_argument("--reps", type=positive_int, default=1, help="repeated sample splits (default: 1)")
    parser.add_argument("--trimming", type=float, default=0.01, help="irm: propensity clipping (default: 0.01)")


def learners(kind: str, seed: int, model: str = "plr"):
    """(regressor, classifier) for --learner and --model."""
    from .. import stats
    from ..causal import NetworkLearner

    if kind == "mlp":
        options = dict(hidden=(64, 64), activation="relu" if model == "irm" else "tanh",
                       weight_decay=0.0 if model == "irm" else 0.1, random_state=seed)
        return NetworkLearner(**options), NetworkLearner(task="classification", **options)
    regressor = stats.LassoCV() if kind == "lasso" else stats.RidgeCV(alphas=(0.01, 0.1, 1.0, 10.0, 100.0))
    return regressor, stats.LogisticRegression()


def columns_of(args, frame):
    """(controls, treatments, instruments) column lists, checked against the table."""
    treatments, instruments = list(args.treatment), list(args.instruments or [])
    used = [args.target, *treatments, *instruments, *cluster_columns(args)]
    missing = [name for name in used + list(args.controls or []) if name not in frame.columns]
    if missing:
        raise CommandError(f"no column named {', '.join(map(repr, missing))} in {args.data}")
    if args.controls:
        controls = list(args.controls)
    else:
        controls = [c for c in frame.columns if c not in used and frame[c].dtype.kind in "biuf"]
    text = [c for c in controls + [args.target, *treatments, *instruments] if frame[c].dtype.kind not in "biuf"]
    if text:
        raise CommandError(f"dml needs numeric columns; {', '.join(map(repr, text))} are not (encode them, or leave "
                           f"them out with --controls)")
    if not controls:
        raise CommandError("dml needs at least one control column")
    if len(cluster_columns(args)) > 2:
        raise CommandError(f"--cluster takes one or two columns; got {len(cluster_columns(args))}")
    prefix = getattr(args, "model_prefix", "")  # "dml-" for chainrule fit --model dml-*
    if args.model == "pliv" and not instruments:
        raise CommandError(f"--model {prefix}pliv needs --instruments")
    if args.model != "pliv" and instruments:
        raise CommandError(f"--instruments applies to --model {prefix}pliv, not {prefix}{args.model}")
    return controls, treatments, instruments


def run(args) -> int:
    from ..datasets import read_table

    frame = read_table(args.data)
    model, controls, treatments = estimate(args, frame)
    print_results(args, model, controls, treatments)
    return 0


def estimate(args, frame):
    """``(model, controls, treatments)``: ``args.model``'s DML model fitted to ``frame`` as the
    options say (``chainrule dml``; ``chainrule fit --model dml-…`` passes its options here)."""
    from .. import causal

    controls, treatments, instruments = columns_of(args, frame)
    score = args.score or SCORES[args.model][0]
    if score not in SCORES[args.model]:
        label = getattr(args, "model_prefix", "") + args.model
        raise CommandError(f"--score for {label} must be one of {', '.join(SCORES[args.model])}; got {score!r}")
    regressor, classifier = learners(args.learner, args.seed, args.model)
    common = dict(score=score, n_folds=args.folds, n_rep=args.reps, random_state=args.seed)
    if args.model == "plr":
        model = causal.PLR(regressor, regressor, **common)
    elif args.model == "irm":
        model = causal.IRM(regressor, classifier, trimming_threshold=args.trimming, **common)
    else:
        model = causal.PLIV(regressor, regressor, regressor, **common)
    d = frame[treatments[0]] if len(treatments) == 1 else frame[treatments]
    z = frame[instruments] if instruments else None
    clusters = frame[cluster_columns(args)] if cluster_columns(args) else None
    model.fit(frame[controls], frame[args.target], d, z, clusters=clusters)
    return model, controls, treatments


def cluster_columns(args) -> list:
    """The --cluster columns."""
    return list(getattr(args, "cluster", None) or [])


def headline(args, controls, treatments) -> str:
    """The line printed above the results table."""
    return (f"{args.model.upper()} of {args.target} on {', '.join(treatments)}; controls: {len(controls)} "
            f"columns; learners: {args.learner}")


def print_results(args, model, controls, treatments) -> None:
    """The headline, the effects table and the learners' out-of-fold losses, on the console."""
    screen = console()
    screen.print(headline(args, controls, treatments), markup=False)
    screen.print(model.results_.summary().as_text(), markup=False)
    screen.print(model.results_.nuisance_table().as_text(), markup=False)
