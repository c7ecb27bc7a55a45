#!/usr/bin/env python3
"""Recurrent-layer benchmark: LSTM and GRU forward + backward, chainrule against PyTorch eager.

Run from the repository root::

    python benchmarks/bench_rnn.py               # full run, about a minute on a quiet 2-core machine
    python benchmarks/bench_rnn.py --quick       # smoke test, a few seconds
    python benchmarks/bench_rnn.py --json benchmarks/results/rnn.json
    python benchmarks/bench_rnn.py --threads 1   # NumPy's BLAS and torch on one thread

What is measured (see benchmarks/README.md, "Recurrent layers"): an LSTM and a GRU (batch 32,
sequence 50, input 32, hidden 128, float32; 1 and 2 layers), loss = output.sum(), one forward and
one backward from fresh gradients (the parameters' .grad set to None before each). Rows:

* ``chainrule``: the layers as shipped: per layer and direction ONE Linear node for the input
  projection of all steps, then ONE node for the whole time loop (hand-written BPTT);
* ``per-step cells``: a fused cell node PER TIME STEP, as nn.LSTMCell / nn.GRUCell run (the
  step's input projection as one Linear node, the cell as one node, the views of its output):
  the alternative design, to show what the one-node loop buys;
* ``reference``: the plain composition of reference ops, step by step (matmul, sigmoid, tanh …:
  about 20 nodes per step), the textbook the fused nodes are tested against;
* ``torch``: torch.nn.LSTM / GRU, eager, ``torch.set_num_threads(threads)``.

Before timing, every implementation computes the loss and all parameter gradients from the same
weights; the largest differences to torch are printed. Timing: rounds x calls per implementation,
interleaved (round-robin) so that drift in machine load hits all alike; GC on; medians and minima
in milliseconds per forward + backward; ratios are medians over torch's median. Then a breakdown
of the chainrule LSTM (1 layer): the sequence node's forward and backward on arrays, and the
matrix products alone (the same per-step products and the weight-gradient product), so the rest
is the elementwise gate work and the graph.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Measure the working tree, not some installed copy (bench_engine does the same).
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))
# The imports below come after the sys.path inserts on purpose (hence the noqa: E402).
import bench_engine as engine  # noqa: E402  # shared helpers: header facts, CPU contention

import chainrule as cr  # noqa: E402
from chainrule import nn as crnn  # noqa: E402
from chainrule.nn import fused  # noqa: E402
from chainrule.nn.fused.lstm import LSTMLayer, split_lstm_output  # noqa: E402
from chainrule.nn.fused.recurrent import GRULayer  # noqa: E402

torch = engine.torch  # None when PyTorch is missing: its rows are skipped
threadpoolctl = engine.threadpoolctl

BATCH, STEPS, FEATURES, HIDDEN = 32, 50, 32, 128
FULL = {"rounds": 15, "calls": 4, "warmup": 3, "reference_every": 3, "breakdown_calls": 30}
QUICK = {"rounds": 3, "calls": 2, "warmup": 1, "reference_every": 3, "breakdown_calls": 5}
MS = 1e3


# ============================================================================ implementations

def our_model(kind: str, layers: int, state: dict):
    model = getattr(crnn, kind)(FEATURES, HIDDEN, num_layers=layers)
    model.load_state_dict(state)
    return model


def run_chainrule(model, x):
    model.zero_grad(set_to_none=True)
    output, _ = model(x)
    loss = output.sum()
    loss.backward()
    return loss


def _cell_layer(kind, inputs, weights):
    """One layer as a cell per time step (what nn.LSTMCell / nn.GRUCell run per call: the step's
    input projection, one Linear node, and the cell as one node); ``inputs`` is the list of the
    steps' inputs (B, ·), and so is the result (a list: slicing one stacked tensor per step would
    cost a full-size gradient per slice in backward)."""
    w_ih, w_hh, b_ih, b_hh = weights
    batch = inputs[0].shape[0]
    bias = b_ih if kind == "GRU" else b_ih + b_hh
    h, c = cr.zeros(batch, HIDDEN), cr.zeros(batch, HIDDEN)
    outputs = []
    for x in inputs:
        xproj = fused.Linear.apply(x, w_ih, bias).reshape(1, batch, w_ih.shape[0])
        if kind == "LSTM":
            _, h, c = split_lstm_output(LSTMLayer.apply(xproj, h, c, w_hh), 1, batch, HIDDEN, HIDDEN)
        else:
            h = GRULayer.apply(xproj, h, w_hh, b_hh)[1]
        outputs.append(h)
    return outputs


def _reference_layer(kind, inputs, weights):
    """One layer in reference ops, step by step (the textbook); lists of steps in and out."""
    w_ih, w_hh, b_ih, b_hh = weights
    h = cr.zeros(inputs[0].shape[0], HIDDEN)
    c = cr.zeros(inputs[0].shape[0], HIDDEN)
    outputs = []
    for x in inputs:
        gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if kind == "LSTM":
            i, f, g, o = (gi + gh).chunk(4, 1)
            c = i.sigmoid() * g.tanh() + f.sigmoid() * c
            h = o.sigmoid() * c.tanh()
        else:
            (ir, iz, inn), (hr, hz, hn) = gi.chunk(3, 1), gh.chunk(3, 1)
            r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
            n = (inn + r * hn).tanh()
            h = (1 - z) * n + z * h
        outputs.append(h)
    return outputs


def run_steps(layer_fn, kind, model, x):
    """A stack of layers written step by step (``layer_fn``: per-step cells or reference ops)."""
    model.zero_grad(set_to_none=True)
    steps = [x[t] for t in range(x.shape[0])]  # x needs no gradient: its slices cost nothing in backward
    for layer in range(model.num_layers):
        weights = [getattr(model, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        steps = layer_fn(kind, steps, weights)
    loss = cr.stack(steps).sum()
    loss.backward()
    return loss


def run_torch(model, x):
    model.zero_grad(set_to_none=True)
    output, _ = model(x)
    loss = output.sum()
    loss.backward()
    return loss


def implementations(kind: str, layers: int) -> tuple:
    """{name: callable} running one forward + backward each, and a check of their agreement."""
    rng = np.random.default_rng(0)
    x_array = rng.standard_normal((STEPS, BATCH, FEATURES)).astype(np.float32)
    cr.manual_seed(0)
    model = getattr(crnn, kind)(FEATURES, HIDDEN, num_layers=layers)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    x = cr.tensor(x_array)
    runs = {
        "chainrule": lambda: run_chainrule(model, x),
        "per-step cells": lambda: run_steps(_cell_layer, kind, model, x),
        "reference": lambda: run_steps(_reference_layer, kind, model, x),
    }
    if torch is not None:
        their_model = getattr(torch.nn, kind)(FEATURES, HIDDEN, num_layers=layers)
        their_model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        tx = torch.tensor(x_array)
        runs["torch"] = lambda: run_torch(their_model, tx)
    return runs, agreement(runs, model, their_model if torch is not None else None)


def agreement(runs: dict, model, their_model) -> dict:
    """Largest |loss| and |gradient| differences of each implementation to torch (or to chainrule)."""
    def snapshot(name):
        loss = float(runs[name]().item())
        grads = ({n: p.grad.detach().numpy().copy() for n, p in their_model.named_parameters()} if name == "torch"
                 else {n: p.grad.numpy().copy() for n, p in model.named_parameters()})
        return loss, grads

    base_name = "torch" if "torch" in runs else "chainrule"
    base_loss, base_grads = snapshot(base_name)
    result = {}
    for name in runs:
        if name == base_name:
            continue
        loss, grads = snapshot(name)
        result[name] = {"loss_diff": abs(loss - base_loss),
                        "grad_diff": max(float(np.abs(grads[n] - base_grads[n]).max()) for n in base_grads)}
    return {"against": base_name, "differences": result}


# ============================================================================ timing

def time_interleaved(runs: dict, settings: dict) -> dict:
    """Round-robin over the implementations; the reference (slow) runs every
    ``reference_every``-th round. Returns the ms per call of each."""
    for run in runs.values():
        for _ in range(settings["warmup"]):
            run()
    samples = {name: [] for name in runs}
    gc.enable()
    for round_index in range(settings["rounds"]):
        for name, run in runs.items():
            if name == "reference" and round_index % settings["reference_every"]:
                continue
            for _ in range(settings["calls"]):
                start = time.perf_counter()
                run()
                samples[name].append(time.perf_counter() - start)
    return {name: {"median_ms": statistics.median(v) * MS, "min_ms": min(v) * MS, "n": len(v)}
            for name, v in samples.items()}


def bench_cases(settings: dict, verbose: bool) -> list:
    rows = []
    for kind in ("LSTM", "GRU"):
        for layers in (1, 2):
            runs, check = implementations(kind, layers)
            timed = time_interleaved(runs, settings)
            if "torch" in timed:
                for t in timed.values():
                    t["ratio_to_torch"] = t["median_ms"] / timed["torch"]["median_ms"]
            row = {"kind": kind, "layers": layers, "times": timed, "agreement": check}
            rows.append(row)
            if verbose:
                print_row(row)
    return rows


def print_row(row: dict) -> None:
    print(f"{row['kind']} {row['layers']} layer(s): ms per forward + backward, median [min] (ratio to torch)")
    for name, t in row["times"].items():
        ratio = f"  ({t['ratio_to_torch']:.2f}x)" if "ratio_to_torch" in t else ""
        print(f"    {name:16s} {t['median_ms']:8.2f} [{t['min_ms']:7.2f}]  n={t['n']:3d}{ratio}")
    diffs = row["agreement"]["differences"]
    text = ", ".join(f"{n}: loss {d['loss_diff']:.1e}, grads {d['grad_diff']:.1e}" for n, d in diffs.items())
    print(f"    max |difference| to {row['agreement']['against']}: {text}")


# ============================================================================ where the time goes

def breakdown(settings: dict) -> dict:
    """The chainrule LSTM (1 layer) in parts: the whole forward + backward, the sequence node's
    forward and backward on arrays, the input projection (forward and its two gradient
    products), and the matrix products of the node alone (per step h W_hh^T forward, d W_hh
    backward, and the one weight-gradient product)."""
    rng = np.random.default_rng(0)
    gates = 4 * HIDDEN
    xproj = rng.standard_normal((STEPS, BATCH, gates)).astype(np.float32)
    x = rng.standard_normal((STEPS * BATCH, FEATURES)).astype(np.float32)
    w_ih = (rng.standard_normal((gates, FEATURES)) * 0.1).astype(np.float32)
    w_hh = (rng.standard_normal((gates, HIDDEN)) * 0.1).astype(np.float32)
    zeros = np.zeros((BATCH, HIDDEN), np.float32)
    node = LSTMLayer()
    out = node.forward(xproj, zeros, zeros, w_hh)
    node.needs_input_grad = (True, False, False, True)
    upstream = np.ones_like(out)
    w_t, gate_rows = np.ascontiguousarray(w_hh.T), np.empty((BATCH, gates), np.float32)
    h_rows, dgates = np.empty((BATCH, HIDDEN), np.float32), xproj.reshape(-1, gates)
    hprev = rng.standard_normal((STEPS * BATCH, HIDDEN)).astype(np.float32)

    def recurrent_products():
        for _ in range(STEPS):
            np.matmul(zeros, w_t, out=gate_rows)
            np.matmul(gate_rows, w_hh, out=h_rows)

    cr.manual_seed(0)
    model = crnn.LSTM(FEATURES, HIDDEN)
    tx = cr.tensor(rng.standard_normal((STEPS, BATCH, FEATURES)).astype(np.float32))
    parts = {
        "whole forward + backward": lambda: run_chainrule(model, tx),
        "node forward": lambda: node.forward(xproj, zeros, zeros, w_hh),
        "node backward": lambda: node.backward(upstream),
        "input projection (x W_ih^T, dW_ih)": lambda: (x @ w_ih.T, dgates.T @ x),
        "per-step products h W_hh^T, d W_hh": recurrent_products,
        "weight gradient sum_t d_t^T h_t-1": lambda: dgates.T @ hprev,
    }
    timed = time_interleaved(parts, {**settings, "calls": 1, "rounds": settings["breakdown_calls"]})
    return {name: t["median_ms"] for name, t in timed.items()}


def print_breakdown(parts: dict) -> None:
    print("Where the time goes (chainrule LSTM, 1 layer; medians in ms):")
    for name, value in parts.items():
        print(f"    {name:40s} {value:8.2f}")
    projection = parts["input projection (x W_ih^T, dW_ih)"]
    node_products = parts["per-step products h W_hh^T, d W_hh"] + parts["weight gradient sum_t d_t^T h_t-1"]
    node = parts["node forward"] + parts["node backward"]
    whole = parts["whole forward + backward"]
    products = projection + node_products
    print(f"    -> matrix products {products:.2f} ms ({products / whole:.0%} of the whole); the node's "
          f"elementwise gate work {node - node_products:.2f} ms ({(node - node_products) / whole:.0%}); the rest "
          f"(graph, views, loss) {whole - node - projection:.2f} ms")
    print()


# ============================================================================ main

def run(quick: bool = False, threads: int = 2, settings: dict | None = None, verbose: bool = True) -> dict:
    settings = dict(settings or (QUICK if quick else FULL))
    limiter = contextlib.nullcontext()
    if threadpoolctl is not None:
        limiter = threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    with limiter:
        if torch is not None:
            torch.set_num_threads(threads)
        meta = engine.environment(engine.blas_threads() if threadpoolctl is not None else threads)
        if verbose:
            engine.print_header(meta, {"op_repeat": 0, "op_number": 0, "op_warmup": 0, "mlp_rounds": 0,
                                       "mlp_steps_per_round": 0, "mlp_warmup": 0,
                                       "mlp_small_steps_per_round": 0}, "quick" if quick else "full")
            print(f"Recurrent benchmark: batch {BATCH}, sequence {STEPS}, input {FEATURES}, hidden {HIDDEN}, "
                  f"float32; {settings['rounds']} rounds x {settings['calls']} calls per implementation "
                  f"(+{settings['warmup']} warm-up), interleaved, GC on; the reference every "
                  f"{settings['reference_every']}rd round\n")
        contention = engine.CpuContention()
        start = time.perf_counter()
        results = {"meta": meta, "settings": settings, "cases": bench_cases(settings, verbose)}
        results["breakdown"] = breakdown(settings)
        if verbose:
            print_breakdown(results["breakdown"])
        elapsed = time.perf_counter() - start
    others = contention.cores_used_by_others()
    meta["cores_used_by_other_processes"] = others
    results["elapsed_s"] = elapsed
    if verbose:
        print(f"Benchmark time: {elapsed:.1f} s")
        if others is not None:
            verdict = ("OK: quiet machine" if others < 0.1 else
                       "WARNING: other processes competed for the CPU; repeat this run on a quiet machine")
            print(f"Other processes used {others:.2f} core(s) on average during the run -> {verdict}")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument("--threads", type=int, default=2,
                        help="NumPy's BLAS (via threadpoolctl) and torch threads (default 2)")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, threads=args.threads)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
