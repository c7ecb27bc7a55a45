"""Direct convolution kernels (numba): no window matrix, a register block of outputs.

This module imports numba at its top: the convolution (:mod:`chainrule.nn.fused.convolution`)
asks :func:`chainrule.nn.kernel_choice.kernels_for` for it and keeps its window-matrix path
(im2col runs and OpenBLAS products) as the fallback and the reference.

Channels-last, on a zero canvas (:func:`chainrule.nn.im2col.place_last`) ``X`` (N, Eh, Ew, C)
and the weight as ``W`` (kh, kw, C, O)::

    Y[n, a, b, o] = bias[o] + sum_{i, j, c} X[n, a sh + i dh, b sw + j dw, c] W[i, j, c, o]   (forward)
    dW[i, j, c, o] = sum_{n, a, b} X[n, a sh + i dh, b sw + j dw, c] G[n, a, b, o]           (weight gradient)

(the input gradient for stride 1 is the forward kernel on G's canvas with the flipped,
channel-swapped kernel, as in the window-matrix path).

Register blocking: :func:`forward_kernel` keeps :data:`PIXELS` output pixels along a row times
:data:`CHANNELS` output channels as scalar accumulators (``a{p}_{o}``) and, for each tap and input
channel, loads the weight's :data:`CHANNELS` values once and multiplies each of the
:data:`PIXELS` input values against them; :func:`weight_kernel` keeps :data:`IN_BLOCK` input
channels times :data:`CHANNELS` output channels of one tap over the pixels of one image. The
block sizes must be constants of the code for LLVM to keep the accumulators in registers, so
the kernels are generated as Python source (:func:`forward_source`, :func:`weight_source`) and
compiled with LLVM's SLP vectorizer on (numba turns it off by default: without it the
unrolled channel loop stays scalar; with it each ``a{p}_0 … a{p}_15`` is one zmm register of
float32 and the update one ``vfmadd`` with a broadcast input value), only for these kernels
(:func:`_compiled`: ``numba.config.SLP_VECTORIZE`` is set while they compile, under a lock).
Output channels past the last full block and pixels past the last full run are done by the
plain loops :func:`forward_rest` and :func:`weight_rest`. Measured on the 2-core Zen 4 machine,
one thread, CPU time, 128 x 16 x 32 x 32 images, 3 x 3 to 16 channels, float32: 6.8 ms for the
forward (with the canvas) against 14.3 ms for the window-matrix path and 9.9 ms for PyTorch's
oneDNN.

Rounding: ``fastmath={"contract"}`` only (multiply-adds fused; no reassociation): each sum is
taken in the order i, j, c (forward) or a, b (weight gradient), starting from the bias (or 0),
so a result does not depend on the thread count or the scheduling. The weight gradient is
summed per image, the images of a part in order, and the parts in order by the caller.

Threads: the kernels are serial (``nogil``) over a run of images [n0, n1); the caller cuts the
batch into one part per thread (:mod:`chainrule.nn.image_threads`), no numba thread pool.
Compilation: two generated kernels (:func:`_load`: their source is written as a module file in
the user's cache directory so that numba caches their machine code on disk), each compiled once
per dtype: about 4 s of CPU each the first time on a machine, then loaded from numba's cache
(0.3 s for all).
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import threading
from pathlib import Path

import numba
import numpy as np
from numba import njit

__all__ = ["JIT_OPTIONS", "PIXELS", "CHANNELS", "IN_BLOCK", "forward", "weight_gradient", "forward_source",
           "weight_source", "uncached_kernel", "compile_vectorized"]

PIXELS = 8  #: output pixels along a row per register block (forward)
CHANNELS = 16  #: output channels per register block
IN_BLOCK = 8  #: input channels per register block (weight gradient)

JIT_OPTIONS = {"error_model": "numpy", "nogil": True, "boundscheck": False, "fastmath": {"contract"}}
_compile_lock = threading.Lock()
_kernels: dict = {}  # name -> the generated dispatcher


@njit(cache=True, **JIT_OPTIONS)
def forward_rest(canvas, weight, bias, out, n, a, b_lo, b_hi, o_lo, o_hi, sh, sw, dh, dw):  # pragma: no cover
    """Y[n, a, b_lo:b_hi, o_lo:o_hi] (see the module docstring), without register blocks."""
    kh, kw, channels = weight.shape[0], weight.shape[1], weight.shape[2]
    for b in range(b_lo, b_hi):
        for o in range(o_lo, o_hi):
            out[n, a, b, o] = bias[o]
        for i in range(kh):
            for j in range(kw):
                for c in range(channels):
                    v = canvas[n, a * sh + i * dh, b * sw + j * dw, c]
                    for o in range(o_lo, o_hi):
                        out[n, a, b, o] += v * weight[i, j, c, o]


@njit(cache=True, **JIT_OPTIONS)
def weight_rest(canvas, grad, out, n, i, j, c_lo, c_hi, o_lo, o_hi, sh, sw, dh, dw, zero):  # pragma: no cover
    """dW[i, j, c_lo:c_hi, o_lo:o_hi] += image n's sum (see the module docstring), without
    register blocks (the sums in memory, the output channels the inner, vectorized loop)."""
    oh, ow = grad.shape[1], grad.shape[2]
    total = np.full((c_hi - c_lo, o_hi - o_lo), zero)
    for a in range(oh):
        for b in range(ow):
            for c in range(c_lo, c_hi):
                v = canvas[n, a * sh + i * dh, b * sw + j * dw, c]
                for o in range(o_lo, o_hi):
                    total[c - c_lo, o - o_lo] += v * grad[n, a, b, o]
    for c in range(c_lo, c_hi):
        for o in range(o_lo, o_hi):
            out[i, j, c, o] += total[c - c_lo, o - o_lo]


def forward_source(pixels: int = PIXELS, channels: int = CHANNELS) -> str:
    """The source of the forward kernel ``kernel(canvas, weight, bias, out, n0, n1, sh, sw, dh, dw)``:
    out (N, oh, ow, O)[n0:n1] = the convolution of canvas (N, Eh, Ew, C) with weight (kh, kw, C, O), + bias."""
    acc = [[f"a{p}_{o}" for o in range(channels)] for p in range(pixels)]
    lines = ["def kernel(canvas, weight, bias, out, n0, n1, sh, sw, dh, dw):",
             "    kh, kw, cin, cout = weight.shape",
             "    oh, ow = out.shape[1], out.shape[2]",
             f"    full_o, full_b = cout - cout % {channels}, ow - ow % {pixels}",
             "    for n in range(n0, n1):",
             "        for a in range(oh):",
             f"            for o0 in range(0, full_o, {channels}):",
             f"                for b0 in range(0, full_b, {pixels}):"]
    lines += [f"                    {acc[p][o]} = bias[o0 + {o}]" for p in range(pixels) for o in range(channels)]
    lines += ["                    for i in range(kh):",
              "                        r = a * sh + i * dh",
              "                        for j in range(kw):",
              "                            col = b0 * sw + j * dw",
              "                            for c in range(cin):"]
    lines += [f"                                w{o} = weight[i, j, c, o0 + {o}]" for o in range(channels)]
    lines += [f"                                x{p} = canvas[n, r, col + {p} * sw, c]" for p in range(pixels)]
    lines += [" " * 32 + f"{acc[p][o]} += x{p} * w{o}" for p in range(pixels) for o in range(channels)]
    lines += [" " * 20 + f"out[n, a, b0 + {p}, o0 + {o}] = {acc[p][o]}" for p in range(pixels) for o in range(channels)]
    lines += ["            rest(canvas, weight, bias, out, n, a, full_b, ow, 0, full_o, sh, sw, dh, dw)",
              "            rest(canvas, weight, bias, out, n, a, 0, ow, full_o, cout, sh, sw, dh, dw)"]
    return "\n".join(lines) + "\n"


def weight_source(in_block: int = IN_BLOCK, channels: int = CHANNELS) -> str:
    """The source of the weight-gradient kernel ``kernel(canvas, grad, out, n0, n1, sh, sw, dh, dw, zero)``:
    out (kh, kw, C, O) += the sum over images [n0, n1) of dW (``zero``: 0 in the dtype)."""
    acc = [[f"s{q}_{o}" for o in range(channels)] for q in range(in_block)]
    lines = ["def kernel(canvas, grad, out, n0, n1, sh, sw, dh, dw, zero):",
             "    kh, kw, cin, cout = out.shape",
             "    oh, ow = grad.shape[1], grad.shape[2]",
             f"    full_c, full_o = cin - cin % {in_block}, cout - cout % {channels}",
             "    for n in range(n0, n1):",
             "        for i in range(kh):",
             "            for j in range(kw):",
             f"                for c0 in range(0, full_c, {in_block}):",
             f"                    for o0 in range(0, full_o, {channels}):"]
    lines += [f"                        {acc[q][o]} = zero" for q in range(in_block) for o in range(channels)]
    lines += ["                        for a in range(oh):",
              "                            r = a * sh + i * dh",
              "                            for b in range(ow):",
              "                                col = b * sw + j * dw"]
    lines += [f"                                g{o} = grad[n, a, b, o0 + {o}]" for o in range(channels)]
    lines += [f"                                x{q} = canvas[n, r, col, c0 + {q}]" for q in range(in_block)]
    lines += [" " * 32 + f"{acc[q][o]} += x{q} * g{o}" for q in range(in_block) for o in range(channels)]
    lines += [f"                        out[i, j, c0 + {q}, o0 + {o}] += {acc[q][o]}"
              for q in range(in_block) for o in range(channels)]
    lines += ["                rest(canvas, grad, out, n, i, j, 0, full_c, full_o, cout, sh, sw, dh, dw, zero)",
              "                rest(canvas, grad, out, n, i, j, full_c, cin, 0, cout, sh, sw, dh, dw, zero)"]
    return "\n".join(lines) + "\n"


def _generated(name: str):
    """The dispatcher of kernel ``name`` ("forward" or "weight"), generated on first use."""
    kernel = _kernels.get(name)
    if kernel is None:
        with _compile_lock:
            kernel = _kernels.get(name)
            if kernel is None:
                kernel = _kernels[name] = _load(name)
    return kernel


def _load(name: str):
    """Kernel ``name`` from its generated source, written as a module file
    (``direct_convolution_<name>_<digest>.py`` in :func:`_source_directory`, the digest of
    everything the machine code depends on) so that numba can cache its machine code; from
    ``exec`` (compiled again in every process) where that directory cannot be written."""
    source, rest = (forward_source(), forward_rest) if name == "forward" else (weight_source(), weight_rest)
    header = (f'"""Generated by {__name__} ({name} kernel); do not edit."""\n'
              f"from numba import njit\n\nfrom {__name__} import JIT_OPTIONS, {rest.__name__} as rest\n\n\n"
              "@njit(cache=True, **JIT_OPTIONS)\n")
    text = header + source
    digest = hashlib.sha1((text + inspect.getsource(rest.py_func) + repr(JIT_OPTIONS)).encode()).hexdigest()[:16]
    try:
        path = _source_directory() / f"direct_convolution_{name}_{digest}.py"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(text)
            os.replace(temporary, path)
        module_name = f"chainrule_direct_convolution_{name}_{digest}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = sys.modules[module_name] = importlib.util.module_from_spec(spec)  # numba's cache imports it
        spec.loader.exec_module(module)
        return module.kernel
    except OSError:
        return uncached_kernel(name)


def _source_directory() -> Path:
    """Where the generated kernels' source files go (numba caches their machine code in its
    ``__pycache__``): ``$NUMBA_CACHE_DIR/chainrule`` when set, else ``chainrule`` in the user's
    cache directory (``$XDG_CACHE_HOME``, or ``~/.cache``; OSError without one); never inside
    the package."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if home == "~":  # no home directory: no cache
            raise OSError("no cache directory")
        base = os.path.join(home, ".cache")
    return Path(base) / "chainrule"


