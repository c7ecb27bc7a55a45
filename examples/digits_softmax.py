"""Softmax regression on the bundled 8x8 digits, trained by hand-written mini-batch SGD.

Run: python examples/digits_softmax.py  (or: make demo, or: chainrule demo --help)
The training loop itself lives in chainrule/_demo.py, shared with `chainrule demo`.
"""
from chainrule._demo import run

if __name__ == "__main__":
    run(epochs=30, seed=0, lr=0.1, batch_size=64)
