"""``chainrule diagnose``: check the optimization-theory claims on your own model and data.

For a linear model (``--model ols`` or ``logit``), on the standardized training rows with an
intercept, Z = [1, X], and the mean loss (ols: (1/(2n))‖y − Zθ‖²; logit: the mean
cross-entropy):

1. L and μ: power iteration / the assembled Hessian from Hessian-vector products
   (:func:`chainrule.theory.smoothness`, :func:`~chainrule.theory.strong_convexity`),
   next to their closed forms (ols: the eigenvalues of Z'Z/n; logit: λ_max(Z'Z)/(4n), and
   the eigenvalues of Z'ŴZ/n at θ̂);
2. the step sizes 1/L and 2/(L + μ) (:func:`chainrule.theory.step_size`);
3. a certificate: gradient descent with step 1/L from θ = 0 (``--max-iter`` steps), its gap
   f(θ_k) − f* against ‖θ_0 − θ̂‖²/(2tk) and, for ols, the linear rate (1 − μ/L)^k
   (:func:`chainrule.theory.certificate`); the logistic loss is not globally strongly
   convex, so only the O(1/k) bound is certified for logit;
4. optimization vs statistical error: ‖θ_k − θ̂‖ against the standard errors of θ̂, and the
   iteration from which it is below ``--fraction`` of the smallest one
   (:func:`chainrule.theory.optimization_vs_statistical`).

For ``--model mlp``: the initialization diagnostics (:func:`chainrule.diagnostics.compare_inits`
over ``--inits``; per-layer activation and gradient scales, one figure per quantity) and the
local smoothness L of the training loss at the default initialization (in float64), with
the step 1/L it suggests. Everything is printed and written to ``--out``: ``report.html``
(tables and figures), the figures as PNG, and ``diagnose.json``.
"""
from __future__ import annotations

import time

import numpy as np

from .arguments import (
    HelpFormatter,
    add_data_arguments,
    add_debug_argument,
    add_model_arguments,
    add_output_arguments,
    hide_options,
    name_list,
    positive_float,
    positive_int,
    settings_of,
)
from .errors import CommandError
from .networks import build_mlp, make_loss, network_inputs, network_targets
from .output import console, output_directory
from .preparation import prepare_data

MODELS = ("ols", "logit", "mlp")
DEFAULT_INITS = ["normal(0.01)", "xavier", "kaiming", "default"]

