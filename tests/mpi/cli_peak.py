"""Run as one fresh process: ``chainrule fit ... --chunksize`` on a file, reporting its peak memory.

Usage: cli_peak.py WARMUP_FILE BIG_FILE OUT_DIR CHUNKSIZE MODEL. The same command is first run
on WARMUP_FILE (a few rows), so imports, compiled kernels, fonts and the report's plotting
machinery are loaded before measuring; then on BIG_FILE with tracemalloc started (NumPy,
pandas and Python allocations) and the resident-set high-water mark (getrusage ru_maxrss)
read before and after. Prints {"traced_peak", "rss_growth", "arrow_peak"} as JSON.
"""
import contextlib
import io
import json
import resource
import sys
import tracemalloc

import pyarrow as pa

from chainrule.cli import main as chainrule


def run(path, out, chunksize, model):
    argv = ["fit", str(path), "--target", "y", "--model", model, "--cov-type", "HC1", "--chunksize", str(chunksize),
            "--out", str(out)]
    if model != "ols":
        argv.remove("--cov-type"), argv.remove("HC1")
    if model == "mlp":  # --epochs applies to the networks alone (chainrule fit refuses it for ols)
        argv += ["--epochs", "1"]
    with contextlib.redirect_stdout(io.StringIO()):
        code = chainrule(argv)
    if code != 0:
        raise SystemExit(f"chainrule {' '.join(argv)} exited with {code}")


def main(warmup, big, out, chunksize, model):
    run(warmup, f"{out}/warmup", chunksize, model)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    run(big, f"{out}/big", chunksize, model)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    print(json.dumps({"traced_peak": traced_peak, "rss_growth": rss_growth,
                      "arrow_peak": pa.default_memory_pool().max_memory()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
