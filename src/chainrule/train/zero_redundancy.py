r"""Sharded optimizer steps over MPI ranks (ZeRO stage 1): ``Trainer(..., zero_redundancy=True)``.

Plain data parallelism (:mod:`chainrule.train.data_parallel`) all-reduces the gradient, and
then EVERY rank runs the same optimizer step on ALL P parameters: N copies of the same work
and of the optimizer's state. ZeRO stage 1 (Rajbhandari, Rasley, Ruwase & He 2020, "ZeRO:
memory optimizations toward training trillion parameter models", SC20; DeepSpeed's stage 1)
splits the step instead. With the optimizer's flat buffers (:mod:`chainrule.optim.flat_buffers`:
parameters, gradients and state each one array of P elements in the same layout), h = ⌊P/N⌋
and rank r's block [r h, (r + 1) h):

1. backward writes (n_r/n_B) g_r straight into the flat gradient array (when the weight is a
   power of two, e.g. 1/2 for two equal shards, it is the seed of the backward pass, which
   scales every gradient exactly; else one in-place pass multiplies the array by it);
2. one small all-reduce sums [the last P − N h gradient elements | a has-every-gradient
   flag | n_r L_r] (the flag: this rank's gradients are all in their slots and its state is
   uniform, :meth:`chainrule.optim.Optimizer.flat_gradient`);
3. ``MPI_Reduce_scatter_block`` in place on the first N h elements: rank r receives the sum
   over the ranks of its block (MPI leaves it at the start of the array);
4. the global gradient norm (the divergence check, the History's ``grad_norm``): each rank's
   Σ g² over its block (and rank 0's over the tail) summed by one more small all-reduce;
5. the optimizer updates only rank r's block of the parameters and of its state, and the
   tail (on every rank: those few elements are not worth a message)
   (:meth:`chainrule.optim.Optimizer.step_elements`);
6. ``MPI_Allgather`` in place of the parameters' blocks: every rank has all new parameters.

An all-reduce is a reduce-scatter followed by an all-gather (Rabenseifner's algorithm, what
MPICH uses for large messages), so steps 3 and 6 move the bytes an all-reduce moves; the
optimizer's work and the state that is kept up to date per rank shrink to 1/N. Each
element's arithmetic is that of the unsharded step, and the update rules are elementwise:
with two ranks (a + b = b + a, and a power-of-two weight 1/2 scales a gradient exactly) the
parameters are equal to the unsharded run's to the last bit; with more ranks MPI may
associate the sums differently (tested to 1e-6).

One node. When every rank runs on the same machine (``MPI_COMM_TYPE_SHARED`` holds them all),
the first sharded step moves the optimizer's flat parameters and gradients into one MPI-3
shared-memory window (``MPI_Win_allocate_shared``; every rank can read every rank's arrays),
and steps 3 and 6 become plain array operations: after the small all-reduce (which also says
that every rank's backward is done), rank r adds the others' values of its block into its own
gradient (its own values first, then the others' in rank order), and after its update a barrier
lets each rank copy the others' updated blocks of the parameters. On the 2-core machine this
moves the same bytes in a third of the time of MPI's reduce-scatter and all-gather of W1
(about 50 against 150 µs per step), which are themselves copies through MPI's shared-memory
buffers. The window lives as long as the process (it holds the parameters); ranks on several
nodes use the collectives above.

Differences from PyTorch's ``torch.distributed.optim.ZeroRedundancyOptimizer``: torch wraps
the optimizer, partitions whole PARAMETERS among the ranks (W1's first layer alone is 75% of
its parameters, so the work would not halve), keeps DDP's full all-reduce of the gradients and
broadcasts each rank's parameters after its step, i.e. adds communication to save memory.
Here the shards are ELEMENT ranges of the flat buffers and the gradient is reduce-scattered,
so the bytes moved are an all-reduce's, and it is a Trainer option. What the option gives up:

* the optimizer's state outside this rank's block is stale between steps; it is all-gathered
  (one ``MPI_Allgather`` per state buffer) before a checkpoint is written and at the end of
  ``fit``, so ``state_dict()`` and checkpoints hold the full state there, and resuming is
  exact. Reading ``optimizer.state`` in a callback during ``fit`` sees stale entries;
* after a step, ``.grad`` is not the global gradient (only this rank's block of the sum is
  computed, and it sits at the start of the flat gradient array);
* ``clip_grad_norm`` is not supported with it (refused by the Trainer).

A step falls back to the all-reduce of :mod:`chainrule.train.data_parallel` and the full
optimizer step, on every rank alike (the decision uses the summed flag), when some rank's
gradients or optimizer do not fit: a parameter without a gradient (an unused branch, a rank
without rows), several parameter groups, an optimizer built with ``flatten=False``, GPU
arrays. The state is all-gathered first, so the full step sees the current state everywhere.
"""
from __future__ import annotations

import math

from ..engine import backend
from ..engine.backend import host as np

#: bytes: where each rank's flat arrays start in the shared window (a cache line, an AVX-512 vector)
ALIGNMENT = 64


