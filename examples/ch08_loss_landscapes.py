"""Chapter 8: loss landscapes, filter normalization and the skip-connection study.

Part 1 trains a small MLP on the digits and draws its loss along one filter-normalized random
direction, L(θ + αδ), next to a raw Gaussian direction of the same seed (ch08_line.png).
Part 2 runs ``skip_study.skip_connection_study``: convolutional ResNets of depth 8, 20 and 56
(widths 4, 8, 16) with and without skip connections, trained alike on the digits images, and
their 2-D filter-normalized loss surfaces (Li et al. 2018, Fig. 5) side by side
(ch08_skip_connections.png), with the share of each surface that is non-convex. The study's
default size takes 1 to 2.5 minutes on 2 shared cores; --quick runs depths 8 and 20 for 3 epochs
on 7 x 7 grids (about 10 s).

Run: python examples/ch08_loss_landscapes.py [--quick] [--out DIR]
"""
import numpy as np
from _common import parse_args, save
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import datasets, landscape, nn, optim
from chainrule.theory import skip_study
from chainrule.train import Trainer

args = parse_args(__doc__.splitlines()[0])

# ---- part 1: one direction, filter-normalized or not
X, y = datasets.load_digits()
X = (X / 16.0).astype(np.float32)
rows = slice(0, 300) if args.quick else slice(None)
cr.manual_seed(0)
model = nn.MLP([64, 64, 64, 10])
Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), verbose=0).fit(
    (X[rows], y[rows]), epochs=2 if args.quick else 20, batch_size=32)
figure = Figure(figsize=(6.4, 4.2), layout="constrained")
axes = figure.add_subplot()
for normalization, label in (("filter", "filter-normalized direction"), ("none", "raw N(0, 1) direction")):
    direction = landscape.random_direction(model, normalization=normalization, seed=1)
    result = landscape.line(model, nn.CrossEntropyLoss(), (X[rows], y[rows]), direction,
                            steps=11 if args.quick else 41, span=(-1.0, 1.0))
    axes.plot(result.alphas, result.losses, label=label)
    print(f"line along a {label:<27}: loss at alpha = 0: "
          f"{result.losses[len(result.losses) // 2]:.4f}, at alpha = 1: {result.losses[-1]:.4f}")
axes.set(xlabel="alpha (step along the direction, in units of the direction)", ylabel="training loss (cross-entropy)",
         yscale="log", title="loss along one random direction")
axes.legend()
save(figure, args.out, "ch08_line.png")

# ---- part 2: plain vs residual convolutional networks of several depths
study = skip_study.skip_connection_study(size="quick" if args.quick else "default", seed=0)
settings = study.settings
print(f"skip-connection study ({settings['size']} size): depths {settings['depths']}, widths {settings['widths']}, "
      f"{settings['epochs']} epochs, {settings['steps']} x {settings['steps']} grid on {settings['eval_rows']} images")
for row in study.table():
    print(f"  depth {row['depth']:>3} {row['network']:<8}: train loss {row['train_loss']:.4f}, "
          f"held-out accuracy {row['test_accuracy']:.3f}, non-convex share {row['nonconvex_fraction']:.3f}, "
          f"surface min {row['surface_min']:.3g} max {row['surface_max']:.3g} ({row['seconds']:.1f} s)")
save(study.figure(), args.out, "ch08_skip_connections.png")