def uncached_kernel(name: str):
    """Kernel ``name`` ("forward" or "weight") from ``exec`` of its source: compiled again in
    every process (its machine code can be inspected, unlike cached code)."""
    source, rest = (forward_source(), forward_rest) if name == "forward" else (weight_source(), weight_rest)
    namespace = {"rest": rest}
    exec(compile(source, f"<{__name__}: {name}>", "exec"), namespace)  # noqa: S102
    return njit(**JIT_OPTIONS)(namespace["kernel"])


def _compiled(name: str, args: tuple):
    """Kernel ``name`` compiled for the types of ``args`` (:func:`compile_vectorized`)."""
    kernel = _generated(name)
    compile_vectorized(kernel, args)
    return kernel


def compile_vectorized(kernel, args: tuple) -> None:
    """Compile ``kernel`` (a numba dispatcher) for the types of ``args`` unless done, with LLVM's
    SLP vectorizer on while it compiles (see the module docstring)."""
    types = tuple(numba.typeof(arg) for arg in args)
    if types not in kernel.overloads:
        with _compile_lock:
            if types not in kernel.overloads:
                previous = numba.config.SLP_VECTORIZE
                numba.config.SLP_VECTORIZE = 1
                try:
                    kernel.compile(types)
                finally:
                    numba.config.SLP_VECTORIZE = previous


def forward(canvas, weight, bias, out, n0: int, n1: int, stride: tuple, dilation: tuple) -> None:
    """out[n0:n1] (N, oh, ow, O), C-contiguous = the convolution of canvas[n0:n1] (N, Eh, Ew, C)
    with weight (kh, kw, C, O) (C-contiguous), + bias (O,) (see the module docstring)."""
    args = (canvas, weight, bias, out, int(n0), int(n1), int(stride[0]), int(stride[1]),
            int(dilation[0]), int(dilation[1]))
    _compiled("forward", args)(*args)


def weight_gradient(canvas, grad, out, n0: int, n1: int, stride: tuple, dilation: tuple) -> None:
    """out (kh, kw, C, O), C-contiguous += the sum over images [n0, n1) of canvas (N, Eh, Ew, C)'s
    windows times grad (N, oh, ow, O), C-contiguous (see the module docstring)."""
    args = (canvas, grad, out, int(n0), int(n1), int(stride[0]), int(stride[1]), int(dilation[0]),
            int(dilation[1]), out.dtype.type(0))
    _compiled("weight", args)(*args)
