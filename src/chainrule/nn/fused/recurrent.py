"""A recurrent layer's whole sequence, in one direction, as ONE graph node: the Elman RNN and the GRU.

The input projection x W_ih^T + b_ih of every time step is one matrix product made before the
node (a :class:`~chainrule.nn.fused.linear.Linear` node on all T·B rows); the node takes those
pre-activations ``xproj`` (T, B, G), the initial state h_0 (B, H) and W_hh, and runs the time
loop on arrays. Its output is (T + 1, B, H): the T outputs h_t, then the final state h_n.

**Elman RNN** (``nonlinearity`` tanh or relu; b_hh folded into ``xproj`` by the caller):

    h_t = act(xproj_t + h_{t-1} W_hh^T)

Backward (backpropagation through time; G_t the upstream gradient of h_t, δ_t that of h_t in
total): δ_t = G_t + a_{t+1} W_hh with a_t = δ_t ⊙ act'(h_t) (act' = 1 - h_t² or [h_t > 0]); the
node returns a_t as the gradient of ``xproj``_t, a_1 W_hh for h_0 (δ_T starts from the
gradient of h_n), and dW_hh = Σ_t a_t^T h_{t-1} as ONE matrix product over all steps.

**GRU** (Cho et al. 2014, PyTorch's form; gates r, z, n in this order in W_hh and b_hh):

    r = σ(x_r + W_hr h + b_hr),  z = σ(x_z + W_hz h + b_hz),
    n = tanh(x_n + r ⊙ (W_hn h + b_hn)),  h' = (1 - z) ⊙ n + z ⊙ h.

Backward with δ the gradient of h': dn̂ = δ (1 - z)(1 - n²) (pre-activation of n), dr̂ =
dn̂ ⊙ (W_hn h + b_hn) r(1 - r), dẑ = δ (h - n) z(1 - z); the gradient of the hidden
pre-activations is [dr̂, dẑ, dn̂ ⊙ r], that of ``xproj`` [dr̂, dẑ, dn̂], and
dh = δ z + [dr̂, dẑ, dn̂ ⊙ r] W_hh. The factors that do not depend on δ are computed for all
steps at once before the backward loop.

**Variable lengths.** With ``batch_sizes`` (a PackedSequence's, so non-increasing: the
sequences are sorted by decreasing length) step t updates only the first batch_sizes[t] rows;
the other rows keep their state, so the final state of each sequence is taken at its own
length (in either direction), and their outputs are zero.

**Sigmoids.** σ(x) = (1 + tanh(x/2)) / 2: the r and z columns of ``xproj``, W_hh and b_hh are
halved (exactly, a power of two) once per call, so each step runs ONE tanh over all gate
columns instead of exp, add and reciprocal.

Reference composition (``reference``, used for gradients of gradients and tested equal in
float64): the same loop written with the reference ops (matmul, sigmoid, tanh, cat, stack).
The LSTM node is :mod:`chainrule.nn.fused.lstm`.
"""
from __future__ import annotations

from ...engine import backend, ops
from ...engine.autograd import Function
from ...engine.creation import zeros
from ...engine.tensor import Tensor
from .composed import ComposedBackward

__all__ = ["RecurrentLayer", "RNNLayer", "GRULayer", "step_rows", "merge_rows", "padded_rows", "sigmoid_"]


class RecurrentLayer(ComposedBackward, Function):
    """What the layer nodes share: the steps in the order they run and the rows each updates."""

    def plan_steps(self, steps: int, batch: int, reverse: bool, batch_sizes) -> None:
        """``self.plan``: (t, rows) for each step in running order (backward in time when
        ``reverse``); rows = batch_sizes[t], or the whole batch."""
        sizes = batch_sizes if batch_sizes is not None else (batch,) * steps
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        self.plan = [(t, sizes[t]) for t in order]
        self.batch, self.packed = batch, batch_sizes is not None

    def buffer(self, xp, shape, dtype):
        """A work array; zeroed when some rows of some steps stay unwritten (packed input)."""
        return xp.zeros(shape, dtype) if self.packed else xp.empty(shape, dtype)

    def reference_steps(self, step, h0: Tensor, *states: Tensor):
        """Run ``step(t, rows, h, *states) -> (h', *states')`` over the plan on Tensors: the
        outputs padded with zero rows and stacked (T, B, ·), and the final states."""
        outputs = [None] * len(self.plan)
        current = (h0, *states)
        for t, rows in self.plan:
            new = step(t, rows, *(step_rows(s, rows, self.batch) for s in current))
            outputs[t] = padded_rows(new[0], self.batch)
            current = tuple(merge_rows(n, s, rows, self.batch) for n, s in zip(new, current))
        return ops.stack(outputs), current


