"""Chapter 6: initialization and normalization, on the bundled digits.

Part 1: a 10-hidden-layer ReLU MLP built under N(0, 0.01²), Xavier and Kaiming initialization;
``diagnostics.compare_inits`` measures each layer's activation and gradient scales and draws
them (ch06_init_activation_std.png, ch06_init_gradient_std.png).
Part 2: standardization of the inputs and BatchNorm1d: the same MLP trained on raw pixels
(0-16) and on standardized ones, with and without batch normalization, and what BatchNorm
does to one batch in training mode (mean 0, standard deviation 1 per unit), and the condition
number of the Grunfeld least-squares problem before and after standardizing its columns.

Run: python examples/ch06_initialization_normalization.py [--quick] [--out DIR]
"""
import numpy as np
from _common import parse_args, save

import chainrule as cr
from chainrule import datasets, diagnostics, nn, optim
from chainrule.train import Trainer

args = parse_args(__doc__.splitlines()[0])

X, y = datasets.load_digits()
X = X.astype(np.float32)
order = np.random.default_rng(0).permutation(len(y))
test, train = order[:360], order[360:]

# ---- part 1: initialization diagnostics on a deep ReLU net
depth, width = 10, 64
mean, std = X[train].mean(axis=0), X[train].std(axis=0)
std[std == 0] = 1.0                        # pixels that are always 0 in the training rows stay 0
batch = (X[train[:256]] - mean) / std
comparison = diagnostics.compare_inits(lambda: nn.MLP([64] + [width] * depth + [10]), batch, y[train[:256]],
                                       inits=("normal(0.01)", "normal(0.3)", "default", "xavier", "kaiming"))
summary = comparison.summary()
print(f"{depth} hidden ReLU layers of width {width}: std of the activations, first and last hidden layer")
for row in summary.itertuples():
    print(f"  {row.init:<13} first {row.activation_std_first:10.3e}  last {row.activation_std_last:10.3e}  "
          f"last/first {row.activation_ratio_last_first:10.3e}")
save(comparison.figure("activation_std"), args.out, "ch06_init_activation_std.png")
save(comparison.figure("gradient_std"), args.out, "ch06_init_gradient_std.png")

# ---- part 2: standardization and batch normalization
if args.quick:
    train = train[:300]
inputs = {"raw pixels": X, "standardized": (X - mean) / std}
epochs = 2 if args.quick else 10
print(f"MLP 64-64-64-10 (ReLU), SGD lr 0.1, {epochs} epochs, {len(train)} training rows:")
for name, data in inputs.items():
    for batchnorm in (False, True):
        cr.manual_seed(0)
        model = nn.MLP([64, 64, 64, 10], batchnorm=batchnorm)
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                          metrics=("accuracy",), verbose=0)
        last = trainer.fit((data[train], y[train]), val=(data[test], y[test]), epochs=epochs, batch_size=32).epochs[-1]
        print(f"  {name:<13} batchnorm={batchnorm!s:<5}  train loss {last['train_loss']:.4f}  "
              f"test accuracy {last['val_accuracy']:.4f}")

layer = nn.BatchNorm1d(4)
layer.train()
values = cr.tensor(np.random.default_rng(2).normal(loc=5.0, scale=3.0, size=(32, 4)).astype(np.float32))
normalized = layer(values).numpy()
print(f"BatchNorm1d in training mode: per-unit means {np.round(normalized.mean(axis=0), 6).tolist()}, "
      f"standard deviations {np.round(normalized.std(axis=0), 4).tolist()}")
layer.eval()
print("running mean after one batch (momentum 0.1): "
      f"{[round(float(v), 4) for v in layer.running_mean.numpy()]}")

# standardization where the columns' scales differ: the Grunfeld design [1, value, capital]
frame = datasets.load_grunfeld(as_frame=True)
raw = frame[["value", "capital"]].to_numpy(dtype=np.float64)
for name, columns in {"raw": raw, "standardized": (raw - raw.mean(axis=0)) / raw.std(axis=0)}.items():
    design = np.column_stack([np.ones(len(raw)), columns])
    eigenvalues = np.linalg.eigvalsh(design.T @ design / len(raw))
    print(f"Grunfeld [1, value, capital], {name:<12}: condition number L/mu of the least-squares Hessian "
          f"= {eigenvalues[-1] / eigenvalues[0]:.3g}")
