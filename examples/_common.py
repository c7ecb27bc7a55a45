"""What every chapter example shares: the --quick / --out command line and saving figures.

Each ``examples/chNN_*.py`` runs as ``python examples/chNN_*.py`` (the full size the
chapter quotes) or with ``--quick`` (or the environment variable ``CHAINRULE_QUICK=1``):
a few epochs on a few rows, which is what CI runs. Figures go to ``--out`` (default
``chainrule-output/examples``).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def parse_args(description: str) -> argparse.Namespace:
    """``--quick`` (also on with CHAINRULE_QUICK=1) and ``--out DIR`` for the figures."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="a small, fast configuration (CI); also on with CHAINRULE_QUICK=1")
    parser.add_argument("--out", default="chainrule-output/examples",
                        help="folder for the figures (default: chainrule-output/examples)")
    args = parser.parse_args()
    args.quick = args.quick or os.environ.get("CHAINRULE_QUICK", "") not in ("", "0")
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save(figure, out: Path, name: str) -> Path:
    """Write a matplotlib figure as ``out/name`` (PNG, 100 dpi) and say where."""
    path = out / name
    figure.savefig(path, dpi=100)
    print(f"figure: {path}")
    return path