def step_rows(t: Tensor, rows: int, batch: int) -> Tensor:
    """The rows a step updates (all of them unless the input is packed)."""
    return t if rows == batch else t[:rows]


def merge_rows(new: Tensor, old: Tensor, rows: int, batch: int) -> Tensor:
    """The state after a step: the updated rows, then the rows that kept their state."""
    return new if rows == batch else ops.cat([new, old[rows:]], 0)


def padded_rows(new: Tensor, batch: int) -> Tensor:
    """A step's output with zero rows for the sequences that have ended."""
    if new.shape[0] == batch:
        return new
    return ops.cat([new, zeros(batch - new.shape[0], new.shape[1], dtype=new.dtype, device=new.device)], 0)


def sigmoid_(a, xp) -> None:
    """In place: a <- σ(2a) = (1 + tanh(a)) / 2 (the caller has halved the pre-activation)."""
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


class RNNLayer(RecurrentLayer):
    """h_t = act(xproj_t + h_{t-1} W_hh^T) over a whole sequence; act = tanh or relu."""

    op = "rnn"
    saves_output = True  # act' is read from the outputs

    def forward(self, xproj, h0, w_hh, *, nonlinearity, reverse=False, batch_sizes=None):
        xp = backend.namespace_of(xproj)
        steps, batch, hidden = xproj.shape
        self.plan_steps(steps, batch, reverse, batch_sizes)
        self.nonlinearity, self.w_hh = nonlinearity, w_hh
        out = self.buffer(xp, (steps + 1, batch, hidden), xproj.dtype)
        hprev = self.buffer(xp, (steps, batch, hidden), xproj.dtype)
        w_t = xp.ascontiguousarray(w_hh.T)
        h = h0.copy()
        for t, rows in self.plan:
            previous, new = hprev[t, :rows], out[t, :rows]
            previous[...] = h[:rows]
            xp.matmul(previous, w_t, out=new)
            new += xproj[t, :rows]
            if nonlinearity == "tanh":
                xp.tanh(new, out=new)
            else:
                xp.maximum(new, 0, out=new)
            h[:rows] = new
        out[steps] = h
        self.out, self.hprev = out, hprev
        return out

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        out, steps = self.out, len(self.plan)
        hidden = out.shape[2]
        if self.nonlinearity == "tanh":
            slope = 1 - out[:steps] * out[:steps]
        else:
            slope = (out[:steps] > 0).astype(out.dtype)
        dh = grad[steps].copy()
        dpre = self.buffer(xp, slope.shape, out.dtype)
        for t, rows in reversed(self.plan):
            d = dpre[t, :rows]
            xp.add(dh[:rows], grad[t, :rows], out=d)
            d *= slope[t, :rows]
            xp.matmul(d, self.w_hh, out=dh[:rows])
        needs = self.needs_input_grad
        grad_w = dpre.reshape(-1, hidden).T @ self.hprev.reshape(-1, hidden) if needs[2] else None
        return dpre, (dh if needs[1] else None), grad_w

    def reference(self, xproj, h0, w_hh):
        act = ops.tanh if self.nonlinearity == "tanh" else ops.relu

        def step(t, rows, h):
            return (act(step_rows(xproj[t], rows, self.batch) + h @ w_hh.mT),)

        outputs, (h,) = self.reference_steps(step, h0)
        return ops.cat([outputs, h.unsqueeze(0)], 0)


