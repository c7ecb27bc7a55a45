"""The Logit benchmark instrument (benchmarks/bench_logit.py) runs and compares like with like.

No timing assertions (performance aims live in benchmarks/README.md): the script runs end to
end on a problem large enough for the threaded row passes, and the variants it times against
each other (one thread as without threadpoolctl, the NumPy row kernel) reach
the same estimates as the default fit.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_logit.py"


def test_cli_runs_and_the_variants_agree(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_logit", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "logit.json"
    variants = ["chainrule 1 thread", "chainrule NumPy"]
    bench.main(["--n", "60000", "--p", "40", "--repeats", "1", "--only", ",".join(variants), "--json", str(out)])
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"chainrule", *variants}
    for name in variants:
        assert results[name]["max_abs_param_diff"] < 1e-9, (name, results[name])
        assert 0 < results[name]["min_s"] <= results[name]["median_s"]
    assert "Newton iterations" in capsys.readouterr().out
