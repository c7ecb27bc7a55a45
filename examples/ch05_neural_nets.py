"""Chapter 5: neural nets, and backpropagation as the chain rule on the recorded graph.

Part 1 builds a tiny net (2 inputs → Linear → tanh → Linear → 1 output) and a squared-error
loss, prints the graph that chainrule recorded during the forward pass (one node per op,
``grad_fn.op`` labels), draws it, and checks ``loss.backward()`` against the chain rule
written out by hand. Part 2 trains an MLP 64 → 128 → 10 (ReLU, softmax cross-entropy, Adam)
on the bundled 8x8 digits and reports its test accuracy.

Run: python examples/ch05_neural_nets.py [--quick] [--out DIR]
"""
import numpy as np
from _common import parse_args, save
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import datasets, nn, optim
from chainrule.train import Trainer

args = parse_args(__doc__.splitlines()[0])


def recorded_graph(output, names):
    """(label, depth, parent labels) of every node reachable from ``output``, depth 0 = output."""
    nodes, labels = [], {}

    def label(tensor):
        if tensor.grad_fn is None:
            return names.get(id(tensor), f"input {tuple(tensor.shape)}")
        return f"{tensor.grad_fn.op} #{labels.setdefault(id(tensor.grad_fn), len(labels) + 1)}"

    frontier, seen = [(output, 0)], set()
    while frontier:
        tensor, depth = frontier.pop(0)
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        parents = list(tensor.grad_fn.parents) if tensor.grad_fn is not None else []
        nodes.append((label(tensor), depth, [label(p) for p in parents]))
        frontier.extend((p, depth + 1) for p in parents)
    return nodes


def draw(nodes):
    """The graph as boxes by depth (inputs on the left, the loss on the right)."""
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    axes = figure.add_subplot()
    deepest = max(depth for _, depth, _ in nodes)
    columns, where = {}, {}
    for name, depth, _ in nodes:
        column = deepest - depth
        where[name] = (column, columns.setdefault(column, 0))
        columns[column] += 1
    for name, _, parents in nodes:
        for parent in parents:
            (x0, y0), (x1, y1) = where[parent], where[name]
            axes.annotate("", (x1 - 0.3, y1), (x0 + 0.3, y0), arrowprops={"arrowstyle": "->", "color": "grey"})
    for name, (x, y) in where.items():
        leaf = "#" not in name
        axes.text(x, y, name, ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round", "facecolor": "#e8f0fe" if leaf else "#fde8d8"})
    axes.set_xlim(-0.7, deepest + 0.7)
    axes.set_ylim(-0.7, max(columns.values()) - 0.3)
    axes.set_axis_off()
    axes.set_title("the graph recorded by the forward pass (backward walks it right to left)")
    return figure


# ---- part 1: a tiny net and its graph
cr.manual_seed(0)
tiny = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)).double()
x = cr.tensor([[0.5, -1.0]], dtype=cr.float64)
target = cr.tensor([[0.25]], dtype=cr.float64)
out = tiny(x)
loss = ((out - target) ** 2).mean()
names = {id(p): name for name, p in tiny.named_parameters()}
names[id(x)] = "x"
names[id(target)] = "y"
graph = recorded_graph(loss, names)
print(f"the recorded graph of the tiny net: {sum('#' in n for n, _, _ in graph)} op nodes")
for name, depth, parents in graph:
    if parents:
        print(f"  {'  ' * depth}{name} <- {', '.join(parents)}")
save(draw(graph), args.out, "ch05_graph.png")
loss.backward()

# the chain rule by hand: h = tanh(x W1' + b1), o = h W2' + b2, loss = (o − y)²
W1, b1 = tiny[0].weight.numpy(), tiny[0].bias.numpy()
W2 = tiny[2].weight.numpy()
xv = x.numpy()
h = np.tanh(xv @ W1.T + b1)
o = h @ W2.T + tiny[2].bias.numpy()
d_o = 2 * (o - target.numpy())              # ∂loss/∂o
d_W2 = d_o.T @ h                            # ∂loss/∂W2 = (∂loss/∂o)' h
d_h = d_o @ W2                              # ∂loss/∂h
d_pre = d_h * (1 - h**2)                    # tanh'(u) = 1 − tanh(u)²
d_W1 = d_pre.T @ xv
errors = [np.max(np.abs(a - b)) for a, b in
          [(d_W2, tiny[2].weight.grad.numpy()), (d_W1, tiny[0].weight.grad.numpy()),
           (d_pre.sum(0), tiny[0].bias.grad.numpy())]]
print(f"backward() vs the chain rule by hand: max difference = {max(errors):.1e}")

# ---- part 2: an MLP on the digits
X, y = datasets.load_digits()
order = np.random.default_rng(0).permutation(len(y))
test, train = order[:360], order[360:]
if args.quick:
    train = train[:400]
mean, std = X[train].mean(axis=0), X[train].std(axis=0) + 1e-8   # standardize on the training rows
X = ((X - mean) / std).astype(np.float32)
cr.manual_seed(0)
model = nn.MLP([64, 128, 10])
trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                  metrics=("accuracy",), verbose=0)
epochs = 3 if args.quick else 30
history = trainer.fit((X[train], y[train]), val=(X[test], y[test]), epochs=epochs, batch_size=64)
final = history.epochs[-1]
print(f"MLP 64-128-10 on digits: {len(train)} training rows, {epochs} epochs; "
      f"train loss {final['train_loss']:.4f}, test accuracy {final['val_accuracy']:.4f} on {len(test)} rows")
