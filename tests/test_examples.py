"""Every chapter example of the guide runs (in its quick mode) and prints its key numbers.

Each script in examples/ is started as a user would, ``python examples/chNN_*.py --quick
--out DIR``, in a subprocess; the test then reads the numbers it printed and checks them:
against independent references computed here (NumPy least squares, the closed forms) where
the number is a result, and against the claim the chapter makes (bounds hold, update rules
match, the MPI run equals the single process) where it is a check.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, out: Path) -> str:
    """Run examples/<name> in quick mode; return its standard output (fails on a non-zero exit)."""
    env = dict(os.environ, CHAINRULE_QUICK="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def number(pattern: str, text: str) -> float:
    """The first number captured by ``pattern`` in ``text`` (fails when the line is missing)."""
    match = re.search(pattern, text)
    assert match, f"no line matching {pattern!r} in:\n{text}"
    return float(match.group(1))


def figures_written(text: str) -> list:
    paths = [Path(line.split("figure: ", 1)[1]) for line in text.splitlines() if line.startswith("figure: ")]
    for path in paths:
        assert path.exists() and path.stat().st_size > 5000, f"figure {path} missing or empty"
    return paths


def test_every_chapter_has_an_example_and_a_test():
    scripts = sorted(p.name for p in EXAMPLES.glob("ch*.py"))
    assert sorted({s[:4] for s in scripts}) == [f"ch{k:02d}" for k in range(1, 13)]
    tested = {case.values[0] for case in CASES}
    assert tested == set(scripts)


def check_ch01(text, out):
    from chainrule import datasets

    frame = datasets.load_grunfeld(as_frame=True)
    raw = frame[["value", "capital"]].to_numpy(dtype=float)
    Z = np.column_stack([np.ones(len(raw)), (raw - raw.mean(0)) / raw.std(0)])
    reference = np.linalg.lstsq(Z, frame["invest"].to_numpy(), rcond=None)[0]
    assert number(r"const\s+(-?[\d.]+)", text) == pytest.approx(reference[0], abs=1e-4)
    assert number(r"value \(std\.\)\s+(-?[\d.]+)", text) == pytest.approx(reference[1], abs=1e-4)
    assert number(r"capital \(std\.\)\s+(-?[\d.]+)", text) == pytest.approx(reference[2], abs=1e-4)
    assert number(r"max \|theta_gd - theta_hat\| = ([\d.e+-]+)", text) < 1e-4
    L = np.linalg.eigvalsh(Z.T @ Z / len(Z))[-1]
    assert number(r"L = ([\d.]+)", text) == pytest.approx(L, abs=1e-4)
    assert len(figures_written(text)) == 1


def check_ch02(text, out):
    estimated, closed = (float(v) for v in
                         re.search(r"L\s+by power.*= ([\d.]+)\s+\(closed form ([\d.]+)\)", text).groups())
    assert estimated == pytest.approx(closed, rel=1e-6)
    estimated, closed = (float(v) for v in
                         re.search(r"mu by the assembled.*= ([\d.]+)\s+\(closed form ([\d.]+)\)", text).groups())
    assert estimated == pytest.approx(closed, rel=1e-6)
    assert "O(1/k) bound holds at every step: True" in text
    assert "linear-rate bound holds at every step: True" in text
    assert len(figures_written(text)) == 1


def check_ch03(text, out):
    differences = [float(v) for v in re.findall(r"max \|theta_hand - theta_chainrule\| = ([\d.e+-]+)", text)]
    assert len(differences) == 4 and max(differences) < 1e-12
    rows = re.findall(r"^(gd|momentum|adagrad|rmsprop|adam)\s+[\d.e-]+\s+([\d.]+)\s+([\d.]+)", text, re.MULTILINE)
    assert [r[0] for r in rows] == ["gd", "momentum", "adagrad", "rmsprop", "adam"]
    assert all(np.isfinite(float(r[1])) for r in rows)
    assert (out / "ch03" / "optimizer-comparison.png").stat().st_size > 5000


def check_ch04(text, out):
    assert text.count("gradcheck of the") == 2 and ": False" not in text
    assert number(r"max \|autodiff gradient - Z'\(y - p\)\| = ([\d.e+-]+)", text) < 1e-8
    assert number(r"max \|autodiff gradient - Z'\(Y - P\)\| = ([\d.e+-]+)", text) < 1e-8
    assert number(r"score at the maximum: .* = ([\d.e+-]+)", text) < 1e-6
    import statsmodels.api as sm

    from chainrule import datasets

    frame = datasets.load_anes96(as_frame=True)
    reference = sm.Logit(frame["vote"], sm.add_constant(frame.drop(columns="vote"))).fit(disp=0)
    assert number(r"log-likelihood = (-[\d.]+)", text) == pytest.approx(reference.llf, abs=0.01)
    assert number(r"PID\s+([\d.]+)", text) == pytest.approx(reference.params["PID"], abs=1e-3)
    assert "Logit Marginal Effects" in text


def check_ch05(text, out):
    assert number(r"the recorded graph of the tiny net: (\d+) op nodes", text) == 6
    assert number(r"backward\(\) vs the chain rule by hand: max difference = ([\d.e+-]+)", text) < 1e-12
    accuracy = number(r"test accuracy ([\d.]+)", text)
    assert 0.5 < accuracy <= 1.0          # 3 epochs on 400 rows: far above the 0.1 of guessing
    linear = number(r"0 hidden layers: Linear 2-1\s+3 parameters\s+training accuracy ([\d.]+)", text)
    shallow = number(r"1 hidden layer: 2-3-1\s+13 parameters\s+training accuracy ([\d.]+)", text)
    deep = number(r"2 hidden layers: 2-6-6-1\s+67 parameters\s+training accuracy ([\d.]+)", text)
    assert linear == pytest.approx(0.828, abs=0.002)   # no line helps: everything called negative
    assert 0.85 < shallow < 0.95 < deep                 # one region, then both
    assert len(figures_written(text)) == 2


def check_ch06(text, out):
    vanish = number(r"normal\(0\.01\)\s+first\s+\S+\s+last\s+\S+\s+last/first\s+([\d.e+-]+)", text)
    kaiming = number(r"kaiming\s+first\s+\S+\s+last\s+\S+\s+last/first\s+([\d.e+-]+)", text)
    assert vanish < 1e-6 and 0.2 < kaiming < 5
    means = re.search(r"per-unit means \[([^\]]+)\]", text).group(1)
    assert max(abs(float(v)) for v in means.split(",")) < 1e-5
    kappa_raw = number(r"raw\s+: condition number .* = ([\d.e+]+)", text)
    kappa_std = number(r"standardized: condition number .* = ([\d.e+]+)", text)
    assert kappa_raw > 1e5 and kappa_std < 10
    assert len(figures_written(text)) == 2


def check_ch07(text, out):
    from chainrule import datasets

    frame = datasets.load_grunfeld(as_frame=True)
    import pandas as pd

    design = pd.concat([frame[["value", "capital", "year"]].astype(float),
                        pd.get_dummies(frame["firm"], drop_first=True, dtype=float)], axis=1).to_numpy()
    Z = np.column_stack([np.ones(len(design)), design])
    residual = frame["invest"].to_numpy() - Z @ np.linalg.lstsq(Z, frame["invest"].to_numpy(), rcond=None)[0]
    centered = frame["invest"].to_numpy() - frame["invest"].mean()
    assert number(r"OLS: R\^2 = ([\d.]+)", text) == pytest.approx(1 - residual @ residual / (centered @ centered),
                                                                 abs=1e-4)
    assert 1 <= number(r"lasso, .* nonzero coefficients: (\d+) of 13", text) <= 13
    assert re.search(r"forward stepwise by bic: \d+ predictors: value", text)
    assert 1 <= number(r"PCR: components chosen by 5-fold CV = (\d+)", text) <= 13
    assert len(re.findall(r"dropout p = ", text)) == 2
    assert len(figures_written(text)) == 1


def check_ch09(text, out):
    params = (784 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)
    assert f"MLP 784-256-256-10: {params:,} parameters" in text
    forward = 2 * (784 * 256 + 256 * 256 + 256 * 10)          # 2 FLOPs per multiply-add
    printed = float(re.search(r"per example forward ([\d,]+) FLOPs", text).group(1).replace(",", ""))
    assert printed == forward + (256 + 256 + 10) + (256 + 256)   # + one add per bias and one max per ReLU
    assert number(r"course: 3\.64e23 FLOPs.*?([\d.]+) days", text) == pytest.approx(3.64e23 / 80e12 / 1024 / 86400,
                                                                                   abs=0.1)
    assert number(r"corrected: .*?([\d.]+) days", text) == pytest.approx(3640e15 * 86400 / 80e12 / 1024 / 86400,
                                                                          abs=0.1)
    assert number(r"predicted ([\d.]+) s", text) > 0 and number(r"measured ([\d.]+) s", text) > 0
    assert len(re.findall(r"H100-SXM", text)) == 2


def check_ch10(text, out):
    assert text.startswith("GPU: ")
    if "no mpiexec found" in text:
        pytest.skip("no mpiexec: the cluster half of chapter 10 needs the mpi extra")
    parallel = number(r"2 ranks x batch 32: train loss ([\d.]+)", text)
    single = number(r"1 process x batch 64: train loss ([\d.]+)", text)
    assert parallel == pytest.approx(single, abs=1e-5)
    assert number(r"max \|weight difference\| = ([\d.e+-]+)", text) < 1e-5


def check_ch08(text, out):
    filtered = number(r"filter-normalized direction: .* at alpha = 1: ([\d.]+)", text)
    raw = number(r"raw N\(0, 1\) direction\s*: .* at alpha = 1: ([\d.]+)", text)
    assert raw > filtered                 # a raw direction ignores the weights' scale and overshoots
    rows = {(int(depth), network): tuple(map(float, values)) for depth, network, *values in re.findall(
        r"depth +(\d+) (plain|residual) *: train loss ([\d.]+), held-out accuracy ([\d.]+), "
        r"non-convex share ([\d.]+), surface min ([\d.e+-]+) max ([\d.e+-]+)", text)}
    assert sorted(rows) == [(8, "plain"), (8, "residual"), (20, "plain"), (20, "residual")]  # the quick size
    for loss, accuracy, share, low, high in rows.values():
        assert 0 < loss < 2.5 and 0.1 < accuracy <= 1 and 0 <= share <= 1   # 10 classes: chance is 0.1, ln 10
        assert 0 < low <= high and np.isfinite(high)
    for depth in (8, 20):
        assert rows[depth, "residual"][1] > 0.9   # the residual networks learn the digits in 3 epochs
    plain, residual = rows[20, "plain"], rows[20, "residual"]
    assert plain[2] > residual[2] + 0.3          # the chapter's finding: plain depth 20 is far less convex
    assert plain[0] > residual[0]                # and trains worse
    assert len(figures_written(text)) == 2


def _add_one_ngram_bits(train: str, valid: str, n: int) -> float:
    """Add-one unigram (n = 1) or bigram (n = 2) bits per character, counted with NumPy."""
    vocabulary = sorted(set(train) | set(valid))
    ids = {ch: i for i, ch in enumerate(vocabulary)}
    t = np.fromiter((ids[ch] for ch in train), dtype=np.int64)
    v = np.fromiter((ids[ch] for ch in valid), dtype=np.int64)
    V = len(vocabulary)
    unigram = np.log2((np.bincount(t, minlength=V) + 1.0) / (len(t) + V))
    if n == 1:
        return float(-unigram[v].mean())
    pairs = np.bincount(t[:-1] * V + t[1:], minlength=V * V).reshape(V, V)
    history = np.bincount(t, minlength=V)        # count(h) over the whole text, as the n-gram counts are
    bits = np.log2((pairs[v[:-1], v[1:]] + 1.0) / (history[v[:-1]] + V))
    return float(-(unigram[v[0]] + bits.sum()) / len(v))


def check_ch11(text, out):
    assert number(r"CNN .*held-out accuracy ([\d.]+)", text) >= 0.985          # quick mode too
    assert 0.9 < number(r"MLP 64-128-10 \(chapter 5\).*held-out accuracy ([\d.]+)", text) <= 1.0
    assert number(r"resumed vs uninterrupted: max \|weight difference\| = ([\d.e+-]+)", text) == 0.0
    assert "bitwise identical: True" in text
    resumed, straight = re.search(r"final train loss ([\d.]+) vs ([\d.]+)", text).groups()
    assert resumed == straight
    assert 0.9 < number(r"ResNet-20 held-out accuracy ([\d.]+)", text) <= 1.0
    from chainrule.datasets import load_text

    corpus = load_text("tinyshakespeare")
    split = int(0.9 * len(corpus))
    unigram = number(r"GPT validation: .*\(unigram ([\d.]+)", text)
    bigram = number(r"GPT validation: .*bigram ([\d.]+)", text)
    assert unigram == pytest.approx(_add_one_ngram_bits(corpus[:split], corpus[split:], 1), abs=1e-3)
    assert bigram == pytest.approx(_add_one_ngram_bits(corpus[:split], corpus[split:], 2), abs=1e-3)
    assert number(r"GPT validation: .*trigram ([\d.]+)", text) < bigram < unigram
    assert number(r"GPT validation: ([\d.]+) bits/char", text) < unigram
    assert re.search(r"sample \(temperature 0\.8, top-k 10\):\n  ROMEO:", text)
    for kind in ("GRU", "LSTM"):
        assert number(rf"{kind}\s+hidden 16, .*held-out exact match ([\d.]+)", text) == 1.0
    assert len(figures_written(text)) == 4


def check_coverage_lines(text, parts, reps):
    """Each part's printed coverage line: the share, its exact binomial interval, small bias and spread."""
    from scipy import stats as distributions

    for part in parts:
        line = re.search(rf"coverage {part}: ([\d.]+) \((\d+)/(\d+)\), binomial 95% interval \[([\d.]+), ([\d.]+)\]; "
                         rf"bias ([+-][\d.]+), sd ([\d.]+), mean se ([\d.]+)", text)
        assert line, f"no coverage line for {part}"
        share, hits, count, low, high, bias, sd, se = (float(v) for v in line.groups())
        assert count == reps and share == pytest.approx(hits / reps, abs=5e-4)
        expected_low = distributions.beta.ppf(0.025, hits, reps - hits + 1) if hits else 0.0
        expected_high = distributions.beta.ppf(0.975, hits + 1, reps - hits) if hits < reps else 1.0
        assert (low, high) == (pytest.approx(expected_low, abs=5e-4), pytest.approx(expected_high, abs=5e-4))
        assert abs(bias) < 0.3 and 0 < sd < 0.5 and 0 < se < 0.5


