"""An LSTM layer's whole sequence, in one direction, as ONE graph node (with PyTorch's projection).

Inputs: ``xproj`` (T, B, 4H) = x W_ih^T + b_ih + b_hh for every step (one matrix product made
before the node), h_0 (B, P), c_0 (B, H), W_hh (4H, P) and, with a projection (PyTorch's
``proj_size`` P < H, Sak et al. 2014), W_hr (P, H); without one P = H. Gates in PyTorch's order
i, f, g, o:

    i, f, o = σ(·), g = tanh(·) of  xproj_t + h_{t-1} W_hh^T
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)            (with a projection: h_t = (o ⊙ tanh(c_t)) W_hr^T)

The output is ONE flat array: the T outputs h_t (T·B·P values), then h_n (B·P), then c_n
(B·H); :func:`split_lstm_output` cuts it into Tensors.

Backward (δ_t the total gradient of h_t, γ the gradient of c_t flowing back): with
ρ = δ_t (or δ_t W_hr with a projection, and dW_hr = Σ_t δ_t^T (o ⊙ tanh c_t)),

    γ_t = γ + ρ ⊙ o (1 - tanh² c_t)
    d[î, f̂, ĝ, ô] = [γ_t g i(1-i),  γ_t c_{t-1} f(1-f),  γ_t i (1-g²),  ρ tanh(c_t) o(1-o)]
    δ_{t-1} = G_{t-1} + d[î f̂ ĝ ô] W_hh,   γ ← γ_t f

d[î f̂ ĝ ô] is the gradient of ``xproj`` and dW_hh = Σ_t d_t^T h_{t-1}, one matrix product over
all steps. Every factor that does not depend on δ or γ is computed for all steps at once
before the loop, so a step costs one matrix product and six array operations.

Variable lengths (``batch_sizes``) and the tanh form of the sigmoids are as in
:mod:`chainrule.nn.fused.recurrent`. Reference composition: the same loop in reference ops.
"""
from __future__ import annotations

from ...engine import backend, ops
from .recurrent import RecurrentLayer, step_rows

__all__ = ["LSTMLayer", "split_lstm_output"]


