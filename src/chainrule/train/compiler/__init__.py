"""The step compiler: ``chainrule.compile(fn)`` traces a training step once and replays it.

``fn`` is a whole training step (``zero_grad``, forward, loss, ``backward``, ``step``) or a
forward pass. Its first call runs eagerly while :mod:`.tracer` records every op with its input
and output arrays, the backward pass and the optimizer calls; :mod:`.plan` turns that record
into one generated Python function over raw arrays (forward, backward in the engine's order,
the optimizer's flat-buffer update); later calls (:mod:`.replay`) run that function on the new
arrays: no Tensor, no graph, no heap walk, no per-op checks. :mod:`.guards` decides when a plan
applies: the same input shapes and dtypes, other arguments, grad mode, modules' train/eval
modes and parameters; otherwise the step is traced again. :mod:`.rules` redraws dropout masks,
attention's included (from chainrule's generator, so a seed gives eager's numbers) and recomputes batch-norm
statistics and running averages on every replay.

Replayed steps run the same kernels in the same order as eager execution, so their results
equal eager's to the bit (tests/test_compile.py compares every parameter after 100 steps).

What the compiler cannot capture (docs/09-computation.md, "Compiling a step"):

* Python that reads tensor values: ``item()``, ``bool(t)``, ``float(t)``, ``int(t)``,
  ``numpy()``, ``tolist()``, ``np.asarray(t)`` are REFUSED at trace time with
  :class:`CompileError` (there is no silent fallback to eager): read the returned tensors after
  the call instead;
* Python side effects: they run once, at the trace (counters, appends to lists, printing,
  learning-rate schedulers stepped inside ``fn``: call those outside). Work on raw arrays
  (``t.data``) inside ``fn`` is invisible to the tracer and is not replayed;
* random numbers other than dropout masks (``rand``, ``randn``, ``randperm`` inside ``fn``):
  refused; in-place tensor operations (``add_``, ``t[i] = v``): refused;
  ``backward(create_graph=True)``, ``autograd.grad``, ``step(closure)``: refused;
* tensors made inside ``fn`` from Python values or arrays (``chainrule.tensor(...)``) are
  constants of the plan: pass changing values in as arguments;
* hooks (module and tensor hooks) run at the trace only; ops whose output shape depends on
  values (``nonzero``, ``masked_select``) keep their traced shape downstream only if the
  values give the same shapes;
* a compiled function called inside another one's trace is refused; a trace swaps the
  entry points process-wide, so trace in one thread at a time.

Speed: a replay removes the engine's per-op cost (Tensors, nodes, the walk, argument checks);
every node of the hot ops replays into arrays it keeps from one replay to the next
(:mod:`.kernels`: the Linear [ReLU] chains of MLPs; :mod:`.buffered`: the small elementwise
ops, sums and means, the MSE and cross-entropy losses, the L2 penalty), so a replayed MLP step
allocates no arrays; the optimizer's step is its compiled update over its flat buffers
(:class:`.kernels.ReplayedUpdate`). Where numba runs (not with ``CHAINRULE_NO_NUMBA=1``), a
small chain's forward and backward passes are one compiled call each
(:mod:`.numba_kernels`); large layers fuse bias + ReLU, and the ReLU mask with the bias
gradient's column sums, and the plain cross-entropy's passes between NumPy's ``exp`` and ``log``
are compiled calls. Everything keeps eager's arithmetic, so the bits stay eager's.
benchmarks/README.md has the numbers.
"""
from .replay import CompiledStep, compile_step, forward_backward_step
from .tracer import CompileError

__all__ = ["CompiledStep", "CompileError", "compile_step", "forward_backward_step"]
