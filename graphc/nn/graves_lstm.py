"""Graves' LSTM with peephole connections, as DL4J's `GravesLSTM` (its `LSTMHelpers`) computes it.

Weights in DL4J's layout: `kernel` (n_in, 4u), `recurrent_kernel` (u, 4u + 3), `bias` (4u). The
4u columns hold DL4J's gate blocks in its order: cell input `a`, forget `f`, output `o`, input
gate `g`; the 3 extra recurrent columns are the peepholes, in DL4J's order forget, output, input
gate (element-wise weights of the cell state). Per step, with c the previous cell state:

    z = x W + h R[:, :4u] + b
    a = act(z_a)
    f = gate(z_f + c * p_f)          # previous cell state
    g = gate(z_g + c * p_g)          # previous cell state
    c' = f * c + g * a
    o = gate(z_o + c' * p_o)         # the new cell state
    h' = o * act(c')

With `peepholes=False` it is DL4J's `LSTM` (recurrent_kernel (u, 4u), no peephole terms), same
layout and gate order. The forget gate's bias starts at `forget_gate_bias_init` (DL4J's default 1.0). Everything else
(unrolling or Scan, masks, initial and returned states, go_backwards, dropout) is the shared
recurrent machinery of `graphc/nn/recurrent.py`; the gradient is autodiff's over these standard ops.
"""
from __future__ import annotations

from graphc.nn import activations
from graphc.nn.recurrent import _RNN, _Cell, gated_matmul


class GravesLSTMCell(_Cell):
    n_gates, n_states = 4, 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 forget_gate_bias_init=1.0, peepholes=True, **kwargs):
        kwargs["unit_forget_bias"] = False  # the forget bias is set from forget_gate_bias_init below
        super().__init__(units, activation, recurrent_activation, use_bias, **kwargs)
        self.forget_gate_bias_init = float(forget_gate_bias_init)
        self.peepholes = 3 if peepholes else 0

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], 4 * u))
        # DL4J initializes the whole recurrent matrix, peephole columns included, with the layer's init
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (u, 4 * u + self.peepholes), "orthogonal",
                                                key="recurrent")
        self.bias = self.add_weight("bias", (4 * u,), "zeros") if self.use_bias else None
        if self.bias is not None:
            self.bias.value[u:2 * u] = self.forget_gate_bias_init

    def step(self, em, xw, states, rec_masks=None):
        h, c = states
        u = self.units
        rk = em.weight(self.recurrent_kernel)
        w_ifog = em.slice(rk, [0], [4 * u], [1]) if self.peepholes else rk
        z = em.op("Add", xw, gated_matmul(em, h, w_ifog, rec_masks, 4))
        z_a, z_f, z_o, z_g = em.split(z, 4, -1)
        p_f, p_o, p_g = [em.reshape(em.slice(rk, [4 * u + k], [4 * u + k + 1], [1]), [u]) for k in range(3)] \
            if self.peepholes else [None] * 3
        peep = lambda zg, cell, p: zg if p is None else em.op("Add", zg, em.op("Mul", cell, p))
        gate = lambda v: activations.apply(em, self.recurrent_activation, v)
        act = lambda v: activations.apply(em, self.activation, v)
        f = gate(peep(z_f, c, p_f))
        g = gate(peep(z_g, c, p_g))
        c_new = em.op("Add", em.op("Mul", f, c), em.op("Mul", g, act(z_a)))
        o = gate(peep(z_o, c_new, p_o))
        h_new = em.op("Mul", o, act(c_new))
        return h_new, [h_new, c_new]


class GravesLSTM(_RNN):
    """`GravesLSTM(units, activation="tanh", recurrent_activation="sigmoid", forget_gate_bias_init=1.0,
    return_sequences=..., return_state=..., ...)`: inputs (batch, time, features) as every graphc.nn
    recurrent layer; `return_state` gives [output, h, c]."""

    cell_class = GravesLSTMCell

    def __init__(self, units, forget_gate_bias_init=1.0, peepholes=True, **kwargs):
        super().__init__(units, **kwargs)
        self.cell.forget_gate_bias_init = float(forget_gate_bias_init)
        self.cell.peepholes = 3 if peepholes else 0
        self._init_args.update(forget_gate_bias_init=self.cell.forget_gate_bias_init, peepholes=bool(peepholes))