class LSTMLayer(RecurrentLayer):
    """The LSTM over a whole sequence (see the module docstring)."""

    op = "lstm"

    def forward(self, xproj, h0, c0, w_hh, *w_hr, reverse=False, batch_sizes=None):
        xp = backend.namespace_of(xproj)
        steps, batch, gates = xproj.shape
        hidden, size = gates // 4, w_hh.shape[1]
        self.plan_steps(steps, batch, reverse, batch_sizes)
        scale = xp.full(gates, 0.5, xproj.dtype)
        scale[2 * hidden: 3 * hidden] = 1.0
        shift = scale.copy()
        shift[2 * hidden: 3 * hidden] = 0.0
        xs = xproj * scale
        w_t = xp.ascontiguousarray((w_hh * scale[:, None]).T)
        scale, shift = (xp.ascontiguousarray(xp.broadcast_to(v, (batch, gates))) for v in (scale, shift))
        out = self.buffer(xp, (steps * batch * size + batch * size + batch * hidden,), xproj.dtype)
        outputs = out[: steps * batch * size].reshape(steps, batch, size)
        self.acts = self.buffer(xp, (steps, batch, gates), xproj.dtype)
        self.hprev = self.buffer(xp, (steps, batch, size), xproj.dtype)
        self.cprev = self.buffer(xp, (steps, batch, hidden), xproj.dtype)
        self.tanh_c = self.buffer(xp, (steps, batch, hidden), xproj.dtype)
        self.cell = self.buffer(xp, (steps, batch, hidden), xproj.dtype) if w_hr else None
        h, c = h0.copy(), c0.copy()
        w_hr_t = xp.ascontiguousarray(w_hr[0].T) if w_hr else None
        product = xp.empty_like(c)
        for t, rows in self.plan:
            previous, a = self.hprev[t, :rows], self.acts[t, :rows]
            previous[...] = h[:rows]
            self.cprev[t, :rows] = c[:rows]
            xp.matmul(previous, w_t, out=a)
            a += xs[t, :rows]
            xp.tanh(a, out=a)  # tanh on every column, then (1 + ·) / 2 on those of i, f, o
            a *= scale[:rows]  # full-shape operands: cheaper than broadcasting a row
            a += shift[:rows]
            i, f, g, o = (a[:, k * hidden: (k + 1) * hidden] for k in range(4))
            c_rows, tc = c[:rows], self.tanh_c[t, :rows]
            xp.multiply(i, g, out=product[:rows])
            c_rows *= f
            c_rows += product[:rows]
            xp.tanh(c_rows, out=tc)
            if w_hr:
                xp.multiply(o, tc, out=self.cell[t, :rows])
                xp.matmul(self.cell[t, :rows], w_hr_t, out=outputs[t, :rows])
            else:
                xp.multiply(o, tc, out=outputs[t, :rows])
            h[:rows] = outputs[t, :rows]
        out[steps * batch * size: (steps + 1) * batch * size] = h.reshape(-1)
        out[(steps + 1) * batch * size:] = c.reshape(-1)
        self.w_hh, self.w_hr = w_hh, (w_hr[0] if w_hr else None)
        return out

    def backward(self, grad):
        xp = backend.namespace_of(grad)
        acts, tanh_c, steps, batch = self.acts, self.tanh_c, len(self.plan), self.batch
        hidden, size = tanh_c.shape[2], self.hprev.shape[2]
        outputs_grad, dh, dc = split_lstm_output(grad, steps, batch, size, hidden)
        dh, dc = dh.copy(), dc.copy()
        through_c, factors, factor_o = gate_slopes(acts, tanh_c, self.cprev, xp)
        f = acts[..., hidden: 2 * hidden]
        dgates = self.buffer(xp, acts.shape, acts.dtype)
        dprojected = self.buffer(xp, (steps, batch, size), acts.dtype) if self.w_hr is not None else None
        total, rho, product = xp.empty_like(dh), xp.empty_like(dc), xp.empty_like(dc)
        for t, rows in reversed(self.plan):
            d = dgates[t, :rows]
            delta = total[:rows] if dprojected is None else dprojected[t, :rows]
            xp.add(dh[:rows], outputs_grad[t, :rows], out=delta)
            r = delta
            if dprojected is not None:
                r = xp.matmul(delta, self.w_hr, out=rho[:rows])
            gamma = dc[:rows]
            gamma += xp.multiply(r, through_c[t, :rows], out=product[:rows])
            xp.multiply(gamma[:, None, :], factors[t, :rows], out=d.reshape(rows, 4, hidden)[:, :3])
            xp.multiply(r, factor_o[t, :rows], out=d[:, 3 * hidden:])
            gamma *= f[t, :rows]
            xp.matmul(d, self.w_hh, out=dh[:rows])
        return (dgates, *self.parameter_grads(dh, dc, dgates, dprojected))

    def parameter_grads(self, dh, dc, dgates, dprojected):
        """dh_0, dc_0, dW_hh = Σ_t d_t^T h_{t-1} and dW_hr = Σ_t δ_t^T (o ⊙ tanh c_t), one matrix
        product each, where needed."""
        needs, gates, size = self.needs_input_grad, dgates.shape[2], self.hprev.shape[2]
        grads = [dh if needs[1] else None, dc if needs[2] else None]
        grads.append(dgates.reshape(-1, gates).T @ self.hprev.reshape(-1, size) if needs[3] else None)
        if dprojected is not None:
            cells = self.cell.reshape(-1, self.cell.shape[2])
            grads.append(dprojected.reshape(-1, size).T @ cells if needs[4] else None)
        return grads

    def reference(self, xproj, h0, c0, w_hh, *w_hr):
        hidden = c0.shape[1]

        def step(t, rows, h, c):
            a = step_rows(xproj[t], rows, self.batch) + h @ w_hh.mT
            i, f = ops.sigmoid(a[:, :hidden]), ops.sigmoid(a[:, hidden: 2 * hidden])
            g, o = ops.tanh(a[:, 2 * hidden: 3 * hidden]), ops.sigmoid(a[:, 3 * hidden:])
            c = f * c + i * g
            h = o * ops.tanh(c)
            return (h @ w_hr[0].mT if w_hr else h), c

        outputs, (h, c) = self.reference_steps(step, h0, c0)
        return ops.cat([outputs.reshape(-1), h.reshape(-1), c.reshape(-1)], 0)


def gate_slopes(acts, tanh_c, cprev, xp):
    """The factors of the backward step that do not depend on the upstream gradient, for all
    steps at once: o (1 - tanh² c) (γ_t = γ + ρ ⊙ this), [g i(1-i), c_{t-1} f(1-f), i (1-g²)]
    (times γ_t: d[î f̂ ĝ]) and tanh(c) o(1-o) (times ρ: dô). (Whole-array expressions and one
    stack measure faster here than writing each factor in place into strided slots.)"""
    hidden = tanh_c.shape[-1]
    i, f, g, o = (acts[..., k * hidden: (k + 1) * hidden] for k in range(4))
    through_c = o * (1 - tanh_c * tanh_c)
    factors = xp.stack([g * i * (1 - i), cprev * f * (1 - f), i * (1 - g * g)], axis=-2)
    return through_c, factors, tanh_c * o * (1 - o)


def split_lstm_output(out, steps: int, batch: int, size: int, hidden: int):
    """The flat output of :class:`LSTMLayer` (an array, or the node's Tensor: then the pieces
    are recorded views) as (outputs (T, B, P), h_n (B, P), c_n (B, H))."""
    first, second = steps * batch * size, (steps + 1) * batch * size
    return (out[:first].reshape(steps, batch, size), out[first:second].reshape(batch, size),
            out[second:].reshape(batch, hidden))
