"""Chapter 9: computation: counting FLOPs, the GPT-3 arithmetic and its correction, predicting
an epoch on this machine and on rented GPUs.

1. ``compute.count_flops`` of the MLP 784-256-256-10 layer by layer, against 6·N per example.
2. The course's GPT-3 estimate (3.64e23 FLOPs on 1,024 A100s ≈ 51 days) and the corrected one.
3. The achieved FLOP/s of real training steps on this machine (``measure_throughput``), the
   predicted time of one epoch of 1797 digits through an MLP 64-512-512-10, and the measured
   time of that epoch with the Trainer.
4. Two jobs, MNIST-sized and a hundred thousand times bigger, on this CPU and on rented GPUs
   (``compare_accelerators``: datasheet peaks, a utilization range, list prices).

Run: python examples/ch09_computation.py [--quick] [--out DIR]
"""
import time

import numpy as np
from _common import parse_args

import chainrule as cr
from chainrule import compute, datasets, nn, optim
from chainrule.train import Trainer

args = parse_args(__doc__.splitlines()[0])

# ---- 1. counting
mlp = nn.MLP([784, 256, 256, 10])
count = compute.count_flops(mlp, cr.randn(256, 784))
print(f"MLP 784-256-256-10: {count.params:,} parameters; per example forward "
      f"{count.forward_flops_per_example:,.0f} FLOPs, training {count.training_flops_per_example:,.0f} FLOPs "
      f"= {count.six_nd_ratio():.3f} x 6N")
print(count.to_frame()[["layer", "type", "params", "forward_flops", "backward_flops", "note"]].to_string(index=False))

# ---- 2. GPT-3
gpt3 = compute.preset("gpt3")
print(f"GPT-3, the course's claim: {gpt3.claim}")
for row in gpt3.rows:
    print(f"  {row['scenario']:<62} {row['flops']:.3g} FLOPs  {row['seconds'] / 86400:6.1f} days  "
          f"US${row['cost'] / 1e6:.2f} M")

# ---- 3. this machine: measured throughput, predicted and measured epoch
X, y = datasets.load_digits()
X = (X / 16.0).astype(np.float32)
cr.manual_seed(0)
model = nn.MLP([64, 512, 512, 10])
batch = 64
throughput = compute.measure_throughput(model, cr.tensor(X[:batch]), nn.CrossEntropyLoss(),
                                        optim.SGD(model.parameters(), lr=0.01), steps=5 if args.quick else 30,
                                        target=cr.tensor(y[:batch]))
print(f"this machine: matmul peak {throughput.peak_flops / 1e9:.1f} GFLOP/s (float32, measured); training steps of "
      f"batch {batch} achieve {throughput.achieved_flops / 1e9:.2f} GFLOP/s = {throughput.fraction_of_peak:.1%} of it")
predicted = compute.predict_epoch_time(throughput.count, len(y), throughput)
trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01), verbose=0)
epochs = 1 if args.quick else 5
started = time.perf_counter()
trainer.fit((X, y), epochs=epochs, batch_size=batch)
measured = (time.perf_counter() - started) / epochs
print(f"one epoch of {len(y)} digits, MLP 64-512-512-10: predicted {predicted:.3f} s, "
      f"measured {measured:.3f} s (mean of {epochs}); measured/predicted = {measured / predicted:.2f}")

# ---- 4. two jobs on this CPU and on rented GPUs
jobs = {
    "20 epochs of 60,000 rows through 784-256-256-10": (nn.MLP([784, 256, 256, 10]), 60_000, 20),
    "10 epochs of 10 million rows through 784-4096-4096-4096-10": (nn.MLP([784, 4096, 4096, 4096, 10]), 10_000_000, 10),
}
for name, (job_model, samples, job_epochs) in jobs.items():
    flops = compute.training_flops(model=job_model, example_input=cr.randn(8, 784), samples=samples, epochs=job_epochs)
    local = compute.estimate(flops, compute.cpu_accelerator(), count=1, precision="fp32",
                             utilization=throughput.fraction_of_peak)
    print(f"{name} = {flops:.3g} FLOPs: on this CPU at the measured {throughput.fraction_of_peak:.1%} of peak "
          f"about {compute.format_duration(local.seconds)}")
    for row in compute.compare_accelerators(flops, count=1, precision="tf32",
                                            names=["T4", "L4", "A100-80GB", "H100-SXM"]):
        cost = "no list price" if row["cost"] is None else f"US${row['cost']:.3g}"
        print(f"  {row['accelerator']:<10} {row['precision']:<5} {compute.format_duration(row['seconds_fastest'])} to "
              f"{compute.format_duration(row['seconds_slowest'])}  ({cost} at the typical utilization)")
