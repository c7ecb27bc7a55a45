"""Chapter 11: convolutions, residual networks, transformers and recurrent nets.

Part 1 trains a small CNN (3x3 convolutions, batch normalization, max pooling, global average
pooling) on the bundled digits as (N, 1, 8, 8) images and compares its held-out accuracy with
the chapter-5 MLP's on the same stratified 20% split (ch11_cnn.png: accuracy per epoch, the
learned first-layer filters, the held-out digits it gets wrong). Part 2 trains ResNet-20
(``chainrule.models.resnet(20, ..., in_channels=1)``) with the Trainer and checkpoints, kills
the run in the middle of an epoch, resumes it from the last checkpoint in a fresh model and
checks that it ends with exactly the weights of the run left alone (ch11_resnet_resume.png).
Part 3 trains a character-level GPT on tinyshakespeare (first 90% train, last 10% validation)
and reports the validation loss in bits per character against the unigram, bigram and trigram
baselines, and a generated sample (ch11_gpt.png). Part 4 teaches a GRU and an LSTM binary
addition, exactly, on held-out pairs and on numbers longer than those seen in training
(ch11_rnn.png).

BLAS runs on one thread unless OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS say
otherwise: these matrices are small, and on a 2-core machine shared with other jobs a second
OpenBLAS thread made the training steps 3-5 times slower (chapter 11, "Timings").

Run: python examples/ch11_deep_nets.py [--quick] [--out DIR]
"""
import os

if not {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} & set(os.environ):
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"  # before NumPy loads BLAS

import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import parse_args, save  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from chainrule import datasets, models, nn, optim  # noqa: E402
from chainrule.data import CharTokenizer, language_model_batches, ngram_bits_per_character  # noqa: E402
from chainrule.train import Callback, Trainer  # noqa: E402

args = parse_args(__doc__.splitlines()[0])
QUICK = args.quick
started = time.perf_counter()


def elapsed(since: float) -> str:
    return f"{time.perf_counter() - since:.1f} s"


# ---------------------------------------------------------------- part 1: a CNN on the digits
part = time.perf_counter()
images, labels = datasets.load_digits(as_images=True)          # (1797, 1, 8, 8), pixels 0..16
rng = np.random.default_rng(0)
held_out = np.sort(np.concatenate([                            # 20% of every digit, seeded
    rng.permutation(np.flatnonzero(labels == digit))[:round(0.2 * np.sum(labels == digit))] for digit in range(10)]))
train = np.setdiff1d(np.arange(len(labels)), held_out)
images = (images / 16.0).astype(np.float32)
print(f"digits as images {images.shape[1:]}: {len(train)} training, {len(held_out)} held out "
      f"(20% of each digit, seed 0)")

# the chapter-5 MLP on the same split: flattened pixels, standardized on the training rows
flat = images.reshape(len(images), -1)
mean, std = flat[train].mean(axis=0), flat[train].std(axis=0) + 1e-8
flat = ((flat - mean) / std).astype(np.float32)
cr.manual_seed(0)
mlp = nn.MLP([64, 128, 10])
mlp_history = Trainer(mlp, nn.CrossEntropyLoss(), optim.Adam(mlp.parameters(), lr=1e-3), metrics=("accuracy",),
                      verbose=0).fit((flat[train], labels[train]), val=(flat[held_out], labels[held_out]),
                                     epochs=30, batch_size=64)
mlp_accuracy = mlp_history["val_accuracy"][-1]


