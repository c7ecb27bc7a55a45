"""Chapter 3: momentum, SGD, AdaGrad, RMSProp and Adam.

Part 1 writes each update rule out in NumPy, exactly as the optimizer's docstring states it,
and checks that chainrule's optimizer takes the same steps on f(θ) = ½ θ'Aθ − b'θ.
Part 2 runs ``chainrule compare-optimizers`` on the bundled digits (an MLP trained from one
initialization with each optimizer) and prints its table; its figure is
optimizer-comparison.png in the output folder.

Run: python examples/ch03_optimizers.py [--quick] [--out DIR]
"""
import json
import subprocess
import sys

import numpy as np
from _common import parse_args

import chainrule as cr
from chainrule import optim

args = parse_args(__doc__.splitlines()[0])

A = np.array([[3.0, 0.5], [0.5, 1.0]])
b = np.array([1.0, -2.0])


def gradient(theta):
    return A @ theta - b


def by_hand(rule, steps=5):
    """θ_1 … θ_steps of an update rule written from the docstring, from θ_0 = (1, 1)."""
    theta, state, path = np.ones(2), {}, []
    for t in range(1, steps + 1):
        theta = rule(theta, gradient(theta), state, t)
        path.append(theta.copy())
    return np.array(path)


def momentum(theta, g, s, t, lr=0.1, mu=0.9):          # V_t = μ V_{t-1} − α ∇f, W_t = W_{t-1} + V_t
    s["V"] = mu * s.get("V", 0.0) - lr * g
    return theta + s["V"]


def adagrad(theta, g, s, t, lr=0.1, eps=1e-10):          # G_t = G_{t-1} + g², θ −= α g / (√G_t + ε)
    s["G"] = s.get("G", 0.0) + g * g
    return theta - lr * g / (np.sqrt(s["G"]) + eps)


def rmsprop(theta, g, s, t, lr=0.01, rho=0.99, eps=1e-8):  # R_t = ρ R + (1 − ρ) g², θ −= α g / (√R_t + ε)
    s["R"] = rho * s.get("R", 0.0) + (1 - rho) * g * g
    return theta - lr * g / (np.sqrt(s["R"]) + eps)


def adam(theta, g, s, t, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):  # bias-corrected V̂_t / (√R̂_t + ε)
    s["V"] = b1 * s.get("V", 0.0) + (1 - b1) * g
    s["R"] = b2 * s.get("R", 0.0) + (1 - b2) * g * g
    return theta - lr * (s["V"] / (1 - b1**t)) / (np.sqrt(s["R"] / (1 - b2**t)) + eps)


def by_chainrule(make_optimizer, steps=5):
    theta = cr.ones(2, dtype=cr.float64, requires_grad=True)
    At, bt = cr.tensor(A), cr.tensor(b)
    optimizer, path = make_optimizer([theta]), []
    for _ in range(steps):
        loss = 0.5 * (theta @ (At @ theta)) - bt @ theta
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(theta.numpy().copy())
    return np.array(path)


cases = {
    "momentum (SGD, mu=0.9)": (momentum, lambda p: optim.SGD(p, lr=0.1, momentum=0.9)),
    "AdaGrad": (adagrad, lambda p: optim.Adagrad(p, lr=0.1)),
    "RMSProp": (rmsprop, lambda p: optim.RMSprop(p, lr=0.01)),
    "Adam": (adam, lambda p: optim.Adam(p, lr=0.1)),
}
print("update rules by hand vs chainrule.optim, 5 steps on a 2-D quadratic:")
for name, (rule, make) in cases.items():
    difference = np.max(np.abs(by_hand(rule) - by_chainrule(make)))
    print(f"  {name:<24} max |theta_hand - theta_chainrule| = {difference:.1e}")

epochs, hidden = ("2", "16") if args.quick else ("20", "64,64")
command = [sys.executable, "-m", "chainrule", "compare-optimizers", "digits", "--target", "target",
           "--model", "mlp", "--hidden", hidden, "--epochs", epochs, "--out", str(args.out / "ch03")]
print("running:", " ".join(["chainrule", *command[3:]]))
subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
metrics = json.loads((args.out / "ch03" / "metrics.json").read_text())
print(f"{'optimizer':<10}{'lr':>8}{'train loss':>12}{'val loss':>10}{'seconds':>9}")
for name, row in metrics["optimizers"].items():
    print(f"{name:<10}{row['lr']:8g}{row['train_loss']:12.4f}{row['final_val_loss']:10.4f}{row['seconds']:9.2f}")
print(f"figure: {args.out / 'ch03' / 'optimizer-comparison.png'}")
