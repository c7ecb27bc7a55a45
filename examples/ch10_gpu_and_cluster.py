"""Chapter 10: running on a GPU and on a cluster.

GPU: tries ``device="cuda"`` and reports whether CuPy and a CUDA device are available (the
training code is the same either way; only the device argument changes).
Cluster: trains an MLP on the digits data-parallel on 2 MPI ranks (``mpiexec -n 2``, per-rank
batch 32) and as one process with batch 64, and checks that the two runs end with the same
weights: N ranks with batch B take exactly the steps of one process with batch N·B.

Run: python examples/ch10_gpu_and_cluster.py [--quick] [--out DIR]
(it starts the MPI run itself; under mpiexec it is the worker: ``--worker BATCH OUT.npz``).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import backend, datasets, nn, optim
from chainrule import distributed as dist
from chainrule.train import Trainer


def train(batch_size, epochs, out):
    """One data-parallel (under mpiexec) or single-process run; rank 0 saves the weights."""
    X, y = datasets.load_digits()
    X = (X / 16.0).astype(np.float32)
    cr.manual_seed(0)
    model = nn.MLP([64, 64, 10])
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                      metrics=("accuracy",), verbose=0)
    history = trainer.fit((X, y), epochs=epochs, batch_size=batch_size)
    if dist.is_main():
        weights = {name: t.numpy() for name, t in model.state_dict().items()}
        np.savez(out, train_loss=history.epochs[-1]["train_loss"], **weights)


def try_gpu():
    try:
        x = cr.randn(256, 256, device="cuda")
        (x @ x).sum().item()
        print(f"GPU: device {x.device} works")
    except (backend.DeviceError, ImportError, RuntimeError) as error:  # no CuPy, or no CUDA device
        print(f"GPU: not available on this machine ({type(error).__name__}: {str(error).splitlines()[0]})")


def main():
    if "--worker" in sys.argv:
        batch, out = sys.argv[sys.argv.index("--worker") + 1:][:2]
        train(int(batch), int(os.environ.get("CH10_EPOCHS", "2")), out)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import parse_args

    args = parse_args(__doc__.splitlines()[0])
    try_gpu()
    epochs = 1 if args.quick else 5
    mpiexec = Path(sys.executable).with_name("mpiexec")
    mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        print("cluster: no mpiexec found; install the mpi extra: pip install 'chainrule[mpi]'")
        return
    env = dict(os.environ, CH10_EPOCHS=str(epochs), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    parallel, single = args.out / "ch10_two_ranks.npz", args.out / "ch10_one_process.npz"
    subprocess.run([mpiexec, "-n", "2", sys.executable, __file__, "--worker", "32", str(parallel)],
                   check=True, env=env, timeout=300)
    subprocess.run([sys.executable, __file__, "--worker", "64", str(single)], check=True, env=env, timeout=300)
    a, b = np.load(parallel), np.load(single)
    difference = max(float(np.max(np.abs(a[k] - b[k]))) for k in a.files if k != "train_loss")
    print(f"cluster: {epochs} epoch(s) of SGD with momentum on the digits, MLP 64-64-10")
    print(f"  2 ranks x batch 32: train loss {float(a['train_loss']):.6f}")
    print(f"  1 process x batch 64: train loss {float(b['train_loss']):.6f}")
    print(f"  max |weight difference| = {difference:.2e} (float32 round-off)")


if __name__ == "__main__":
    main()
