#!/usr/bin/env python3
"""Character-GPT benchmark for chainrule: one training step of ``chainrule.models.gpt``.

Run from the repository root (``CHAINRULE_NO_NUMBA=1`` measures the default, NumPy-only install)::

    CHAINRULE_NO_NUMBA=1 python benchmarks/bench_gpt.py             # full run, a minute or two
    CHAINRULE_NO_NUMBA=1 python benchmarks/bench_gpt.py --quick     # smoke test
    python benchmarks/bench_gpt.py --json benchmarks/results/gpt.json
    python benchmarks/bench_gpt.py --profile 5                      # + cProfile and a per-node breakdown

What is measured: ``chainrule.models.gpt(vocab=65, context=128, layers=4, heads=4, width=128)``
(decoder-only, pre-norm blocks with causal self-attention and a GELU feed-forward of width 512,
learned positions, the output layer tied to the token embedding; GPT-2's initialization), on a
float32 batch of 32 random 128-token sequences with random next-token targets: zero the
gradients, the logits (32, 128, 65), the mean cross-entropy over all 4,096 positions, backward,
one AdamW step (lr 1e-3, betas (0.9, 0.999), weight decay 0.01: both libraries' defaults).
Three implementations from the same weights (chainrule's initialization, loaded by state dict):

- ``numpy``: written by hand (``benchmarks/numpy_gpt.py``): packed QKV products, attention on
  strided views, closed-form backward, AdamW in place. The floor.
- ``chainrule``: ``models.gpt``, ``F.cross_entropy(logits.flatten(0, 1), targets.flatten())``,
  ``optim.AdamW``.
- ``chainrule-np``: the same chainrule implementation with ``CHAINRULE_NO_NUMBA=1`` around each
  call (the plain-NumPy paths, no compiled kernels), timed only when the kernels are enabled.
- ``torch``: the identical torch twin (``torch.nn.TransformerEncoderLayer(norm_first=True,
  activation="gelu")`` blocks, tied head), eager, ``torch.optim.AdamW``, 2 threads.

Before timing, the three are checked to take the same first step (loss and every gradient).
Timing as bench_conv.py (interleaved rounds, GC on, medians [min] per phase, ratios, the
cores other processes used). Targets live in benchmarks/README.md, never in unit tests
(tests/test_bench_gpt.py checks that this instrument runs and that its implementations agree).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))  # measure the working tree
import chainrule as cr  # noqa: E402
from chainrule import models  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_engine = _load("bench_engine")
bench_conv = _load("bench_conv")  # the shared agreement, timing and profiling loops
numpy_gpt = _load("numpy_gpt")

SHAPE = {"vocab": 65, "context": 128, "layers": 4, "heads": 4, "width": 128, "batch": 32, "length": 128}
FULL = {"rounds": 11, "steps_per_round": 2, "warmup": 2, "settle_s": 0.25}
QUICK = {"rounds": 2, "steps_per_round": 1, "warmup": 1, "settle_s": 0.0}


def torch_gpt(vocab, context, layers, heads, width):
    """The torch twin of ``chainrule.models.gpt``: the same modules, names and forward."""
    tnn = torch.nn

    class TorchGPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding = tnn.Embedding(vocab, width)
            self.position_embedding = tnn.Embedding(context, width)
            self.blocks = tnn.ModuleList([
                tnn.TransformerEncoderLayer(width, heads, 4 * width, 0.0, activation="gelu", batch_first=True,
                                            norm_first=True) for _ in range(layers)])
            self.norm = tnn.LayerNorm(width)
            self.head = tnn.Linear(width, vocab, bias=False)
            self.head.weight = self.token_embedding.weight

        def forward(self, idx):
            length = idx.shape[1]
            h = self.token_embedding(idx) + self.position_embedding(torch.arange(length))
            mask = tnn.Transformer.generate_square_subsequent_mask(length, dtype=h.dtype)
            for block in self.blocks:
                h = block(h, src_mask=mask, is_causal=True)
            return self.head(self.norm(h))

    return TorchGPT()


def make_problem(shape: dict | None = None, seed: int = 0) -> dict:
    shape = dict(SHAPE, **(shape or {}))
    rng = np.random.default_rng(seed)
    dims = (shape["batch"], shape["length"])
    idx = rng.integers(0, shape["vocab"], dims)
    targets = rng.integers(0, shape["vocab"], dims)
    cr.manual_seed(seed)
    model = models.gpt(shape["vocab"], shape["context"], shape["layers"], shape["heads"], shape["width"])
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return {"kind": "gpt", "shape": shape, "idx": idx, "targets": targets, "state": state}


def _arch(shape):
    return shape["vocab"], shape["context"], shape["layers"], shape["heads"], shape["width"]


class NumpyGPTStep:
    name = "numpy"

    def __init__(self, problem):
        s = problem["shape"]
        self.net = numpy_gpt.NumpyGPT(problem["state"], s["layers"], s["heads"])
        self.idx, self.targets = problem["idx"], problem["targets"]

    def forward(self):
        return self.net.forward(self.idx, self.targets)

    def backward(self, _loss):
        self.net.backward()

    def update(self):
        self.net.update()

    def loss_value(self, loss):
        return loss

    def gradients(self):
        return dict(self.net.grads)


class ChainruleGPTStep:
    name = "chainrule"

    def __init__(self, problem):
        self.model = models.gpt(*_arch(problem["shape"]))
        self.model.load_state_dict(problem["state"])
        self.model.train()
        self.opt = cr.optim.AdamW(self.model.parameters())
        self.idx, self.targets = cr.tensor(problem["idx"]), cr.tensor(problem["targets"].reshape(-1))

    def forward(self):
        self.opt.zero_grad()
        return F.cross_entropy(self.model(self.idx).flatten(0, 1), self.targets)

    def backward(self, loss):
        loss.backward()

    def update(self):
        self.opt.step()

    def loss_value(self, loss):
        return float(loss.item())

    def gradients(self):
        return {k: p.grad.numpy() for k, p in self.model.named_parameters()}


class TorchGPTStep(ChainruleGPTStep):
    name = "torch"

    def __init__(self, problem):
        self.model = torch_gpt(*_arch(problem["shape"]))
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in problem["state"].items()})
        self.model.train()
        self.opt = torch.optim.AdamW(self.model.parameters())
        self.idx = torch.from_numpy(problem["idx"])
        self.targets = torch.from_numpy(problem["targets"].reshape(-1))

    def forward(self):
        self.opt.zero_grad(set_to_none=True)
        return torch.nn.functional.cross_entropy(self.model(self.idx).flatten(0, 1), self.targets)


def make_implementations(problem: dict) -> list:
    impls = [NumpyGPTStep(problem), ChainruleGPTStep(problem)]
    if torch is not None:
        impls.append(TorchGPTStep(problem))
    return impls


def describe(problem: dict) -> str:
    s = problem["shape"]
    return (f"models.gpt(vocab={s['vocab']}, context={s['context']}, layers={s['layers']}, heads={s['heads']}, "
            f"width={s['width']}) training step, batch {s['batch']} x {s['length']} tokens, cross-entropy over "
            f"all positions, AdamW, float32")


def run(quick: bool = False, settings: dict | None = None, shape: dict | None = None, verbose: bool = True) -> dict:
    settings = dict(settings or (QUICK if quick else FULL))
    threads = bench_engine.blas_threads()
    if torch is not None:
        torch.set_num_threads(threads or 2)
    meta = bench_engine.environment(threads)
    if verbose:
        print("=" * 78)
        print(f"chainrule GPT benchmark ({'quick' if quick else 'full'})   {meta['date']}")
        print("=" * 78)
        print(f"CPU      : {meta['cpu_model']}  (nproc {meta['nproc']})")
        print(f"Python   : {meta['python']}   NumPy {meta['numpy']}   PyTorch {meta['torch']}")
        print(f"Threads  : NumPy BLAS {meta['blas_threads']}, torch {meta['torch_threads']}; "
              f"CHAINRULE_NO_NUMBA={os.environ.get('CHAINRULE_NO_NUMBA', '(unset)')}")
        print(f"chainrule: from {meta['chainrule_path']} (source sha1 {meta['chainrule_source_sha1']})")
        print(f"Timing   : {settings['rounds']} rounds x {settings['steps_per_round']} steps per implementation "
              f"(+{settings['warmup']} warm-up), interleaved"
              f" (rotating; {settings.get('settle_s', 0)} s pause + one untimed step before each), GC on")
        print()
    contention = bench_engine.CpuContention()
    problem = make_problem(shape)
    impls = bench_conv.with_numpy_twin(make_implementations(problem), ChainruleGPTStep, problem)
    agreement = bench_conv.check_agreement(impls)
    timed = bench_conv.time_steps(impls, settings)
    others = contention.cores_used_by_others()
    if verbose:
        print(describe(problem))
        bench_conv.print_results(dict(problem, kind="resnet"), timed, agreement, title=False)
        if others is not None:
            verdict = ("OK: quiet machine" if others < 0.1 else
                       "WARNING: other processes competed for the CPU; repeat this run on a quiet machine")
            print(f"  Other processes used {others:.2f} core(s) on average during the run -> {verdict}")
    return {"meta": meta, "settings": settings, "shape": problem["shape"], "agreement": agreement,
            "timings": timed, "cores_used_by_other_processes": others}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument("--profile", type=int, metavar="STEPS", default=0,
                        help="also cProfile STEPS chainrule steps and time every graph node's forward/backward")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    if args.profile:
        problem = make_problem()
        text = bench_conv.profile_chainrule(problem, args.profile, make_impl=ChainruleGPTStep)
        print(f"\ncProfile of {args.profile} chainrule steps, top 25 by tottime")
        print(text)
        breakdown = bench_conv.node_breakdown(problem, args.profile, make_impl=ChainruleGPTStep)
        print(f"Per-node breakdown of a chainrule step ({breakdown['step_ms']:.1f} ms, timers on):")
        for name, ms in breakdown["rows"].items():
            print(f"  {name:55s} {ms:7.2f} ms")
        results["profile"] = {"text": text, "breakdown": breakdown}
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