class GRULayer(RecurrentLayer):
    """The GRU over a whole sequence: inputs xproj (T, B, 3H) = x W_ih^T + b_ih, h_0, W_hh
    and, with bias, b_hh (which stays inside r ⊙ (W_hn h + b_hn))."""

    op = "gru"

    def forward(self, xproj, h0, w_hh, *b_hh, reverse=False, batch_sizes=None):
        xp = backend.namespace_of(xproj)
        steps, batch, gates = xproj.shape
        hidden = gates // 3
        self.plan_steps(steps, batch, reverse, batch_sizes)
        half = xp.ones(gates, xproj.dtype)
        half[: 2 * hidden] = 0.5
        xs = xproj * half
        w_t = xp.ascontiguousarray((w_hh * half[:, None]).T)
        b_n = None
        if b_hh:  # b_hr, b_hz join the input side once; b_hn stays inside r ⊙ (·)
            xs[..., : 2 * hidden] += b_hh[0][: 2 * hidden] * 0.5
            b_n = b_hh[0][2 * hidden:]
        acts = self.buffer(xp, (steps, batch, gates), xproj.dtype)  # r, z, n
        hhn = self.buffer(xp, (steps, batch, hidden), xproj.dtype)  # W_hn h + b_hn
        hprev = self.buffer(xp, (steps, batch, hidden), xproj.dtype)
        out = self.buffer(xp, (steps + 1, batch, hidden), xproj.dtype)
        h = h0.copy()
        for t, rows in self.plan:
            previous, a = hprev[t, :rows], acts[t, :rows]
            previous[...] = h[:rows]
            xp.matmul(previous, w_t, out=a)
            if b_n is None:
                hhn[t, :rows] = a[:, 2 * hidden:]
            else:
                xp.add(a[:, 2 * hidden:], b_n, out=hhn[t, :rows])
            rz, n = a[:, : 2 * hidden], a[:, 2 * hidden:]
            rz += xs[t, :rows, : 2 * hidden]
            sigmoid_(rz, xp)
            xp.multiply(rz[:, :hidden], hhn[t, :rows], out=n)
            n += xs[t, :rows, 2 * hidden:]
            xp.tanh(n, out=n)
            new = out[t, :rows]
            xp.subtract(previous, n, out=new)
            new *= rz[:, hidden:]
            new += n
            h[:rows] = new
        out[steps] = h
        self.acts, self.hhn, self.hprev, self.w_hh = acts, hhn, hprev, w_hh
        return out

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        acts, hprev, steps = self.acts, self.hprev, len(self.plan)
        hidden = hprev.shape[2]
        r, z, n = acts[..., :hidden], acts[..., hidden: 2 * hidden], acts[..., 2 * hidden:]
        # The factors that do not depend on the upstream gradient, for all steps at once.
        slope_n = (1 - z) * (1 - n * n)  # dn̂ = δ slope_n
        slope_r = r * (1 - r) * self.hhn  # dr̂ = dn̂ slope_r
        slope_z = z * (1 - z) * (hprev - n)  # dẑ = δ slope_z
        dh = grad[steps].copy()
        dxproj = self.buffer(xp, acts.shape, acts.dtype)
        dhh = self.buffer(xp, acts.shape, acts.dtype)  # gradient of h W_hh^T + b_hh
        total = xp.empty_like(dh)
        for t, rows in reversed(self.plan):
            delta, dx, dg = total[:rows], dxproj[t, :rows], dhh[t, :rows]
            xp.add(dh[:rows], grad[t, :rows], out=delta)
            dn = dx[:, 2 * hidden:]
            xp.multiply(delta, slope_n[t, :rows], out=dn)
            xp.multiply(dn, r[t, :rows], out=dg[:, 2 * hidden:])
            xp.multiply(dn, slope_r[t, :rows], out=dg[:, :hidden])
            xp.multiply(delta, slope_z[t, :rows], out=dg[:, hidden: 2 * hidden])
            delta *= z[t, :rows]
            xp.matmul(dg, self.w_hh, out=dh[:rows])
            dh[:rows] += delta
        dxproj[..., : 2 * hidden] = dhh[..., : 2 * hidden]
        return (dxproj, *self.parameter_grads(dh, dhh))

    def parameter_grads(self, dh, dhh):
        """dh_0, dW_hh = Σ_t dhh_t^T h_{t-1} (one product), db_hh = Σ dhh, each where needed."""
        needs, gates = self.needs_input_grad, dhh.shape[2]
        grad_w = dhh.reshape(-1, gates).T @ self.hprev.reshape(-1, self.hprev.shape[2]) if needs[2] else None
        grads = [dh if needs[1] else None, grad_w]
        if len(needs) == 4:
            grads.append(dhh.reshape(-1, gates).sum(axis=0) if needs[3] else None)
        return grads

    def reference(self, xproj, h0, w_hh, *b_hh):
        hidden = w_hh.shape[1]

        def step(t, rows, h):
            x = step_rows(xproj[t], rows, self.batch)
            hh = h @ w_hh.mT
            if b_hh:
                hh = hh + b_hh[0]
            r = ops.sigmoid(x[:, :hidden] + hh[:, :hidden])
            z = ops.sigmoid(x[:, hidden: 2 * hidden] + hh[:, hidden: 2 * hidden])
            n = ops.tanh(x[:, 2 * hidden:] + r * hh[:, 2 * hidden:])
            return ((1 - z) * n + z * h,)

        outputs, (h,) = self.reference_steps(step, h0)
        return ops.cat([outputs, h.unsqueeze(0)], 0)
