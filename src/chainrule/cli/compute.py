"""``chainrule compute``: what will training cost, and how long will it take?

Three ways to ask (exactly one per call):

* ``--params N --tokens D`` (or ``--flops C``): C = 6·N·D training FLOPs (Kaplan et
  al. 2020) on ``--count`` × ``--accelerator``: time and cost over a utilization
  range, and whether the parameters, gradients and optimizer state fit.
* ``--preset gpt3|bert-base|resnet50-imagenet``: the course's examples re-derived.
* ``DATA --target COL --model mlp --hidden 256,256 --epochs 10``: count the MLP's
  FLOPs, time real training steps on this machine, and print the local estimate
  next to the estimate on every catalog accelerator (time, cost, fits or not).
"""
from __future__ import annotations

import copy
import math

from .arguments import (
    HelpFormatter,
    add_data_arguments,
    add_debug_argument,
    add_model_arguments,
    positive_float,
    positive_int,
    scope_groups,
)
from .errors import CommandError
from .output import console

_PRECISIONS = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compute",
        help="training FLOPs, time and cost on named GPUs; measured local throughput",
        description="Estimate training time and cost: from parameters and tokens (6·N·D), "
                    "from a preset of the course (gpt3, bert-base, resnet50-imagenet), or by "
                    "counting an MLP on your data and timing it on this machine. Times are "
                    "ranges over model FLOPs utilization (default 0.20-0.50 of dense peak).",
        epilog="example: chainrule compute --params 175e9 --tokens 300e9 --accelerator A100-80GB "
               "--count 1024;  chainrule compute --preset gpt3;  chainrule compute data.csv "
               "--target y --model mlp --hidden 256,256 --epochs 10",
        formatter_class=HelpFormatter,
    )
    add_data_arguments(parser, optional=True)
    add_model_arguments(parser, models=("mlp",), default_model="mlp", statistical=False)
    scope_groups(parser, "compute DATA: an MLP counted and timed here", titles=("data", "model", "mlp"))
    scope_groups(parser, "compute DATA; --optimizer also with --params, for its state's memory",
                 titles=("training (networks)",))
    plan = parser.add_argument_group("estimate")
    plan.add_argument("--params", type=positive_float, metavar="N",
                      help="parameters of the model (e.g. 175e9); with --tokens")
    plan.add_argument("--tokens", type=positive_float, metavar="D",
                      help="training tokens (or examples) in total; with --params (--epochs is not applied)")
    plan.add_argument("--flops", type=positive_float, metavar="C", help="total training FLOPs, if known")
    plan.add_argument("--preset", choices=("gpt3", "bert-base", "resnet50-imagenet"),
                      help="one of the course's examples; with --accelerator/--count: recomputed on that hardware")
    plan.add_argument("--list-accelerators", action="store_true",
                      help="print the catalogue: dense/sparse peak TFLOP/s by precision, memory, bandwidth, "
                           "price per hour and sources")
    plan.add_argument("--accelerator", default="A100-80GB", metavar="NAME",
                      help="catalog name: A100-40GB, A100-80GB, H100-SXM, H100-PCIe, H200, L4, L40S, "
                           "RTX-4090, RTX-3090, V100, T4 or CPU (default: %(default)s; --preset: the preset's)")
    plan.add_argument("--count", type=positive_int, metavar="K",
                      help="number of devices (default: 8, or 1 with DATA; --preset: the preset's)")
    plan.add_argument("--precision", choices=_PRECISIONS, default="tf32",
                      help="arithmetic precision (default: %(default)s; --preset: the preset's, bf16, or the "
                           "nearest the device has)")
    plan.add_argument("--utilization", metavar="U|LOW,HIGH",
                      help="model FLOPs utilization: one fraction or a range (default: 0.35 in 0.20,0.50)")
    plan.add_argument("--price", type=positive_float, metavar="USD",
                      help="US$ per device-hour of --accelerator (default: the price list)")
    plan.add_argument("--prices", metavar="FILE",
                      help="TOML price list with a [prices] table (default: $CHAINRULE_PRICES or "
                           "~/.config/chainrule/prices.toml, else the built-in list)")
    plan.add_argument("--steps", type=positive_int, default=10,
                      help="DATA: timed training steps for the local throughput (default: %(default)s)")
    add_debug_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from .. import compute

    mode = _mode(args)
    if mode != "list" and args.accelerator.upper() != "CPU":
        try:
            compute.get_accelerator(args.accelerator)
        except ValueError as error:
            raise CommandError(f"--{error}") from None
    utilization = _parse_utilization(args.utilization)
    prices = _load_prices(compute, args.prices)
    screen = console()
    if mode == "list":
        print_catalogue(screen, compute, prices)
        return 0
    if mode == "preset":
        chosen = _preset_hardware(args)
        if chosen is None:
            _print_preset(screen, compute.preset(args.preset))
        else:
            _print_preset_on(screen, compute, compute.preset(args.preset), *chosen, utilization, args.price, prices)
        return 0
    if mode == "rule":
        _run_rule(screen, compute, args, utilization, prices)
        return 0
    _run_data(screen, compute, args, utilization, prices)
    return 0