def check_ch12(text, out):
    check_coverage_lines(text, ("plr-mlp", "plr-mlp-tanh", "plr-lasso", "irm-mlp", "irm-mlp-tanh"), 6)
    assert number(r"out-of-fold losses: ml_l ([\d.]+)", text) < 1.6      # sd of y given x is about 1.1
    assert (out / "ch12_coverage.md").read_text().count("| PLR") == 3
    assert len(figures_written(text)) == 1


def check_ch12_flm(text, out):
    check_coverage_lines(text, ("flm-ate", "flm-ate-crossfit", "het-linear", "het-logit"), 4)
    assert (out / "ch12_flm.md").read_text().count("| FLM2021") == 2


CASES = [
    pytest.param("ch01_supervised_learning.py", check_ch01, id="ch01"),
    pytest.param("ch02_gradient_descent.py", check_ch02, id="ch02"),
    pytest.param("ch03_optimizers.py", check_ch03, id="ch03"),
    pytest.param("ch04_logistic_regression.py", check_ch04, id="ch04"),
    pytest.param("ch05_neural_nets.py", check_ch05, id="ch05"),
    pytest.param("ch06_initialization_normalization.py", check_ch06, id="ch06"),
    pytest.param("ch07_regularization.py", check_ch07, id="ch07"),
    pytest.param("ch08_loss_landscapes.py", check_ch08, id="ch08"),
    pytest.param("ch09_computation.py", check_ch09, id="ch09"),
    pytest.param("ch10_gpu_and_cluster.py", check_ch10, id="ch10"),
    pytest.param("ch11_deep_nets.py", check_ch11, id="ch11"),
    pytest.param("ch12_causal_coverage.py", check_ch12, id="ch12"),
    pytest.param("ch12_flm.py", check_ch12_flm, id="ch12-flm"),
]


@pytest.mark.slow  # a subprocess per chapter: 1-4 s each on 2 cores
@pytest.mark.parametrize(("script", "check"), CASES)
def test_example_runs_and_prints_its_numbers(script, check, tmp_path):
    check(run_example(script, tmp_path), tmp_path)
