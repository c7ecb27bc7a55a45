"""Compiled (numba) optimizer updates: one fused pass over a contiguous run of parameters.

This module imports numba at the top, so it is itself the optional part: the optimizers
import it lazily through :func:`chainrule.optim.kernels.compiled_kernels`, which returns
None when numba is missing or ``CHAINRULE_NO_NUMBA=1`` is set, and they then run the same
update as a handful of in-place NumPy calls.

Each kernel performs exactly the arithmetic of its NumPy twin (in ``sgd.py``, ``adam.py``
…), operation by operation and in the same order, on scalars that the caller has already
cast to the arrays' dtype (a float64 scalar would turn a float32 loop into a float64 one).
Without ``fastmath`` the compiler may neither reassociate nor fuse multiply-adds, and IEEE
arithmetic and square roots are correctly rounded. Both paths therefore give
bit-identical results on the machines we test on.

Why these flags (measured on the 2-core development machines; figures in the module
docstring of ``kernels.py``):

* ``error_model="numpy"``: with numba's default ("python") error model every float
  division checks for zero to raise ``ZeroDivisionError``, and that check stops LLVM from
  vectorizing the loop. The Adam loop over 269,322 float32 values takes 480 µs with the
  check and 150 µs without it; NumPy's in-place chain takes 570 µs.
* no ``fastmath``: it bought nothing here (150 µs either way) and would let results
  differ from the NumPy path (fused multiply-adds, NaN handling in AMSGrad's maximum).
* no ``parallel=True``: a parallel loop over both cores took 58 µs on an idle machine.
  Right after an OpenBLAS matmul (whose threads spin while waiting for work), or beside
  another busy process, its threads wait on each other for whole scheduler time slices:
  5-12 ms per step, and the matmuls slowed down too.
* ``cache=True``: the compiled machine code is stored in ``__pycache__`` beside this file,
  so a new process loads it instead of compiling again. Compiling all eight kernels
  (four updates x float32/float64) takes about 2.4 s once. Every process still pays
  about 1 s: 0.4 s to import numba and 0.6 s to set up its code generator at the first
  call. ``COMPILED_MIN_SIZE`` in ``kernels.py`` keeps small models from paying it.

All arrays are 1-D and C-contiguous. Buffers that an option does not use are passed as a
zero-length array and never touched.
"""
from __future__ import annotations

import math

from numba import njit

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_JIT)
def sgd(param, grad, momentum_buffer, lr, weight_decay, momentum, dampening_complement,
        use_momentum, init_buffer, nesterov, velocity):  # pragma: no cover - compiled
    for i in range(param.size):
        d = grad[i]
        if weight_decay != 0:
            d = param[i] * weight_decay + d
        if not use_momentum:
            param[i] = param[i] - d * lr
        elif velocity:  # momentum_buffer holds V_t
            a = d * lr
            if init_buffer:
                v = -a
            else:
                v = momentum_buffer[i] * momentum - a * dampening_complement
            momentum_buffer[i] = v
            if nesterov:
                p = param[i] + v * momentum
                param[i] = p - a
            else:
                param[i] = param[i] + v
        else:
            if init_buffer:
                b = d
            else:
                b = momentum_buffer[i] * momentum + d * dampening_complement
            momentum_buffer[i] = b
            if nesterov:
                d = b * momentum + d
            else:
                d = b
            param[i] = param[i] - d * lr


@njit(**_JIT)
def adagrad(param, grad, state_sum, clr, weight_decay, eps):  # pragma: no cover - compiled
    for i in range(param.size):
        d = grad[i]
        if weight_decay != 0:
            d = param[i] * weight_decay + d
        s = state_sum[i] + d * d
        state_sum[i] = s
        denom = math.sqrt(s) + eps
        if eps == 0 and denom == 0:  # only with eps = 0: G_t = 0 leaves the coordinate as it is
            continue
        param[i] = param[i] - d / denom * clr


@njit(**_JIT)
def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, one_minus_alpha,
            eps, weight_decay, momentum, centered, use_momentum):  # pragma: no cover - compiled
    for i in range(param.size):
        d = grad[i]
        if weight_decay != 0:
            d = param[i] * weight_decay + d
        v = square_avg[i] * alpha + d * d * one_minus_alpha
        square_avg[i] = v
        if centered:
            a = grad_avg[i] * alpha + d * one_minus_alpha
            grad_avg[i] = a
            avg = math.sqrt(v - a * a) + eps
        else:
            avg = math.sqrt(v) + eps
        if use_momentum:
            b = momentum_buffer[i] * momentum + d / avg
            momentum_buffer[i] = b
            param[i] = param[i] - b * lr
        else:
            param[i] = param[i] - d / avg * lr


@njit(**_JIT)
def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, beta1, beta2,
         one_minus_beta1, one_minus_beta2, bias_correction2, bias_correction2_sqrt, eps,
         weight_decay, decay_factor, decoupled, amsgrad, eps_inside_sqrt):  # pragma: no cover - compiled
    for i in range(param.size):
        d = grad[i]
        p = param[i]
        if weight_decay != 0:
            if decoupled:
                p = p * decay_factor
            else:
                d = p * weight_decay + d
        m = exp_avg[i] * beta1 + d * one_minus_beta1
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2 + d * d * one_minus_beta2
        exp_avg_sq[i] = v
        if amsgrad:
            largest = max_exp_avg_sq[i]
            if largest > v or math.isnan(largest):  # as numpy.maximum: NaN wins
                v = largest
            max_exp_avg_sq[i] = v
        if eps_inside_sqrt:
            denom = math.sqrt(v / bias_correction2 + eps)
        else:
            denom = math.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p - m / denom * step_size
