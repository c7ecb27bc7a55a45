"""Data-parallel training over MPI ranks, as the Trainer runs it.

With ``Trainer(..., distributed=True)``, and by default whenever the script was started by
``mpiexec``/``srun`` with more than one rank, every rank runs the same script with the same
model, loss and optimizer, and

* the parameters and buffers are broadcast from rank 0 when ``fit`` starts, so every rank
  starts from rank 0's weights;
* each epoch uses one permutation π of the n training rows, drawn as in a single process and
  broadcast from rank 0; global batch j is π[jNB : (j+1)NB] for N ranks and per-rank batch B
  (``batch_size``), and rank r takes its r-th slice of B rows, so the ranks' shards are
  disjoint and together cover the epoch;
* after each backward pass one all-reduce over one flat buffer sums the ranks' weighted
  gradients, g = Σ_r (n_r / n_B) g_r with g_r the mean gradient over rank r's n_r rows of
  the global batch of n_B rows, together with the batch loss Σ_r n_r L_r. g is exactly the
  mean gradient of the whole global batch, so N ranks with batch B take the same steps as
  one process with batch NB (up to floating-point round-off in the order of the sums);
* BatchNorm statistics are those of each rank's B rows (local, the default) or of the
  global batch with ``sync_batchnorm=True`` (the batch sums are all-reduced in the forward
  pass and their gradients in the backward pass);
* the loss, the metrics and the validation results are reduced over the ranks, so every
  rank records the same History and callbacks (early stopping) decide the same way;
* only rank 0 prints progress and writes checkpoints.

The cost per step is one all-reduce of the P parameters' gradients (4P bytes in float32;
a ring all-reduce moves 2 (N − 1)/N · 4P bytes per rank).

The collectives themselves are :mod:`chainrule.distributed`.
"""
from __future__ import annotations

import time

from ..data import DataLoader, DistributedLoader, ParquetDataset, ShardedParquet, Subset
from ..engine import backend
from ..engine import distributed as _dist
from ..engine.autograd import Function
from ..engine.backend import host as np
from ..engine.tensor import wrap


class DataParallel:
    """What data-parallel training adds to a Trainer: sharded loaders, the broadcast of the
    initial weights, the per-step gradient all-reduce, and the reduction of sums and metrics.

    ``bytes_per_step`` is the size of the buffer each step all-reduces; ``comm_seconds``
    and ``comm_steps`` the wall time spent in those all-reduces and their count (for
    benchmarks: it includes waiting for the slowest rank)."""

    def __init__(self):
        self.rank, self.size = _dist.rank(), _dist.world_size()
        self.bytes_per_step = 0
        self.comm_seconds, self.comm_steps = 0.0, 0
        self._buffer = None

    def shard_train(self, loader: DataLoader) -> DistributedLoader:
        """The same data, batch size per rank, shuffle and seed, cut into per-rank shards."""
        if isinstance(loader, (DistributedLoader, ShardedParquet)):
            return loader
        if isinstance(loader, ParquetDataset):  # rank r streams the row groups g ≡ r (mod N)
            return ShardedParquet(loader, self.rank, self.size)
        return DistributedLoader(loader.dataset, loader.batch_size, rank=self.rank,
                                 world_size=self.size, shuffle=loader.shuffle,
                                 drop_last=loader.drop_last, seed=loader.seed)

    def shard_eval(self, loader: DataLoader):
        """A loader over this rank's contiguous block of the rows (None when it has none)."""
        if isinstance(loader, ParquetDataset):
            return loader.shard(self.rank, self.size)
        n = len(loader.dataset)
        start, stop = n * self.rank // self.size, n * (self.rank + 1) // self.size
        if stop == start:
            return None
        return DataLoader(Subset(loader.dataset, np.arange(start, stop)), loader.batch_size, shuffle=False)

    def check_every_rank_has_rows(self, loader, why: str) -> None:
        """Raise ValueError unless every global batch gives every rank at least one row
        (synchronized BatchNorm runs collectives inside the forward pass, which a rank
        without rows would skip)."""
        if isinstance(loader, ShardedParquet):
            empty = [j + 1 for j, rows in enumerate(loader.rows) if not all(rows)]
            if empty:
                raise ValueError(
                    f"Trainer: {why} needs rows on every rank in every step, but the Parquet row "
                    f"groups leave some ranks without rows from step {empty[0]} on; write the file "
                    f"with a number of equal row groups divisible by the {self.size} ranks"
                )
            return
        n, step = len(loader.dataset), loader.batch_size * self.size
        last = n % step
        if not loader.drop_last and 0 < last < self.size:
            raise ValueError(
                f"Trainer: {why} needs rows on every rank in every step, but the last global batch "
                f"has {last} rows for {self.size} ranks ({n} rows, {step} per global batch); pass a "
                f"DataLoader with drop_last=True or change batch_size"
            )

    def broadcast_model(self, model) -> None:
        """Every parameter and buffer takes rank 0's values."""
        tensors = list(model.parameters()) + [b for b in model.buffers() if b is not None]
        for t in tensors:
            if getattr(t.data, "flags", None) is None or t.data.flags.c_contiguous:
                _dist.broadcast_(t.data)
            else:
                t.data[...] = _dist.broadcast_(t.data.copy())

    def reduce_gradients(self, params, n_local: int, total: int, local_loss: float) -> float:
        """One all-reduce of [ (n_r/n_B) g_r | has-gradient flags | n_r L_r ] over the ranks.

        Afterwards every parameter's ``.grad`` is the mean gradient of the global batch (None
        where no rank had one, as in one process) and the return value is its mean loss."""
        sizes = [p.data.size for p in params]
        total_size = sum(sizes)
        buffer = self._buffer_for(params, total_size + len(params) + 1)
        weight = n_local / total
        start = 0
        for position, (p, size) in enumerate(zip(params, sizes)):
            part = buffer[start:start + size]
            if p.grad is None:
                part[...] = 0
                buffer[total_size + position] = 0
            else:
                backend.namespace_of(part).multiply(p.grad.data.reshape(-1), weight, out=part)
                buffer[total_size + position] = 1
            start += size
        buffer[-1] = local_loss * n_local
        started = time.perf_counter()
        _dist.allreduce_(buffer)
        self.comm_seconds += time.perf_counter() - started
        self.comm_steps += 1
        flags = backend.to_host(buffer[total_size:total_size + len(params)])
        start = 0
        for p, size, flag in zip(params, sizes, flags):
            if flag == 0:
                p.grad = None
            else:
                _store_grad(p, buffer[start:start + size].reshape(p.data.shape))
            start += size
        return float(buffer[-1]) / total

    def _buffer_for(self, params, length: int):
        dtypes = {p.data.dtype for p in params}
        dtype = dtypes.pop() if len(dtypes) == 1 else backend.float64
        if self._buffer is None or self._buffer.shape[0] != length or self._buffer.dtype != dtype:
            xp = backend.namespace_of(params[0].data)
            self._buffer = xp.empty(length, dtype=dtype)
            self.bytes_per_step = int(self._buffer.nbytes)
        return self._buffer

    def reduce_sums(self, *values) -> tuple:
        """Σ over ranks of a few numbers (float64)."""
        summed = _dist.allreduce_(np.asarray(values, dtype=np.float64))
        return tuple(float(v) for v in summed)

    def reduce_metric(self, metric) -> None:
        """Replace a metric's accumulators by those of all ranks' rows together."""
        states = _dist.communicator().allgather({k: v for k, v in vars(metric).items() if k != "function"})
        metric.merge(states)