# ---------------------------------------------------------------------- modes


def _mode(args) -> str:
    chosen = [name for name, given in (
        ("list", args.list_accelerators),
        ("preset", args.preset is not None),
        ("rule", args.params is not None or args.tokens is not None or args.flops is not None),
        ("data", args.data is not None),
    ) if given]
    if len(chosen) != 1:
        raise CommandError(
            "give exactly one of --list-accelerators, --preset NAME, --params N --tokens D (or --flops C), or DATA "
            f"--target COL; got {' and '.join(chosen) if chosen else 'none of them'}"
        )
    if chosen[0] == "rule" and args.flops is None and (args.params is None or args.tokens is None):
        raise CommandError("--params and --tokens go together (training FLOPs = 6 · params · tokens); "
                           "or give --flops")
    if chosen[0] == "rule" and args.flops is not None and args.tokens is not None:
        raise CommandError("give either --flops or --tokens, not both")
    return chosen[0]


def _run_rule(screen, compute, args, utilization, prices) -> None:
    flops = args.flops if args.flops is not None else compute.training_flops(params=args.params, tokens=args.tokens)
    count = 8 if args.count is None else args.count
    try:
        result = compute.estimate(flops, args.accelerator, count, args.precision, utilization,
                                  args.price, params=args.params, optimizer=args.optimizer, prices=prices)
    except ValueError as error:
        raise CommandError(str(error)) from None
    how = "given" if args.flops is not None else f"6 × {args.params:.3g} params × {args.tokens:.3g} tokens"
    _print_estimate(screen, result, f"training FLOPs: {flops:.3g} ({how})", prices)


def _run_data(screen, compute, args, utilization, prices) -> None:
    import chainrule as cr

    from .networks import build_mlp, check_device, make_loss, make_optimizer, network_inputs, network_targets
    from .preparation import prepare_data

    device = check_device(args.device)
    cr.manual_seed(args.seed)
    data = prepare_data(args, standardize=True)
    samples = len(data.X_train)
    model = build_mlp(args, data.X_train.shape[1], data.n_outputs).to(device=device)
    batch = min(args.batch_size, samples)
    x = network_inputs(data.X_train[:batch]).to(device=device)
    y = network_targets(data.y_train[:batch], data.task).to(device=device)
    count = compute.count_flops(model, x)
    trained = copy.deepcopy(model)
    optimizer = make_optimizer(args.optimizer, trained.parameters(), args.lr)
    throughput = compute.measure_throughput(trained, x, make_loss(data.task), optimizer, args.steps, target=y)
    total = count.training_flops_per_example * samples * args.epochs
    sizes = [data.X_train.shape[1], *args.hidden, data.n_outputs]
    screen.print(f"[bold]chainrule compute[/bold]: {args.data}, MLP {sizes}, "
                 f"{samples} training rows, batch {batch}, {args.epochs} epochs")
    _print_layers(screen, count)
    local = compute.predict_epoch_time(count, samples, throughput)
    screen.print(
        f"training FLOPs: {count.training_flops_per_example:,.0f} per example "
        f"({count.six_nd_ratio():.2f} × 6·N), {total:.3g} in total; parameters {count.params:,}; "
        f"activations {count.activation_bytes / 1e6:.3g} MB per batch"
    )
    screen.print(
        f"this machine ({throughput.device}, {throughput.dtype}): {throughput.achieved_flops / 1e9:.3g} GFLOP/s "
        f"achieved = {throughput.fraction_of_peak:.1%} of its measured matmul peak "
        f"{throughput.peak_flops / 1e9:.3g} GFLOP/s; predicted {compute.format_duration(local)} per epoch, "
        f"{compute.format_duration(local * args.epochs)} for {args.epochs} epochs"
    )
    rows = _catalog_rows(compute, args, total, count, utilization, prices)
    _print_comparison(screen, rows, local * args.epochs, args.precision, prices)


