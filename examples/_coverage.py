"""What the coverage studies of chapter 12 share (ch12_causal_coverage.py, ch12_flm.py).

Importing this module first pins BLAS to one thread (unless the environment already chose),
which is faster for the many small fits of a replication study; then ``study_options`` reads
``--quick``/``--out`` and the studies' ``--reps=N`` and ``--parts=A,B``, ``coverage`` scores one
part's replications (the share of 95% intervals that contain the truth, with its exact
binomial interval) and ``write_table`` writes the Markdown table the guide quotes.
"""
from __future__ import annotations

import os

if not {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} & set(os.environ):
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"  # before NumPy loads BLAS

import sys  # noqa: E402

import numpy as np  # noqa: E402
from _common import parse_args  # noqa: E402
from scipy import stats as distributions  # noqa: E402


def study_options(description: str, reps: tuple, parts: str):
    """``(args, quick, reps, parts)``: --quick/--out, and ``--reps=N`` (default ``reps[0]`` quick,
    ``reps[1]`` full) and ``--parts=A,B`` (default ``parts``)."""
    extra = [a for a in sys.argv[1:] if a.startswith("--reps") or a.startswith("--parts")]
    sys.argv = [a for a in sys.argv if a not in extra]
    options = dict(a.lstrip("-").split("=", 1) for a in extra)
    args = parse_args(description)
    count = int(options.get("reps", reps[0] if args.quick else reps[1]))
    return args, args.quick, count, options.get("parts", parts).split(",")


def clopper_pearson(hits, n, level=0.95):
    """The exact (Clopper-Pearson) binomial interval of ``hits`` successes in ``n`` trials."""
    alpha = 1 - level
    low = distributions.beta.ppf(alpha / 2, hits, n - hits + 1) if hits > 0 else 0.0
    high = distributions.beta.ppf(1 - alpha / 2, hits + 1, n - hits) if hits < n else 1.0
    return low, high


def coverage(part, label, estimates, errors, truths, seconds):
    """The table row of one part: (label, replications, coverage, its binomial interval, bias,
    sd of the estimates, mean standard error, seconds); printed as one line (named ``part``) too."""
    estimates, errors, truths = np.asarray(estimates), np.asarray(errors), np.asarray(truths)
    reps = len(estimates)
    hits = int(np.sum(np.abs(estimates - truths) <= distributions.norm.ppf(0.975) * errors))
    low, high = clopper_pearson(hits, reps)
    bias, sd = np.mean(estimates - truths), np.std(estimates, ddof=1)
    print(f"coverage {part}: {hits / reps:.3f} ({hits}/{reps}), binomial 95% interval [{low:.3f}, {high:.3f}]; "
          f"bias {bias:+.4f}, sd {sd:.4f}, mean se {np.mean(errors):.4f}; time {seconds:.1f} s "
          f"({seconds / reps:.2f} s per replication)")
    return label, reps, hits / reps, low, high, bias, sd, np.mean(errors), seconds


def write_table(rows, path, first_heading: str) -> None:
    """The rows of :func:`coverage` as a Markdown table, written to ``path`` and printed."""
    table = [f"| {first_heading} | replications | coverage of the 95% interval | binomial 95% interval | bias "
             f"| sd of θ̂ | mean se | time (s) |", "|---|---|---|---|---|---|---|---|"]
    table += [f"| {r[0]} | {r[1]} | {r[2]:.3f} | [{r[3]:.3f}, {r[4]:.3f}] | {r[5]:+.4f} | {r[6]:.4f} | {r[7]:.4f} | "
              f"{r[8]:.0f} |" for r in rows]
    path.write_text("\n".join(table) + "\n")
    print("\n".join(table))
