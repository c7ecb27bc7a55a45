"""An MLP on the bundled 8x8 digits, trained by chainrule's Trainer with Adam.

Run: python examples/digits_mlp.py  (or: make demo, or: chainrule demo --help)
The pipeline (split, standardize on the training split, fit, test) lives in
chainrule/cli/digits_mlp.py, shared with `chainrule demo`.
"""
from chainrule.cli.digits_mlp import run

if __name__ == "__main__":
    run(epochs=30, seed=0, lr=1e-3, batch_size=64, hidden=128)
