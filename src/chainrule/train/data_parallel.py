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
* the ranks' weighted gradients are summed, g = Σ_r (n_r / n_B) g_r with g_r the mean
  gradient over rank r's n_r rows of the global batch of n_B rows, together with the batch
  loss Σ_r n_r L_r. g is exactly the mean gradient of the whole global batch, so N ranks with
  batch B take the same steps as one process with batch NB (up to floating-point round-off in
  the order of the sums). How the sum overlaps the backward pass is below ("Gradient
  buckets");
* BatchNorm statistics are those of each rank's B rows (local, the default) or of the
  global batch with ``sync_batchnorm=True`` (the batch sums are all-reduced in the forward
  pass and their gradients in the backward pass);
* the loss, the metrics and the validation results are reduced over the ranks, so every
  rank records the same History and callbacks (early stopping) decide the same way;
* only rank 0 prints progress and writes checkpoints.

The cost per step is the all-reduce of the P parameters' gradients (4P bytes in float32;
a ring all-reduce moves 2 (N − 1)/N · 4P bytes per rank).

Gradient buckets (PyTorch's DistributedDataParallel; Li et al. 2020, "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training"), the default:

* the parameters are grouped into buckets in REVERSE registration order (the order in which
  backward produces their gradients: the last layer's first), a bucket closed once it holds
  at least ``bucket_cap_mb`` megabytes (torch's default 25, with a first bucket of 1 MiB
  when ``bucket_cap_mb`` is not given, so that the first all-reduce starts early),
  parameters of different dtypes in different buckets. Each bucket is one flat buffer:
  [(n_r/n_B) g of each of its parameters | one has-gradient flag per parameter], the last
  bucket also n_r L_r;
* each parameter has a post-accumulate-grad hook (``Tensor.register_post_accumulate_grad_hook``)
  that fires during backward as soon as its ``.grad`` is complete
  (:mod:`chainrule.engine.autograd.backward`) and copies (n_r/n_B) ``.grad`` into its bucket;
  when a bucket's last parameter is in, its non-blocking all-reduce (``MPI_Iallreduce``,
  sum) starts at once, while backward goes on with earlier layers. Buckets start strictly in
  bucket order (a bucket that is complete before an earlier one waits for it), so every
  rank issues the same collectives in the same order, which MPI requires;
* before the optimizer step (:meth:`DataParallel.reduce_gradients`), the buckets not yet
  started are started in order, every request is waited for (``MPI_Waitall``), and each
  parameter's ``.grad`` takes its bucket's sum (None where no rank had a gradient).

The sums are those of the blocking version (``DataParallel(overlap=False)``: one all-reduce
of one buffer after backward) element by element: each element is the sum over ranks of the
same weighted values, so with two ranks (a + b = b + a) the results are equal to the last bit
(tested); with more ranks MPI may associate a sum differently for a different message size.

Unused parameters: a parameter that gets no gradient in a step (a branch not taken, a
rank without rows) never fires its hook, so its bucket does not start during backward; it
starts before the optimizer step, with zeros and a has-gradient flag of 0 for that
parameter, and the step proceeds as in the blocking version (torch needs
``find_unused_parameters=True`` for this, and otherwise fails at the next step; here it
is always handled, at the price of that bucket's overlap). A second gradient for a
parameter after its bucket has started (two backward passes in one step) is refused with
a RuntimeError. GPU (CuPy) parameters take the blocking version.

Without buckets to overlap (``overlap=False``; or ONE bucket, the default for a model under
1 MiB such as W1, which can only start when backward is over, so its hooks would cost and hide
nothing): no hooks are armed; backward is seeded with n_r/n_B when that is a power of two (the
gradients come out exactly weighted, else one pass multiplies them), and the reduction is one
all-reduce IN PLACE of the optimizer's flat gradient (:mod:`chainrule.optim.flat_buffers`),
where backward already left the gradients, after a 2-value all-reduce [has-flat-gradient flag,
n_r L_r] that tells every rank alike whether all ranks have one (else the packed buffer
above, with its has-gradient flags): no copy into a buffer and back (70 µs per W1 step).

``zero_redundancy=True`` (``Trainer(..., zero_redundancy=True)``) shards the optimizer step
instead (ZeRO stage 1: reduce-scatter, each rank updates 1/N of the elements, all-gather):
:mod:`chainrule.train.zero_redundancy`. It takes the place of the buckets.

The collectives themselves are :mod:`chainrule.distributed`.
"""
from __future__ import annotations

import math
import time

from ..data import DataLoader, DistributedLoader, ParquetDataset, ShardedParquet, Subset
from ..engine import backend
from ..engine import distributed as _dist
from ..engine.autograd import Function
from ..engine.backend import host as np
from ..engine.tensor import wrap
from .divergence import global_grad_norm
from .zero_redundancy import ShardedSteps

#: torch's ``dist._DEFAULT_FIRST_BUCKET_BYTES`` and DDP's default ``bucket_cap_mb``
FIRST_BUCKET_BYTES = 1024 * 1024
DEFAULT_BUCKET_CAP_MB = 25.0


class DataParallel:
    """What data-parallel training adds to a Trainer: sharded loaders, the broadcast of the
    initial weights, the per-step gradient all-reduce, and the reduction of sums and metrics.

    ``bucket_cap_mb``: the size of the gradient buckets in MiB (None: torch's defaults, 25
    MiB after a first bucket of 1 MiB); ``overlap=False`` selects the blocking version (one
    all-reduce of all gradients after backward). See the module docstring, "Gradient buckets".
    ``zero_redundancy=True``: sharded optimizer steps (:mod:`chainrule.train.zero_redundancy`).

    ``bytes_per_step`` is the number of bytes each step all-reduces; ``comm_seconds``
    and ``comm_steps`` the wall time the step spends in the all-reduce after backward (the
    blocking all-reduce, or starting the remaining buckets and waiting for all) and the number
    of steps (for benchmarks: it includes waiting for the slowest rank)."""

    def __init__(self, bucket_cap_mb=None, overlap: bool = True, zero_redundancy: bool = False):
        check_bucket_cap_mb(bucket_cap_mb, "DataParallel")
        for name, value in (("overlap", overlap), ("zero_redundancy", zero_redundancy)):
            if not isinstance(value, bool):
                raise ValueError(f"DataParallel: {name} must be True or False; got {value!r}")
        self.rank, self.size = _dist.rank(), _dist.world_size()
        self.bucket_cap_mb, self.overlap = bucket_cap_mb, bool(overlap)
        self.zero_redundancy = zero_redundancy and self.size > 1
        self._sharded = ShardedSteps(_dist.communicator(), self.rank, self.size) if self.zero_redundancy else None
        self._step = None  # with zero_redundancy: (optimizer, n_r/n_B, seeded) from begin_step to reduce_gradients
        self._optimizer, self._seed = None, None  # this step's optimizer; the weight backward is seeded with
        self.bytes_per_step = 0
        self.comm_seconds, self.comm_steps = 0.0, 0
        self._buffer = None
        self._buckets = None

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

    def begin_step(self, params, n_local: int, total: int, local_loss: float, optimizer=None) -> None:
        """Before this step's backward pass: with ``overlap``, arm the gradient buckets of
        ``params`` (built once; hooks registered for this step) with this rank's weight
        n_r/n_B and loss term n_r L_r, so that each bucket's all-reduce starts during backward;
        with ``zero_redundancy``, remember ``optimizer`` and the weight for :meth:`backward`.
        Every rank calls it, also one without rows in this batch (``n_local`` 0).

        Without buckets to overlap (``overlap=False``, or ONE bucket: it can only start when
        backward is over), backward is seeded with n_r/n_B when that is a power of two (equal
        shards on 2, 4, … ranks: the gradients come out exactly weighted) and the reduction
        runs in place on the optimizer's flat gradient (:meth:`reduce_gradients`)."""
        weight = n_local / total
        exact = self.size > 1 and weight > 0 and math.frexp(weight)[0] == 0.5
        self._optimizer, self._seed = optimizer, (weight if exact else None)
        if self._sharded is not None:
            self._step = (optimizer, weight, exact)
            self._sharded.prepare(optimizer, params)
            return
        if not self.overlap or self.size == 1 or not params or any(p.data.__class__ is not np.ndarray for p in params):
            return
        buckets = self._buckets
        if buckets is None or len(buckets.params) != len(params) or any(
                a is not b for a, b in zip(buckets.params, params)):
            buckets = self._buckets = GradientBuckets(list(params), bucket_assignment(params, self.bucket_cap_mb),
                                                      _dist.communicator())
            self.bytes_per_step = buckets.nbytes
        if len(buckets.buckets) > 1:
            self._seed = None
            buckets.begin(weight, local_loss * n_local)

    def backward(self, loss) -> None:
        """``loss.backward()``, seeded with this rank's weight n_r/n_B where :meth:`begin_step`
        chose to (a power of two: the gradients come out weighted exactly as if multiplied
        afterwards, and no pass over them scales them)."""
        if self._seed is None:
            loss.backward()
        else:
            loss.backward(wrap(np.full(loss.data.shape, self._seed, dtype=loss.data.dtype)))

    def reduce_gradients(self, params, n_local: int, total: int, local_loss: float) -> float:
        """After backward: every parameter's ``.grad`` becomes the mean gradient of the global
        batch (None where no rank had one, as in one process); returns its mean loss.

        After :meth:`begin_step`, the buckets not started during backward are started in
        order and all are waited for; otherwise one blocking all-reduce of
        [ (n_r/n_B) g_r | has-gradient flags | n_r L_r ] over the ranks."""
        buckets = self._buckets
        started = time.perf_counter()
        if self._step is not None:
            loss_sum = self._reduce_sharded(params, local_loss * n_local)
        elif buckets is not None and buckets.armed:
            loss_sum = buckets.finish()
        else:
            loss_sum = self._reduce_in_place(params, n_local / total, local_loss * n_local)
        self.comm_seconds += time.perf_counter() - started
        self.comm_steps += 1
        return loss_sum / total

    def _reduce_in_place(self, params, weight: float, loss_term: float) -> float:
        """One all-reduce in place of the optimizer's flat gradient, when every rank's gradients
        are all in its slots (:meth:`chainrule.optim.Optimizer.flat_gradient`): a small
        all-reduce of [has-flat-gradient flag | n_r L_r] decides it for all ranks alike; else
        the packed all-reduce of :meth:`_reduce_blocking`. No copy into a buffer and back."""
        seeded, self._seed = self._seed is not None, None
        optimizer, self._optimizer = self._optimizer, None
        if optimizer is None or not params:  # no optimizer given (on every rank alike): pack
            return self._reduce_blocking(params, 1.0 if seeded else weight, loss_term)
        grad = optimizer.flat_gradient(params)
        small = np.array([0 if grad is None else 1, loss_term], dtype=params[0].data.dtype if params else np.float64)
        _dist.allreduce_(small)
        if small[0] != self.size:
            return self._reduce_blocking(params, 1.0 if seeded else weight, loss_term)
        if not seeded and weight != 1:
            np.multiply(grad, weight, out=grad)
        _dist.allreduce_(grad)
        self.bytes_per_step = int(grad.nbytes + small.nbytes)
        return float(small[1])

    def _reduce_sharded(self, params, loss_term: float) -> float:
        """ZeRO's reduce-scatter, or (every rank alike) the state gathered and the blocking
        all-reduce of gradients that backward already weighted."""
        optimizer, weight, seeded = self._step
        self._step = None
        sharded, loss_sum, scaled = self._sharded.reduce(optimizer, params, 1.0 if seeded else weight, loss_term)
        if sharded:
            self.bytes_per_step = params[0].data.itemsize * sum(int(p.data.size) for p in params)
            return loss_sum
        self._sharded.gather_state(optimizer)
        self._reduce_blocking(params, 1.0 if seeded or scaled else weight, 0.0)
        return loss_sum

    def grad_norm(self, params) -> float:
        """‖g‖₂ of the reduced gradient (every rank alike)."""
        if self._sharded is not None and self._sharded.pending is not None:
            return self._sharded.grad_norm()
        return global_grad_norm(params)

    def step(self, optimizer) -> None:
        """The optimizer step: sharded after a sharded reduction, else ``optimizer.step()``."""
        if self._sharded is not None and self._sharded.pending is not None:
            self._sharded.step(optimizer)
        else:
            optimizer.step()

    def gather_optimizer_state(self, optimizer) -> None:
        """With ``zero_redundancy``: the full optimizer state on every rank (before a checkpoint,
        at the end of ``fit``); every rank calls it."""
        if self._sharded is not None:
            self._sharded.gather_state(optimizer)

    def _reduce_blocking(self, params, weight: float, loss_term: float) -> float:
        sizes = [p.data.size for p in params]
        total_size = sum(sizes)
        buffer = self._buffer_for(params, total_size + len(params) + 1)
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
        buffer[-1] = loss_term
        _dist.allreduce_(buffer)
        flags = backend.to_host(buffer[total_size:total_size + len(params)])
        start = 0
        for p, size, flag in zip(params, sizes, flags):
            if flag == 0:
                p.grad = None
            else:
                _store_grad(p, buffer[start:start + size].reshape(p.data.shape))
            start += size
        return float(buffer[-1])

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


def check_bucket_cap_mb(value, where: str) -> None:
    """Raise ValueError unless ``value`` is None or a positive finite number (of MiB)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not 0 < value < float("inf")):
        raise ValueError(f"{where}: bucket_cap_mb must be None or a positive number; got {value!r}")


def bucket_assignment(params, bucket_cap_mb=None) -> list:
    """The buckets (lists of indices into ``params``) in the order they start: parameters
    taken in reverse order, one open bucket per dtype, a bucket closed as soon as it holds at
    least its limit (``bucket_cap_mb`` MiB; with None, 1 MiB for the first bucket and 25 MiB
    after, as torch's DDP), the buckets ordered by the position of their first parameter."""
    cap = (DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024
    first = FIRST_BUCKET_BYTES if bucket_cap_mb is None else cap
    closed, open_ = [], {}  # dtype -> [indices, bytes]
    for index in range(len(params) - 1, -1, -1):
        data = params[index].data
        bucket = open_.setdefault(data.dtype, [[], 0])
        bucket[0].append(index)
        bucket[1] += data.nbytes
        if bucket[1] >= (first if not closed else cap):
            closed.append(bucket[0])
            del open_[data.dtype]
    buckets = closed + [bucket[0] for bucket in open_.values() if bucket[0]]
    return sorted(buckets, key=lambda indices: -indices[0])


class GradientBuckets:
    """The gradient buckets of a list of parameters and their all-reduces (module docstring,
    "Gradient buckets"): :meth:`begin` before backward, the parameters' hooks during it,
    :meth:`finish` after it. ``started_in_backward`` counts the buckets whose all-reduce
    started during a backward pass (over all steps)."""

    def __init__(self, params: list, assignment: list, comm):
        self.params, self.comm, self.armed = params, comm, False
        self.buckets, self.owner = [], {}
        for number, indices in enumerate(assignment):
            members, start = [], 0
            for k, index in enumerate(indices):
                p = params[index]
                members.append((p, start, p.data.size))
                self.owner[id(p)] = (number, k)
                start += p.data.size
            length = start + len(members) + (1 if number == len(assignment) - 1 else 0)
            buffer = np.zeros(length, dtype=params[indices[0]].data.dtype)
            self.buckets.append(_Bucket(buffer, members, start))
        self.nbytes = sum(int(b.buffer.nbytes) for b in self.buckets)
        self.weight, self.next, self.requests, self.handles = 1.0, 0, [], []
        self.started_in_backward = 0  # buckets whose all-reduce started during backward, all steps

    def begin(self, weight: float, loss_term: float) -> None:
        """Arm for one step: flags cleared, the loss term in the last bucket, hooks on."""
        self.remove_hooks()
        self.weight, self.next, self.requests = weight, 0, []
        for bucket in self.buckets:
            bucket.buffer[bucket.flags:bucket.flags + len(bucket.members)] = 0
            bucket.pending, bucket.started = len(bucket.members), False
        self.buckets[-1].buffer[-1] = loss_term
        self.handles = [p.register_post_accumulate_grad_hook(self.gradient_ready)
                        for p in self.params if p.requires_grad]  # a frozen one: never ready, like an unused one
        self.armed = True

    def gradient_ready(self, p) -> None:
        """``p``'s gradient is complete: (n_r/n_B) p.grad into its bucket; start every bucket
        that is now complete, in bucket order; else let MPI progress the running ones."""
        number, k = self.owner[id(p)]
        bucket = self.buckets[number]
        if bucket.started:
            raise RuntimeError(
                f"DataParallel: a parameter of shape {tuple(p.shape)} received a gradient after its "
                f"bucket's all-reduce had started (two backward passes in one step?); call backward "
                f"once between zero_grad() and the optimizer step"
            )
        _, start, size = bucket.members[k]
        np.multiply(p.grad.data.reshape(-1), self.weight, out=bucket.buffer[start:start + size])
        flag = bucket.flags + k
        if bucket.buffer[flag] == 0:
            bucket.buffer[flag] = 1
            bucket.pending -= 1
        if bucket.pending == 0 and number == self.next:
            self._start_complete_buckets()
        elif self.requests:
            backend.mpi().Request.Testall(self.requests)

    def _start_complete_buckets(self) -> None:
        while self.next < len(self.buckets) and self.buckets[self.next].pending == 0:
            self._start(self.buckets[self.next])

    def _start(self, bucket) -> None:
        MPI = backend.mpi()
        bucket.started = True
        self.requests.append(self.comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM))
        self.next += 1

    def finish(self) -> float:
        """Start the remaining buckets in order (zeros for parameters without a gradient),
        wait for all, store the sums in ``.grad``; returns Σ_r n_r L_r."""
        self.started_in_backward += self.next
        for bucket in self.buckets[self.next:]:
            for k, (_, start, size) in enumerate(bucket.members):
                if bucket.buffer[bucket.flags + k] == 0:
                    bucket.buffer[start:start + size] = 0
            self._start(bucket)
        backend.mpi().Request.Waitall(self.requests)
        self.remove_hooks()
        self.armed, self.requests = False, []
        for bucket in self.buckets:
            for k, (p, start, size) in enumerate(bucket.members):
                if bucket.buffer[bucket.flags + k] == 0:
                    p.grad = None
                else:
                    _store_grad(p, bucket.buffer[start:start + size].reshape(p.data.shape))
        return float(self.buckets[-1].buffer[-1])

    def remove_hooks(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


class _Bucket:
    """One bucket: its flat buffer, its (parameter, start, size) members, where its flags
    start, how many members still lack a gradient this step, whether it has started."""

    __slots__ = ("buffer", "members", "flags", "pending", "started")

    def __init__(self, buffer, members, flags):
        self.buffer, self.members, self.flags = buffer, members, flags
        self.pending, self.started = len(members), False


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
