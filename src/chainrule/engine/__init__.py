"""The engine: arrays that record how they were computed, and the chain rule run backwards.

Layer 1 of chainrule (docs/architecture.md); it imports nothing from the layers above.

backend        the array library per device (NumPy on "cpu", CuPy on "cuda"); the only module
               that imports an array library, cupy or mpi4py at module level
random         the one random generator (manual_seed)
tensor         Tensor: data, grad, requires_grad, grad_fn, version counter;
               tensor(), as_tensor(): Tensors from data
tensor_methods the methods and operators a Tensor inherits, each forwarding to an op
linalg_namespace  chainrule.linalg, as torch.linalg
inplace        in-place ops (add_, t[i] = v …) with PyTorch's version-counter rule
creation       zeros, ones, full, arange, linspace, eye, rand, randn …
autograd/      Function (forward and backward on raw arrays), backward (the graph walk),
               grad mode, gradcheck, anomaly detection, gradient slots
ops/           the differentiable primitives, one small Function per op
compiled       whether the optional compiled (numba) kernels may run
distributed    MPI collectives (many processes, one job)
serialization  safetensors checkpoints and atomic file writes
"""
from . import tensor  # first: autograd and ops build on Tensor

# isort: split
from . import autograd, backend, creation, ops, random