class ShardedSteps:
    """ZeRO stage 1's reduction, gradient norm, optimizer step and state gathering for one
    DataParallel (module docstring); ``comm`` the MPI communicator of the ``size`` ranks."""

    def __init__(self, comm, rank: int, size: int):
        self.comm, self.rank, self.size = comm, rank, size
        self.pending = None        # (flat gradient, h, where this rank's summed block starts, via the window)
        self.stale_state = False   # the optimizer's state outside this rank's block is out of date
        self.steps = 0             # sharded steps taken (for tests and benchmarks)
        self.window = None         # the shared-memory window of every rank's flat arrays (one node)
        self.shared = None         # per rank: (its flat parameters, its flat gradient) in the window
        self._one_node = None

    def prepare(self, optimizer, params) -> None:
        """Before a step's backward pass, every rank: the first time, when all ranks run on one
        node (MPI_COMM_TYPE_SHARED) and the optimizer's layout fits, move its flat parameters
        and gradients into one MPI shared-memory window (module docstring, "One node")."""
        layout = None if self.window is not None or self._one_node is False or optimizer is None or not params \
            else optimizer.flat_layout(params)
        if layout is None:
            return
        MPI = backend.mpi()
        if self._one_node is None:
            node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
            self._one_node = node.Get_size() == self.size
            node.Free()
            if not self._one_node:
                return
        length, dtype = layout
        slack = ALIGNMENT // dtype.itemsize  # each rank's arrays start on a cache line
        self.window = MPI.Win.Allocate_shared((2 * length + slack) * dtype.itemsize, dtype.itemsize, comm=self.comm)
        self.shared = []
        for owner in range(self.size):
            memory, _ = self.window.Shared_query(owner)
            arrays = np.frombuffer(memory, dtype=dtype, count=2 * length + slack)
            start = (-arrays.ctypes.data % ALIGNMENT) // dtype.itemsize
            self.shared.append((arrays[start:start + length], arrays[start + length:start + 2 * length]))
        self.window.Lock_all(MPI.MODE_NOCHECK)
        optimizer.move_flat_arrays(*self.shared[self.rank])

    def reduce(self, optimizer, params, weight: float, loss_term: float):
        """Steps 2-3, on every rank, the flat gradient first multiplied by ``weight`` (1 when
        backward was seeded with n_r/n_B): returns (sharded, Σ_r n_r L_r, scaled); ``sharded``
        False when this step falls back (then only the loss was reduced, and the gradients were
        multiplied by ``weight`` where ``scaled`` is True)."""
        total = sum(int(p.data.size) for p in params)  # the same on every rank
        h = total // self.size
        tail = total - h * self.size
        grad = optimizer.flat_gradient(params) if params else None
        small = np.zeros(tail + 2, dtype=params[0].data.dtype if params else np.float64)
        scaled = grad is not None and weight != 1
        if grad is not None:
            if scaled:  # before the all-reduce: on one node the others read this array after it
                np.multiply(grad, weight, out=grad)
            small[:tail] = grad[h * self.size:]
            small[tail] = 1
        small[tail + 1] = loss_term
        MPI = backend.mpi()
        if self.window is not None:
            self.window.Sync()  # this rank's gradient written before the others read it
        self.comm.Allreduce(MPI.IN_PLACE, small, op=MPI.SUM)  # also: every rank's backward is done
        if small[tail] != self.size:
            return False, float(small[tail + 1]), scaled
        start, shared = 0, self.shared is not None and grad is self.shared[self.rank][1]
        if shared:
            self.window.Sync()
            start = self.rank * h
            block = grad[start:start + h]
            for owner in range(self.size):  # this rank's own values first, then the others' in rank order
                if owner != self.rank:
                    block += self.shared[owner][1][start:start + h]
        else:
            self.comm.Reduce_scatter_block(MPI.IN_PLACE, grad[:h * self.size], op=MPI.SUM)
        grad[h * self.size:] = small[:tail]
        self.pending = (grad, h, start, shared)
        self.steps += 1
        return True, float(small[tail + 1]), scaled

    def grad_norm(self) -> float:
        """Step 4: ‖g‖₂ of the global gradient (squares summed in its dtype per rank, in float64
        over the ranks; redone in float64 if that overflows, as ``global_grad_norm`` does)."""
        grad, h, start, _ = self.pending
        block, tail = grad[start:start + h], grad[h * self.size:]
        for exact in (False, True):
            parts = (block, tail) if self.rank == 0 else (block,)
            if exact:
                parts = tuple(part.astype(np.float64) for part in parts)
            local = np.array([sum(float(np.vdot(part, part)) for part in parts)])
            self.comm.Allreduce(backend.mpi().IN_PLACE, local, op=backend.mpi().SUM)
            if math.isfinite(local[0]):
                break
        return math.sqrt(local[0])

    def step(self, optimizer) -> None:
        """Steps 5-6: this rank's block and the tail updated, the parameters all-gathered (on one
        node: a barrier, then each rank copies the others' blocks out of the shared window)."""
        grad, h, start, shared = self.pending
        self.pending = None
        first, whole = self.rank * h, h * self.size
        optimizer.step_elements([(first, first + h, start), (whole, grad.shape[0], whole)])
        self.stale_state = True
        if not shared:
            self.comm.Allgather(backend.mpi().IN_PLACE, optimizer.flat_arrays()["params"][:whole])
            return
        self.window.Sync()
        self.comm.Barrier()
        self.window.Sync()
        data = self.shared[self.rank][0]
        for owner in range(self.size):
            if owner != self.rank:
                data[owner * h:(owner + 1) * h] = self.shared[owner][0][owner * h:(owner + 1) * h]
    def gather_state(self, optimizer) -> None:
        """Every rank's blocks of the optimizer's state buffers to every rank (one all-gather
        per buffer), after sharded steps; every rank calls it."""
        if not self.stale_state:
            return
        self.stale_state = False
        arrays = optimizer.flat_arrays()
        whole = arrays["params"].shape[0] // self.size * self.size
        for name in sorted(arrays):
            if name != "params":
                self.comm.Allgather(backend.mpi().IN_PLACE, arrays[name][:whole])
