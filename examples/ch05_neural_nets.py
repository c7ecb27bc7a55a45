"""Chapter 5: neural nets, and backpropagation as the chain rule on the recorded graph.

Part 1 builds a tiny net (2 inputs → Linear → tanh → Linear → 1 output) and a squared-error
loss, prints the graph that chainrule recorded during the forward pass (one node per op,
``grad_fn.op`` labels), draws it, and checks ``loss.backward()`` against the chain rule
written out by hand. Part 2 trains an MLP 64 → 128 → 10 (ReLU, softmax cross-entropy, Adam)
on the bundled 8x8 digits and reports its test accuracy. Part 3 is the course's depth slide:
the decision regions of networks with 0, 1 and 2 hidden layers on a 2-D dataset whose positive
class is two separate disks (a line; one region; both regions), and a wide 1-hidden-layer net
of the same size as the 2-hidden-layer one for comparison.

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


# ---- part 3: what depth buys, the decision regions of 0, 1 and 2 hidden layers
rng = np.random.default_rng(0)
points = rng.uniform(-3, 3, size=(1200, 2))
disks = np.array([[-1.5, 0.0], [1.5, 0.0]])
inside = np.min(np.linalg.norm(points[:, None, :] - disks[None], axis=2), axis=1) < 1.0
labels = inside.astype(np.float64)[:, None]
NETS = [("0 hidden layers: Linear 2-1", [2, 1]), ("1 hidden layer: 2-3-1", [2, 3, 1]),
        ("2 hidden layers: 2-6-6-1", [2, 6, 6, 1]), ("1 wide hidden layer: 2-16-1", [2, 16, 1])]


def fit_classifier(sizes, steps):
    """Full-batch Adam on the logistic loss; returns the model (float64)."""
    cr.manual_seed(0)
    net = (nn.Linear(2, 1) if len(sizes) == 2 else nn.MLP(sizes)).double()
    adam = optim.Adam(net.parameters(), lr=0.05)
    inputs, targets = cr.tensor(points), cr.tensor(labels)
    for _ in range(steps):
        adam.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(inputs), targets).backward()
        adam.step()
    return net


grid = np.linspace(-3, 3, 121)
gx, gy = np.meshgrid(grid, grid)
regions = Figure(figsize=(12, 3.4), layout="constrained")
steps = 600 if args.quick else 2000
print(f"decision regions, positives = two disks ({inside.mean():.1%} of {len(points)} points), {steps} Adam steps:")
for k, (title, sizes) in enumerate(NETS):
    net = fit_classifier(sizes, steps)
    with cr.no_grad():
        accuracy = float(((net(cr.tensor(points)).numpy() > 0) == inside[:, None]).mean())
        surface = net(cr.tensor(np.column_stack([gx.ravel(), gy.ravel()]))).numpy().reshape(gx.shape)
    parameters = sum(p.numel() for p in net.parameters())
    print(f"  {title:30s} {parameters:3d} parameters  training accuracy {accuracy:.3f}")
    axes = regions.add_subplot(1, len(NETS), k + 1)
    axes.contourf(gx, gy, surface > 0, levels=[-0.5, 0.5, 1.5], colors=["#f3f3f3", "#fde8d8"])
    axes.scatter(*points[inside].T, s=3, color="#d9480f")
    axes.scatter(*points[~inside].T, s=3, color="#868e96", alpha=0.4)
    axes.set_title(f"{title}\n{parameters} parameters, accuracy {accuracy:.3f}", fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])
save(regions, args.out, "ch05_depth_regions.png")