def sync_batchnorms(model) -> list:
    """Make every BatchNorm layer of ``model`` normalize with the statistics of the global
    batch; returns the layers, for :func:`restore_batchnorms`."""
    layers = [m for m in model.modules() if type(m).__name__.startswith("BatchNorm")]
    for layer in layers:
        layer.__dict__["forward"] = _synced_forward(layer)
    return layers


def restore_batchnorms(layers) -> None:
    """Give the layers that :func:`sync_batchnorms` changed their own forward pass back."""
    for layer in layers:
        layer.__dict__.pop("forward", None)


def _store_grad(p, values) -> None:
    """Write reduced gradient values into ``p.grad`` (in place when it is a writable array)."""
    grad = p.grad
    if grad is not None and getattr(grad.data.flags, "writeable", True):  # CuPy arrays are writable
        grad.data[...] = values
    else:
        p.grad = wrap(values.copy())


class _AllReduceSum(Function):
    """y = Σ_r x_r over the ranks; its backward is the same sum of the ranks' gradients,
    since every rank's output depends on every rank's input (∂L/∂x_r = Σ_s ∂L_s/∂y)."""

    op = "allreduce_sum"

    def forward(self, x):
        return _dist.allreduce_(x.copy())

    def backward(self, grad):
        return (_dist.allreduce_(grad.copy()),)


def _synced_forward(layer):
    r"""Batch normalization over all ranks' rows (synchronized BatchNorm):

        μ_c = (1/M) Σ_r Σ_{i∈r} x_ic,   σ²_c = (1/M) Σ_r Σ_{i∈r} (x_ic − μ_c)²,
        y = γ_c (x − μ_c) / √(σ²_c + ε) + β_c,

    M the global count per channel; both sums are all-reduced (differentiably), and the
    running statistics are updated as the layer does, with the unbiased M/(M−1) σ²."""
    local_forward = type(layer).forward.__get__(layer)

    def forward(x):
        if not layer.training or not layer.track_running_stats:
            return local_forward(x)
        channels = x.shape[1]
        axes = (0,) if x.ndim == 2 else (0, 2)
        shape = (1, channels) + (1,) * (x.ndim - 2)
        count = int(_dist.allreduce_(np.asarray([x.data.size // channels], dtype=np.int64))[0])
        if count <= 1:
            raise ValueError(f"sync_batchnorm: expected more than 1 value per channel over all ranks; got {count}")
        mean = _AllReduceSum.apply(x.sum(dim=axes)) / count
        centred = x - mean.reshape(shape)
        var = _AllReduceSum.apply((centred * centred).sum(dim=axes)) / count
        out = centred / (var + layer.eps).sqrt().reshape(shape)
        if layer.weight is not None:
            out = out * layer.weight.reshape(shape) + layer.bias.reshape(shape)
        batches = int(layer.num_batches_tracked.data) + 1
        momentum = 1.0 / batches if layer.momentum is None else layer.momentum
        layer.running_mean.data[...] = (1 - momentum) * layer.running_mean.data + momentum * mean.data
        unbiased = var.data * (count / (count - 1))
        layer.running_var.data[...] = (1 - momentum) * layer.running_var.data + momentum * unbiased
        layer.num_batches_tracked.data[...] = batches
        return out

    return forward