def small_cnn():
    """conv3x3(16)-BN-ReLU, conv3x3(32)-BN-ReLU, maxpool 2 (8x8 -> 4x4), conv3x3(64)-BN-ReLU,
    global average pooling, dropout, linear 64 -> 10."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, 10))


cnn_epochs = 12 if QUICK else 30
cr.manual_seed(0)
cnn = small_cnn()
adamw = optim.AdamW(cnn.parameters(), lr=3e-3, weight_decay=0.05)
cnn_trainer = Trainer(cnn, nn.CrossEntropyLoss(label_smoothing=0.1), adamw, metrics=("accuracy",),
                      scheduler=optim.lr_scheduler.CosineAnnealingLR(adamw, cnn_epochs), verbose=0)
cnn_history = cnn_trainer.fit((images[train], labels[train]), val=(images[held_out], labels[held_out]),
                              epochs=cnn_epochs, batch_size=32)
predicted = cnn_trainer.predict(images[held_out]).numpy().argmax(axis=1)
wrong = np.flatnonzero(predicted != labels[held_out])
cnn_accuracy = float(np.mean(predicted == labels[held_out]))
parameters = sum(p.numel() for p in cnn.parameters())
print(f"CNN 16-32-pool-64-gap ({parameters:,} parameters), AdamW, {cnn_epochs} epochs: "
      f"held-out accuracy {cnn_accuracy:.4f} ({len(held_out) - len(wrong)}/{len(held_out)})")
print(f"MLP 64-128-10 (chapter 5), Adam, 30 epochs: held-out accuracy {mlp_accuracy:.4f} "
      f"({round(mlp_accuracy * len(held_out))}/{len(held_out)})")

figure = Figure(figsize=(12, 3.8), layout="constrained")
grid = figure.add_gridspec(2, 12)
axes = figure.add_subplot(grid[:, :4])
axes.plot(range(1, cnn_epochs + 1), cnn_history["val_accuracy"], marker="o", label="CNN")
axes.plot(range(1, 31), mlp_history["val_accuracy"], marker=".", label="MLP (chapter 5)")
axes.axhline(0.985, color="grey", lw=0.8, ls="--")
axes.set(xlabel="epoch", ylabel="held-out accuracy", ylim=(0.9, 1.0), title="held-out accuracy per epoch")
axes.legend(loc="lower right")
filters = cnn[0].weight.numpy()[:, 0]                            # (16, 3, 3)
for k in range(16):
    ax = figure.add_subplot(grid[k // 8, 4 + k % 8])
    ax.imshow(filters[k], cmap="RdBu_r", vmin=-np.abs(filters).max(), vmax=np.abs(filters).max())
    ax.set_xticks([])
    ax.set_yticks([])
figure.text(0.62, 0.98, "the 16 learned 3x3 filters of the first layer (red > 0 > blue)", ha="center", va="top")
save(figure, args.out, "ch11_cnn.png")
print(f"  misclassified held-out digits (true -> predicted): "
      f"{', '.join(f'{labels[held_out][k]}->{predicted[k]}' for k in wrong)}")
print(f"part 1 took {elapsed(part)}")


# ---------------------------------------------------------------- part 2: ResNet-20, stopped and resumed
class KillAt(Callback):
    """Stands in for the process being killed: raises in epoch ``epoch`` after ``step`` steps."""

    def __init__(self, epoch, step):
        self.epoch, self.step = epoch, step

    def on_batch_end(self, trainer, step, logs):
        if (logs["epoch"], step) == (self.epoch, self.step):
            raise KeyboardInterrupt(f"killed in epoch {self.epoch} at step {step}")


part = time.perf_counter()
widths = (8, 16, 32) if QUICK else (16, 32, 64)
resnet_epochs = 4 if QUICK else 20
stop_epoch = resnet_epochs // 2 + 1          # killed in this epoch; the last checkpoint is the one before


def resnet_run(seed, checkpoint, callbacks=()):
    cr.manual_seed(seed)
    model = models.resnet(20, widths, in_channels=1)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)   # He et al.'s
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, resnet_epochs)
    return model, Trainer(model, nn.CrossEntropyLoss(), optimizer, metrics=("accuracy",),
                          scheduler=scheduler, callbacks=list(callbacks), checkpoint_path=checkpoint, verbose=0)


digits_train, digits_val = (images[train], labels[train]), (images[held_out], labels[held_out])
with tempfile.TemporaryDirectory() as folder:
    straight_model, straight = resnet_run(0, Path(folder) / "straight.safetensors")
    cr.manual_seed(1)                                    # the run's shuffling
    straight.fit(digits_train, val=digits_val, epochs=resnet_epochs, batch_size=32)

    checkpoint = Path(folder) / "run.safetensors"
    _, killed = resnet_run(0, checkpoint, [KillAt(stop_epoch, 5)])
    cr.manual_seed(1)
    try:
        killed.fit(digits_train, val=digits_val, epochs=resnet_epochs, batch_size=32)
    except KeyboardInterrupt as stop:
        print(f"ResNet-20 widths {widths}: run {stop}; checkpoint of epoch {killed.epoch} on disk")

    # a new process would do this: a fresh model (other initial weights) and Trainer, resumed
    resumed_model, resumed = resnet_run(123, checkpoint)
    cr.manual_seed(999)
    resumed.fit(digits_train, val=digits_val, epochs=resnet_epochs, batch_size=32, resume_from=checkpoint)

expected, got = straight_model.state_dict(), resumed_model.state_dict()
difference = max(float(np.max(np.abs(expected[name].numpy().astype(np.float64) - got[name].numpy())))
                 for name in expected)
identical = all(np.array_equal(expected[name].numpy(), got[name].numpy()) for name in expected)
resnet_parameters = sum(p.numel() for p in straight_model.parameters())
print(f"ResNet-20 ({resnet_parameters:,} parameters, {len(expected)} tensors with the BatchNorm buffers), "
      f"{resnet_epochs} epochs: resumed vs uninterrupted: max |weight difference| = {difference:.1e}, "
      f"bitwise identical: {identical}, final train loss {resumed.history['train_loss'][-1]:.6f} vs "
      f"{straight.history['train_loss'][-1]:.6f}")
print(f"ResNet-20 held-out accuracy {straight.history['val_accuracy'][-1]:.4f} "
      f"(the CNN: {cnn_accuracy:.4f}, the MLP: {mlp_accuracy:.4f})")

figure = Figure(figsize=(7.5, 4), layout="constrained")
axes = figure.add_subplot()
steps_per_epoch = len(straight.history.steps["loss"]) // resnet_epochs
smooth = np.ones(9) / 9                                    # a running mean over 9 steps
for history, style in ((straight.history, {"lw": 4, "color": "#adb5bd", "label": "uninterrupted run"}),
                       (resumed.history, {"lw": 1, "color": "#d9480f",
                                          "label": "killed, then resumed from the checkpoint"})):
    axes.plot(history.steps["step"][8:], np.convolve(history.steps["loss"], smooth, mode="valid"), **style)
axes.axvline((stop_epoch - 1) * steps_per_epoch, color="k", ls=":", lw=0.8)
axes.annotate(f"checkpoint of epoch {stop_epoch - 1}; killed in epoch {stop_epoch}",
              ((stop_epoch - 1) * steps_per_epoch, 0.02), xycoords=("data", "axes fraction"),
              xytext=(4, 0), textcoords="offset points", fontsize=8)
axes.set(xlabel="optimizer step", ylabel="training loss (running mean of 9 batches)", yscale="log",
         title=f"ResNet-20 on the digits: resumed = uninterrupted, bit for bit: {identical}")
axes.legend(loc="upper right")
save(figure, args.out, "ch11_resnet_resume.png")
print(f"part 2 took {elapsed(part)}")


# ---------------------------------------------------------------- part 3: a character-level GPT
part = time.perf_counter()
text = datasets.load_text("tinyshakespeare")
split = int(0.9 * len(text))
train_text, valid_text = text[:split], text[split:]
baselines = {n: ngram_bits_per_character(train_text, valid_text, n) for n in (1, 2, 3)}
print(f"tinyshakespeare: {len(train_text):,} training and {len(valid_text):,} validation characters; "
      f"baselines (add-one n-grams): unigram {baselines[1]:.2f}, bigram {baselines[2]:.2f}, "
      f"trigram {baselines[3]:.2f} bits/char")
tokenizer = CharTokenizer(text)
train_ids, valid_ids = tokenizer.encode(train_text), tokenizer.encode(valid_text)
if QUICK:
    context, layers, heads, width, batch, steps, lr = 64, 2, 4, 64, 32, 250, 3e-3
else:
    context, layers, heads, width, batch, steps, lr = 128, 4, 4, 128, 32, 1000, 1e-3
# validation windows: consecutive, non-overlapping, each predicting its own next characters
starts = np.arange(0, len(valid_ids) - context - 1, context)
curve_windows = starts[:: max(len(starts) // 32, 1)][:32]      # 32 windows spread over the text, for the curve
final_windows = starts[:64] if QUICK else starts                # the whole validation text in full mode


def bits_per_character(model, windows) -> float:
    """Mean next-character cross-entropy over ``windows`` in bits (nats / ln 2), eval mode, no graph."""
    model.eval()
    total, count = 0.0, 0
    with cr.no_grad():
        for i in range(0, len(windows), 64):
            chunk = windows[i:i + 64, None] + np.arange(context + 1)
            inputs, targets = valid_ids[chunk[:, :-1]], valid_ids[chunk[:, 1:]]
            logits = model(cr.tensor(inputs))
            total += float(F.cross_entropy(logits.flatten(0, 1), cr.tensor(targets.reshape(-1)),
                                           reduction="sum").item())
            count += targets.size
    model.train()
    return total / count / math.log(2)


cr.manual_seed(0)
gpt = models.gpt(tokenizer.vocab_size, context=context, layers=layers, heads=heads, width=width)
adamw = optim.AdamW(gpt.parameters(), lr=lr, weight_decay=0.1)
schedule = optim.lr_scheduler.CosineAnnealingLR(adamw, steps, eta_min=lr / 10)
batches = language_model_batches(train_ids, context, batch, seed=0)
curve, train_bits = [(0, bits_per_character(gpt, curve_windows))], []
training, training_cpu = time.perf_counter(), time.process_time()
for step in range(1, steps + 1):
    inputs, targets = next(batches)
    loss = F.cross_entropy(gpt(cr.tensor(inputs)).flatten(0, 1), cr.tensor(targets.reshape(-1)))
    adamw.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(gpt.parameters(), 1.0)
    adamw.step()
    schedule.step()
    train_bits.append(float(loss.item()) / math.log(2))
    if step % (steps // 10) == 0:
        curve.append((step, bits_per_character(gpt, curve_windows)))
        print(f"  step {step:4d}: training batch {train_bits[-1]:.3f}, validation (32 windows) {curve[-1][1]:.3f} "
              f"bits/char, {time.perf_counter() - training:.0f} s", flush=True)
training_time = time.perf_counter() - training
final_bits = bits_per_character(gpt, final_windows)
gpt_parameters = sum(p.numel() for p in gpt.parameters())
print(f"GPT context {context}, {layers} layers, {heads} heads, width {width} ({gpt_parameters:,} parameters), "
      f"{steps} steps of {batch}x{context} characters in {training_time:.0f} s "
      f"({time.process_time() - training_cpu:.0f} s of CPU time)")
print(f"GPT validation: {final_bits:.3f} bits/char on {len(final_windows) * context:,} characters "
      f"(unigram {baselines[1]:.3f}, bigram {baselines[2]:.3f}, trigram {baselines[3]:.3f})")
cr.manual_seed(0)
sample = gpt.generate(tokenizer.encode("ROMEO:"), 120 if QUICK else 400, temperature=0.8, top_k=10)
print("sample (temperature 0.8, top-k 10):")
print("  " + tokenizer.decode(sample).replace("\n", "\n  "))

figure = Figure(figsize=(7, 4.2), layout="constrained")
axes = figure.add_subplot()
window = max(steps // 50, 1)
smooth = np.convolve(train_bits, np.ones(window) / window, mode="valid")
axes.plot(np.arange(window, steps + 1), smooth, color="#adb5bd", label=f"training batches (mean of {window})")
axes.plot(*zip(*curve), marker="o", color="#d9480f", label="validation (32 windows)")
for n, name in ((1, "unigram"), (2, "bigram"), (3, "trigram")):
    axes.axhline(baselines[n], color="k", ls="--", lw=0.8)
    axes.text(steps, baselines[n], f"{name} {baselines[n]:.2f}", ha="right", va="bottom", fontsize=8)
axes.set(xlabel="optimizer step", ylabel="bits per character", ylim=(1.5, 6.5),
         title=f"character-level GPT on tinyshakespeare ({gpt_parameters:,} parameters)")
axes.legend(loc="upper right")
save(figure, args.out, "ch11_gpt.png")
print(f"part 3 took {elapsed(part)}")


# ---------------------------------------------------------------- part 4: recurrent nets add binary numbers
part = time.perf_counter()


def addition(a, b, bits):
    """Inputs (N, bits + 1, 2): the bits of a and b, least significant first; targets (N, bits + 1):
    the bits of a + b (the last step reads out the final carry)."""
    steps = np.arange(bits + 1)
    inputs = np.stack([(a[:, None] >> steps) & 1, (b[:, None] >> steps) & 1], axis=2).astype(np.float32)
    return inputs, ((a + b)[:, None] >> steps) & 1


class Adder(nn.Module):
    """A batch-first GRU or LSTM (hidden 16) and a linear head: one 2-way prediction per step."""

    def __init__(self, kind):
        super().__init__()
        self.rnn = getattr(nn, kind)(2, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def exact_match(outputs, target):
    """The share of sequences with every bit right."""
    return float((outputs.numpy().argmax(-1) == target.numpy()).all(axis=1).mean())


pairs = np.random.default_rng(0).permutation(4 ** 8)[:4000]     # 4,000 distinct pairs of 8-bit numbers
first, second = pairs // 256, pairs % 256
sums_train, sums_test = addition(first[:2000], second[:2000], 8), addition(first[2000:], second[2000:], 8)
longer = np.random.default_rng(1)
sums_16 = addition(longer.integers(0, 2 ** 16, 2000), longer.integers(0, 2 ** 16, 2000), 16)
sums_32 = addition(longer.integers(0, 2 ** 31, 2000), longer.integers(0, 2 ** 31, 2000), 31)
figure = Figure(figsize=(6.4, 3.8), layout="constrained")
axes = figure.add_subplot()
for kind in ("GRU", "LSTM"):
    cr.manual_seed(0)
    adder = Adder(kind)
    trainer = Trainer(adder, lambda out, target: F.cross_entropy(out.flatten(0, 1), target.flatten()),
                      optim.Adam(adder.parameters(), lr=0.02), metrics=("accuracy", exact_match), verbose=0)
    history = trainer.fit(sums_train, val=sums_test, epochs=10, batch_size=64)
    on_16, on_32 = trainer.evaluate(sums_16)["exact_match"], trainer.evaluate(sums_32)["exact_match"]
    print(f"{kind:4s} hidden 16, 10 epochs on 2,000 sums of 8-bit numbers: held-out exact match "
          f"{history['val_exact_match'][-1]:.4f} (bit accuracy {history['val_accuracy'][-1]:.4f}) on 2,000 other "
          f"pairs; 16-bit numbers {on_16:.4f}, 31-bit numbers {on_32:.4f}")
    axes.plot(range(1, 11), history["val_exact_match"], marker="o", label=kind)
axes.set(xlabel="epoch (32 steps of 64 sums)", ylabel="held-out sums with every bit right",
         title="binary addition, 8-bit numbers, least significant bit first")
axes.legend()
save(figure, args.out, "ch11_rnn.png")
print(f"part 4 took {elapsed(part)}")
print(f"total {elapsed(started)}, {time.process_time():.0f} s of CPU time ({'quick' if QUICK else 'full'} mode)")