# ---------------------------------------------------------------------- tables


def _print_estimate(screen, result, heading: str, prices) -> None:
    from rich.table import Table

    from ..compute import format_duration

    fast, slow = result.seconds_range
    low, high = result.utilization_range
    ranged = low != high
    table = Table(title=f"{result.count} × {result.accelerator}, {result.precision}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("peak per device (dense)", f"{result.peak_flops / 1e12:.4g} TFLOP/s")
    table.add_row("utilization (MFU)",
                  f"{result.utilization:.2f}" + (f" (range {low:.2f}-{high:.2f})" if ranged else ""))
    table.add_row("wall time", format_duration(result.seconds)
                  + (f" (range {format_duration(fast)} - {format_duration(slow)})" if ranged else ""))
    table.add_row("days", f"{result.days:.1f}")
    table.add_row("device-hours", f"{result.device_hours:,.0f}")
    price = "n/a" if result.price_per_hour is None else f"US${result.price_per_hour:.4g}"
    table.add_row("price per device-hour", price)
    if result.cost is not None:
        cost_low, cost_high = result.cost_range
        table.add_row("cost", _money(result.cost)
                      + (f" (range {_money(cost_low)} - {_money(cost_high)})" if ranged else ""))
    if result.memory is not None:
        memory = result.memory
        table.add_row("memory: weights + grads + optimizer", f"{(memory.total - memory.activations) / 1e9:,.1f} GB")
        table.add_row("fits on one device", "yes" if memory.fits else "no")
        table.add_row("devices needed just to fit", f"{memory.devices_to_fit:,}")
    screen.print(heading)
    screen.print(table)
    screen.print(f"prices: {prices.taken}")


def _print_preset(screen, preset) -> None:
    from rich.table import Table

    from ..compute import format_duration

    table = Table(title=preset.title)
    for column in ("scenario", "FLOPs", "devices", "MFU", "wall time", "cost"):
        table.add_column(column, justify="left" if column == "scenario" else "right",
                         no_wrap=column in ("wall time", "cost"))
    for row in preset.rows:
        same = row["utilization_low"] == row["utilization_high"]
        time = format_duration(row["seconds"])
        if not same:
            time += f"\n({format_duration(row['seconds_fastest'])} - {format_duration(row['seconds_slowest'])})"
        mfu = f"{row['utilization']:.3f}" if same else f"{row['utilization_low']:.2f}-{row['utilization_high']:.2f}"
        cost = "n/a" if row["cost"] is None else _money(row["cost"])
        if row["cost"] is not None and not same:
            cost += f"\n({_money(row['cost_low'])} - {_money(row['cost_high'])})"
        devices = f"{row['count']} × {row['accelerator']} ({row['precision']})"
        table.add_row(row["scenario"], f"{row['flops']:.3g}", devices, mfu, time, cost)
    screen.print(table)
    if preset.figures:
        figures = Table(title="the network counted layer by layer (built shape-only, training mode, one example)")
        for column in ("quantity", "counted", "published / rule", "source"):
            figures.add_column(column, justify="right" if column in ("counted", "published / rule") else "left")
        for row in preset.figures:
            figures.add_row(row["quantity"], _figure(row["counted"]), _figure(row["published"]), row["source"])
        screen.print(figures)
    screen.print(f"the course: {preset.claim}")
    for note in preset.notes:
        screen.print(f"- {note}")


def _figure(value: float) -> str:
    """Whole numbers below 1e12 with thousands separators (parameter counts), the rest to 4 digits."""
    if float(value).is_integer() and abs(value) < 1e12:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _print_layers(screen, count) -> None:
    from rich.table import Table

    table = Table(title="FLOPs per layer (whole batch)")
    for column in ("layer", "type", "output", "params", "fwd matmul", "fwd other", "bwd matmul", "backward",
                   "counted"):
        table.add_column(column, justify="left" if column in ("layer", "type") else "right",
                         no_wrap=column == "layer")
    for layer in count.layers:
        table.add_row(layer.name, layer.type, str(layer.output_shape), f"{layer.params:,}",
                      f"{layer.forward_matmul:,}", f"{layer.forward_elementwise + layer.forward_reduction:,}",
                      f"{layer.backward_matmul:,}", f"{layer.backward_flops:,}", "yes" if layer.counted else "no")
    screen.print(table)
    screen.print(f"matrix products (what PyTorch's FlopCounterMode counts), whole batch: forward "
                 f"{count.forward_matmul_flops:,}, backward {count.backward_matmul_flops:,}")
    for note in count.notes:
        screen.print(f"note: {note}")


def _catalog_rows(compute, args, total, count, utilization, prices) -> list:
    names = list(compute.ACCELERATORS)
    chosen = compute.get_accelerator(args.accelerator).name if args.accelerator.upper() != "CPU" else None
    if chosen is not None:
        names = [chosen] + [name for name in names if name != chosen]
    devices = 1 if args.count is None else args.count
    rows = []
    for name in names:
        k = devices if name == chosen else 1
        rows += compute.compare_accelerators(total, k, args.precision, utilization, params=count.params,
                                             activation_bytes=count.activation_bytes,
                                             optimizer=args.optimizer, prices=prices, names=[name])
    if args.price is not None and chosen is not None and rows[0]["supported"]:
        rows[0] = {**compute.estimate(total, chosen, devices, rows[0]["precision"], utilization, args.price,
                                      params=count.params, activation_bytes=count.activation_bytes,
                                      optimizer=args.optimizer).as_dict(), "supported": True}
    return rows


def _print_comparison(screen, rows, local_seconds, precision, prices) -> None:
    from rich.table import Table

    from ..compute import format_duration

    table = Table(title=f"the same training elsewhere ({precision} requested; MFU 0.35, range 0.20-0.50 unless set)")
    for column in ("accelerator", "prec.", "time", "range", "cost", "fits", "need"):
        table.add_column(column, justify="left" if column == "accelerator" else "right",
                         no_wrap=column == "accelerator")
    table.add_row("this machine (measured)", "-", format_duration(local_seconds), "-", "-", "yes", "1")
    for row in rows:
        name = f"{row['count']} × {row['accelerator']}"
        if not row["supported"]:
            table.add_row(name, "n/a", "not supported", "-", "-", "-", "-")
            continue
        span = f"{format_duration(row['seconds_fastest'])} - {format_duration(row['seconds_slowest'])}"
        cost = "n/a" if row["cost"] is None else f"US${row['cost']:.3g}"
        table.add_row(name, row["precision"], format_duration(row["seconds"]), span, cost,
                      "yes" if row["fits_one_device"] else "no", f"{row['devices_to_fit']:,}")
    screen.print(table)
    screen.print("A small model on a GPU is bound by per-step overhead, not arithmetic: expect far less than "
                 "the large-model MFU these rows assume; the measured row is the one to trust for this model.")
    screen.print(f"prices: {prices.taken}")


# ---------------------------------------------------------------------- a preset on other hardware (issue 19)

#: The course's claims in seconds on the preset's own hardware (count, accelerator), for the conversion
#: T' = T × (k × P) / (k' × P'): "about 30 minutes on one DGX" → "~0.5 × 8 × 1.5 = 6-10 hours on a 4090".
COURSE_CLAIMS = {"resnet50-imagenet": ("about 30 minutes", 30 * 60, 8), "bert-base": ("about 5 hours", 5 * 3600, 8),
                 "gpt3": ("51 days at 80 TFLOP/s per GPU", 3.64e23 / 80e12 / 1024, 1024)}


def _preset_hardware(args):
    """``(accelerator, count, precision or None)`` when --accelerator, --count or --precision was
    typed with --preset (None: the preset as published)."""
    from .applicability import given_options

    typed = given_options(args)
    if not typed & {"accelerator", "count", "precision"}:
        return None
    return args.accelerator, args.count, args.precision if "precision" in typed else None


def preset_on(compute, preset, accelerator: str, count=None, precision=None, utilization=None, price=None,
              prices=None) -> list:
    """Each row of ``preset`` recomputed on ``count`` × ``accelerator`` (default: the row's count):
    the same FLOPs and utilization (the row's fixed MFU or its range, unless ``utilization``), the
    device's dense peak at ``precision`` (default the row's; the nearest mode the device has, as
    :func:`~chainrule.compute.compare_accelerators` falls back), its price (or ``price``). Each
    dict: ``scenario``, ``published`` (the row as published), ``factor`` = k·P / (k'·P') (the
    conversion of a duration) and the new estimate's fields (``supported`` False if no mode runs)."""
    rows = []
    for row in preset.rows:
        k = row["count"] if count is None else count
        u = utilization if utilization is not None else (
            row["utilization"] if row["utilization_low"] == row["utilization_high"]
            else (row["utilization_low"], row["utilization_high"]))
        params = preset.count.params if "total_bytes" in row and preset.count is not None else None
        new = compute.compare_accelerators(row["flops"], k, precision or row["precision"], u, params=params,
                                           prices=prices, names=[accelerator])[0]
        if new["supported"] and price is not None:
            new = {**compute.estimate(row["flops"], accelerator, k, new["precision"], u, price,
                                      params=params).as_dict(), "supported": True}
        factor = None
        if new["supported"]:
            factor = row["count"] * row["peak_flops_per_device"] / (k * new["peak_flops_per_device"])
        rows.append({**new, "scenario": row["scenario"], "published": row, "factor": factor})
    return rows


def _print_preset_on(screen, compute, preset, accelerator, count, precision, utilization, price, prices) -> None:
    from rich.table import Table

    from ..compute import format_duration

    rows = preset_on(compute, preset, accelerator, count, precision, utilization, price, prices)
    name = compute.get_accelerator(accelerator).name
    table = Table(title=f"{preset.title}, recomputed on {name}")
    for column in ("scenario", "FLOPs", "as published", "here", "MFU", "wall time", "cost", "× time"):
        table.add_column(column, justify="left" if column == "scenario" else "right",
                         no_wrap=column in ("wall time", "cost"))
    for row in rows:
        old = row["published"]
        published = f"{old['count']} × {old['accelerator']} ({old['precision']})\n{format_duration(old['seconds'])}"
        if not row["supported"]:
            table.add_row(row["scenario"], f"{old['flops']:.3g}", published, f"{row['count']} × {name}",
                          "-", "no such precision", "-", "-")
            continue
        same = row["utilization_low"] == row["utilization_high"]
        time = format_duration(row["seconds"]) + ("" if same else f"\n({format_duration(row['seconds_fastest'])}"
                                                                   f" - {format_duration(row['seconds_slowest'])})")
        mfu = f"{row['utilization']:.3f}" if same else f"{row['utilization_low']:.2f}-{row['utilization_high']:.2f}"
        cost = "n/a" if row["cost"] is None else _money(row["cost"])
        table.add_row(row["scenario"], f"{row['flops']:.3g}", published,
                      f"{row['count']} × {name} ({row['precision']})", mfu, time, cost, f"{row['factor']:.3g}")
    screen.print(table)
    _print_conversion(screen, preset, rows, name)


def _print_conversion(screen, preset, rows, name: str) -> None:
    """The course's arithmetic: T' = T × k/k' × P/P', for its claim and as the table's last column."""
    from ..compute import format_duration

    first = next((row for row in rows if row["supported"]), None)
    if first is None:
        screen.print(f"{name} has none of the precisions the preset uses")
        return
    old = first["published"]
    text, seconds, k = COURSE_CLAIMS[preset.name]
    peak, new_peak = old["peak_flops_per_device"] / 1e12, first["peak_flops_per_device"] / 1e12
    converted = seconds * k * peak / (first["count"] * new_peak)
    screen.print(f"the course's claim, {text} on {k} × {old['accelerator']}, converted: "
                 f"{format_duration(seconds)} × {k}/{first['count']} devices × {peak:.4g}/{new_peak:.4g} TFLOP/s "
                 f"({old['precision']} → {first['precision']}) = {format_duration(converted)} on "
                 f"{first['count']} × {name}")
    screen.print("× time: the factor k·P / (k'·P') that turns a published wall time into this hardware's (same "
                 "FLOPs, same utilization; dense datasheet peaks)")


# ---------------------------------------------------------------------- the catalogue (issue 19)

def print_catalogue(screen, compute, prices) -> None:
    """``--list-accelerators``: the catalogue side by side (dense | sparse TFLOP/s per precision,
    memory, bandwidth, price per hour), the sources numbered below."""
    from rich.table import Table

    table = Table(title="accelerators: peak TFLOP/s per device, dense | 2:4 sparse (datasheets)")
    for column in ("accelerator", *compute.PRECISIONS, "memory GB", "GB/s", "US$/h", "src"):
        table.add_column(column, justify="left" if column == "accelerator" else "right", no_wrap=True)
    sources = []
    for entry in compute.ACCELERATORS.values():
        cells = [_peak_cell(entry.dense_tflops.get(p), entry.sparse_tflops.get(p)) for p in compute.PRECISIONS]
        price = prices.get(entry.name)
        sources.append(f"[{len(sources) + 1}] {entry.name}: {entry.source}. {entry.notes}. Price: "
                       f"{prices.sources.get(entry.name, 'none')}")
        table.add_row(entry.name, *cells, f"{entry.memory_gb:g}", f"{entry.bandwidth_gbs:,.0f}",
                      "-" if price is None else f"{price:.3g}", f"[{len(sources)}]")
    screen.print(table)
    screen.print("- : no such mode. fp64 is the FP64 Tensor Core rate where there is one; tf32/bf16/fp16/fp8 the "
                 "tensor-core rates with FP32 accumulation. Estimates use the dense figures (training dense "
                 "models never sees the 2:4 sparsity rate). CPU: measured on this machine when named.")
    screen.print(f"prices: {prices.taken}")
    for line in sources:
        screen.print(line, markup=False, highlight=False)


def _peak_cell(dense, sparse) -> str:
    if dense is None:
        return "-"
    return f"{dense:.4g}" + ("" if sparse is None else f" | {sparse:.4g}")


# ---------------------------------------------------------------------- helpers


def _parse_utilization(text):
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise CommandError("--utilization: expected a fraction such as 0.4 or a range such as 0.3,0.5; "
                           f"got {text!r}") from None
    if len(values) > 2 or not all(0 < v <= 1 and math.isfinite(v) for v in values):
        raise CommandError(f"--utilization: expected one or two fractions in (0, 1]; got {text!r}")
    if len(values) == 2 and values[0] > values[1]:
        raise CommandError(f"--utilization: expected LOW,HIGH with LOW <= HIGH; got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def _load_prices(compute, path):
    try:
        return compute.load_prices(path)
    except (ValueError, FileNotFoundError) as error:
        raise CommandError(str(error)) from None


def _money(value: float) -> str:
    if value >= 1e6:
        return f"US${value / 1e6:.3g}M"
    if value >= 1e3:
        return f"US${value / 1e3:.3g}k"
    return f"US${value:.3g}"