EXAMPLES = """examples:
  chainrule diagnose wages.csv --target wage --model ols
  chainrule diagnose mroz.csv --target inlf --model logit --fraction 0.05 --max-iter 5000
  chainrule diagnose digits --target target --model mlp --hidden 64,64,64,64,64,64,64,64 --activation tanh"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="smoothness L, strong convexity mu, step size, rate certificate, optimization vs "
             "statistical error; initialization diagnostics for mlp",
        description="Check the optimization-theory claims on DATA: estimate L and mu, recommend the "
                    "step 1/L, run gradient descent and compare its suboptimality with the O(1/k) "
                    "and linear-rate bounds, and find the iteration from which the optimization "
                    "error is below a fraction of the smallest standard error (ols, logit); for mlp, "
                    "per-layer activation and gradient scales under several initializations. Inputs "
                    "are standardized. Writes report.html, the figures and diagnose.json to --out.",
        epilog=EXAMPLES, formatter_class=HelpFormatter,
    )
    add_data_arguments(parser)
    add_model_arguments(parser, models=MODELS, statistical=False)
    hide_options(parser, ("optimizer", "lr", "epochs", "batch_size"))  # it does not train the model
    group = parser.add_argument_group("diagnostics")
    group.add_argument("--max-iter", type=positive_int, default=2000,
                       help="ols/logit: gradient-descent steps for the certificate and the "
                            "optimization-vs-statistical curve (default: %(default)s)")
    group.add_argument("--fraction", type=positive_float, default=0.01,
                       help="ols/logit: target fraction of the smallest standard error (default: %(default)s)")
    group.add_argument("--eps", type=positive_float, default=1e-6,
                       help="ols: accuracy eps of the iteration count k* (default: %(default)s)")
    group.add_argument("--power-iters", type=positive_int, default=200,
                       help="power-iteration steps for L (default: %(default)s)")
    group.add_argument("--inits", type=name_list, default=DEFAULT_INITS, metavar="A,B,...",
                       help="mlp: initializations to compare (default: " + ",".join(DEFAULT_INITS) + ")")
    group.add_argument("--diagnostic-rows", type=positive_int, default=512,
                       help="mlp: training rows used for the statistics and for L (default: %(default)s)")
    add_output_arguments(parser)
    add_debug_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from .. import report as rep
    from .artifacts import strict_json, write_json

    if args.device != "cpu":
        raise CommandError(f"diagnose runs on the CPU (Hessian-vector products in float64 on small data); "
                           f"drop --device {args.device}")
    out = output_directory(args)
    start = time.perf_counter()
    data = prepare_data(args, standardize=True)
    screen = console()
    screen.print(f"{args.data}: {len(data.y_train)} training rows, {len(data.feature_names)} features "
                 f"(standardized); task {data.task}; model {args.model}")
    report = rep.Report(f"chainrule diagnose: {args.model} on {args.data}")
    report.add_settings(settings_of(args), title="Run settings")
    report.add_data_summary(data.summary, title="Data")
    if args.model == "mlp":
        results = _diagnose_network(args, data, screen, report)
    else:
        results = _diagnose_linear(args, data, screen, report)
    seconds = time.perf_counter() - start
    report.add_timings({"diagnose": seconds}, title="Timings")
    path = report.write(out)
    write_json(out / "diagnose.json", strict_json({"model": args.model, "data": str(args.data),
                                                    "target": args.target, "seconds": seconds, **results}))
    screen.print(f"wrote {path} and {out / 'diagnose.json'}")
    return 0


# --------------------------------------------------------------------------- linear models

def _diagnose_linear(args, data, screen, report) -> dict:
    import chainrule as cr
    import chainrule.nn.functional as F

    from .. import optim, stats, theory

    if args.model == "logit" and data.task != "binary":
        raise CommandError(f"--model logit needs a binary target; {args.target!r} has {len(data.classes)} classes")
    X, y = data.X_train, np.asarray(data.y_train, dtype=np.float64)
    n, names = len(y), ["const", *data.feature_names]
    Z = np.hstack([np.ones((n, 1)), X])
    Zt, yt = cr.tensor(Z, dtype=cr.float64), cr.tensor(y, dtype=cr.float64)
    if args.model == "ols":
        def loss(theta):
            return 0.5 * ((Zt @ theta - yt) ** 2).mean()
        estimator = stats.OLS().fit(X, y)
    else:
        def loss(theta):
            return F.binary_cross_entropy_with_logits(Zt @ theta, yt)
        estimator = stats.Logit().fit(X, y)
    theta_hat = np.asarray(estimator.params, dtype=np.float64)

    def point(values):
        return cr.tensor(np.asarray(values, dtype=np.float64), dtype=cr.float64, requires_grad=True)

    L = theory.smoothness(loss, point(np.zeros(Z.shape[1])), iters=args.power_iters)
    mu = theory.strong_convexity(loss, point(theta_hat), L=L)
    closed_global = theory.closed_form_constants(Z, "least_squares" if args.model == "ols" else "logistic")
    closed_local = (closed_global if args.model == "ols"
                    else theory.closed_form_constants(Z, "logistic", theta=theta_hat))
    curvature = [
        {"quantity": "L (at θ = 0)", "estimate": L.value, "closed_form": closed_global.L,
         "method": f"power iteration, {L.iterations} Hessian-vector products"},
        {"quantity": "μ (at θ̂)", "estimate": mu.value, "closed_form": closed_local.mu,
         "method": f"{mu.method}, {mu.iterations} Hessian-vector products"},
    ]
    strongly = args.model == "ols" and mu.value > 0
    advice = theory.step_size(L, mu.value if strongly else None)

    x0 = np.zeros(Z.shape[1])
    run = optim.minimize(loss, point(x0), lr=advice.lr, tol=1e-12, max_iter=args.max_iter)
    f_star = float(loss(cr.tensor(theta_hat, dtype=cr.float64)).item())
    certificate = theory.certificate(run, f_star=f_star, x_star=theta_hat, x0=x0, L=L,
                                     mu=mu.value if strongly else None, lr=advice.lr, eps=args.eps)
    tradeoff = theory.optimization_vs_statistical(X, y, args.model, fraction=args.fraction,
                                                  max_iter=args.max_iter, names=names)
    _print_linear(screen, curvature, advice, certificate, tradeoff)
    _report_linear(report, args, curvature, advice, certificate, tradeoff)
    return {"curvature": curvature, "step_size": advice.as_dict(), "certificate": certificate.summary(),
            "certificate_notes": certificate.notes,
            "optimization_vs_statistical": {"k_threshold": tradeoff.k_threshold, "threshold": tradeoff.threshold,
                                            "fraction": tradeoff.fraction, "iterations": int(tradeoff.k[-1]),
                                            "coefficients": tradeoff.table()}}


def _print_linear(screen, curvature, advice, certificate, tradeoff) -> None:
    from rich.table import Table

    table = Table(title="curvature of the mean loss")
    for column in ("quantity", "estimate", "closed form", "method"):
        table.add_column(column, justify="left" if column in ("quantity", "method") else "right")
    for row in curvature:
        table.add_row(row["quantity"], f"{row['estimate']:.6g}", f"{row['closed_form']:.6g}", row["method"])
    screen.print(table)
    line = f"step size: 1/L = {advice.lr:.6g}"
    if advice.lr_strongly_convex is not None:
        line += f", 2/(L+mu) = {advice.lr_strongly_convex:.6g}, condition number L/mu = {advice.condition_number:.4g}"
    screen.print(line, markup=False)
    summary = certificate.summary()
    screen.print(f"certificate ({summary['iterations']} gradient steps with t = 1/L): "
                 f"final gap {summary['final_gap']:.3g}; "
                 f"O(1/k) bound holds at every k: {_yes(summary['sublinear_bound_holds'])} "
                 f"(largest gap/bound {_number(summary['sublinear_max_ratio'])})", markup=False)
    if certificate.linear_bound is not None:
        screen.print(f"linear rate (1 - mu/L)^k holds at every k: {_yes(summary['linear_bound_holds'])} "
                     f"(largest gap/bound {_number(summary['linear_max_ratio'])}); k* for eps = {certificate.eps:g}: "
                     f"{certificate.k_star}, observed: {certificate.k_observed}", markup=False)
    for note in certificate.notes:
        screen.print(f"note: {note}", markup=False)
    if tradeoff.k_threshold is None:
        screen.print(f"optimization error stayed above {tradeoff.fraction:g} x the smallest standard error "
                     f"({tradeoff.threshold:.3g}) for {int(tradeoff.k[-1])} steps; raise --max-iter", markup=False)
    else:
        screen.print(f"optimization error ||theta_k - theta_hat|| < {tradeoff.fraction:g} x smallest standard error "
                     f"({tradeoff.threshold:.3g}) from iteration {tradeoff.k_threshold}: beyond it no reported "
                     f"estimate, interval or test changes", markup=False)


def _report_linear(report, args, curvature, advice, certificate, tradeoff) -> None:
    report.add_table("Curvature: L and μ", curvature,
                     caption="Estimates from Hessian-vector products (central differences of autodiff "
                             "gradients, float64) next to the closed forms from the design matrix.")
    report.add_table("Step size", [advice.as_dict()],
                     caption="1/L guarantees descent and the O(1/k) bound; 2/(L+μ) contracts the distance "
                             "to θ̂ by (κ−1)/(κ+1) per step when μ > 0.")
    report.add_table("Convergence certificate", [certificate.summary()],
                     caption="Gradient descent with t = 1/L from θ = 0. Ratios are the largest observed gap "
                             "divided by the bound (≤ 1 where the bound holds).")
    if certificate.notes:
        report.add_text("Certificate notes", "\n\n".join(certificate.notes))
    report.add_figure("Observed gap vs bounds", certificate.figure(),
                      caption="f(θ_k) − f* against the iteration, both axes logarithmic.")
    report.add_table("Optimization vs statistical error", tradeoff.table(),
                     caption=f"Gradient descent after {int(tradeoff.k[-1])} steps against the estimate and its "
                             f"standard error. Below {tradeoff.fraction:g} × the smallest standard error from "
                             f"iteration {tradeoff.k_threshold}.")
    report.add_figure("Optimization error and standard errors", tradeoff.figure())


# --------------------------------------------------------------------------- networks

def _diagnose_network(args, data, screen, report) -> dict:
    import copy

    import chainrule as cr

    from .. import theory
    from ..theory import diagnostics

    rows = min(args.diagnostic_rows, len(data.y_train))
    X = data.X_train[:rows]
    y_net = network_targets(data.y_train[:rows], data.task)
    loss = make_loss(data.task)

    def build():
        return build_mlp(args, len(data.feature_names), data.n_outputs)

    try:
        comparison = diagnostics.compare_inits(build, network_inputs(X), y_net, inits=tuple(args.inits), loss=loss,
                                               seed=args.seed)
    except ValueError as err:
        raise CommandError(str(err)) from err
    summary = comparison.summary()
    cr.manual_seed(args.seed)
    model = copy.deepcopy(build()).double()
    X64 = cr.tensor(X, dtype=cr.float64)
    target = y_net if data.task == "multiclass" else y_net.double()
    model.eval()  # dropout off: the loss must be a deterministic function of the weights
    L = theory.smoothness(lambda *_: loss(model(X64), target), list(model.parameters()), iters=args.power_iters)
    advice = theory.step_size(L) if L.value > 0 else None
    _print_network(screen, summary, L, advice)
    report.add_table("Initialization summary", summary,
                     caption="Standard deviation of the first and last hidden activation, and of the "
                             "backpropagated signal ∂L/∂z at the first and last Linear layer.")
    for quantity, figure in comparison.figures().items():
        report.add_figure(f"Initialization: {quantity.replace('_', ' ')}", figure)
    report.add_table("Activation statistics per layer", comparison.activations)
    report.add_table("Gradient statistics per layer", comparison.gradients)
    report.add_table("Local smoothness at initialization", [{
        "L": L.value, "iterations": L.iterations, "converged": L.converged,
        "lr_1_over_L": None if advice is None else advice.lr}],
        caption="The largest Hessian eigenvalue of the training loss at the default initialization "
                "(float64, power iteration); a local quantity: the loss of a network is not convex.")
    return {"initialization_summary": summary.to_dict(orient="records"),
            "smoothness_at_init": {"L": L.value, "iterations": L.iterations, "converged": L.converged,
                                   "lr_1_over_L": None if advice is None else advice.lr}}


def _print_network(screen, summary, L, advice) -> None:
    from rich.table import Table

    table = Table(title="initialization: signal scale across depth")
    columns = ["init", "activation_std_first", "activation_std_last", "gradient_std_first", "gradient_std_last"]
    for column in columns:
        table.add_column(column.replace("_", " "), justify="left" if column == "init" else "right")
    for row in summary.to_dict(orient="records"):
        table.add_row(row["init"], *[f"{row[c]:.3g}" for c in columns[1:]])
    screen.print(table)
    screen.print(f"local smoothness at initialization: L = {L.value:.6g} ({L.iterations} Hessian-vector products"
                 f"{'' if L.converged else ', not converged'})"
                 + ("" if advice is None else f"; step 1/L = {advice.lr:.6g}"), markup=False)


def _yes(value) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def _number(value) -> str:
    return "-" if value is None else f"{value:.3g}"
