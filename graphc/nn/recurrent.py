"""Recurrent layers: SimpleRNN, LSTM, GRU (reset_after both ways) and their cells.

The input projection for all steps is one MatMul; then each step adds the recurrent MatMul and
the gates. Over a time axis of known length the steps are unrolled (ONNX Runtime runs the flat
graph fastest); over one of unknown length (`Input((None, features))`) the same step is the body
of one ONNX `Scan`, whose weights are read from the outer graph. Masks follow Keras: a masked step
keeps the previous state and repeats the previous output (zeros with `zero_output_for_mask`, which
Bidirectional sets when returning sequences); `go_backwards` processes and returns the steps in
reverse order.

In a training graph `dropout` and `recurrent_dropout` act as in Keras: one keep mask per sequence
(not per step) on the inputs and on the previous output read by the recurrent product; with
recurrent dropout (Keras's implementation 1) each gate gets masks of its own.
"""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.nn import activations
from graphc.nn.base import Emitter, Layer, weight_objects
from graphc.nn.regularization import keep_scale
from graphc.types import TensorType


class _Cell(Layer):
    n_gates = 1
    n_states = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, **kwargs):
        self.unit_forget_bias = bool(kwargs.pop("unit_forget_bias", True))
        kwargs.pop("reset_after", None)
        super().__init__(**kwargs)
        self.units, self.use_bias = int(units), bool(use_bias)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)

    def build(self, input_shape):
        g = self.n_gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], g))
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, g), "orthogonal", key="recurrent")
        self.bias = self.add_weight("bias", self.bias_shape(), "zeros") if self.use_bias else None
        if self.bias is not None and self.n_gates == 4 and self.unit_forget_bias:
            self.bias.value[self.units:2 * self.units] = 1.0  # Keras: the forget gate's bias starts at one

    def bias_shape(self):
        return (self.n_gates * self.units,)

    def input_projection(self, em, x, masks=None):
        """x @ kernel (+ input bias) for every step at once: (B, T, gates*units)."""
        y = gated_matmul(em, x, em.weight(self.kernel), masks, self.n_gates)
        if self.bias is not None:
            y = em.op("Add", y, em.weight(self.bias))
        return y


class SimpleRNNCell(_Cell):
    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, activation, "sigmoid", use_bias, **kwargs)

    def step(self, em, xw, states, rec_masks=None):
        rec = gated_matmul(em, states[0], em.weight(self.recurrent_kernel), rec_masks, 1)
        h = activations.apply(em, self.activation, em.op("Add", xw, rec))
        return h, [h]


class LSTMCell(_Cell):
    n_gates, n_states = 4, 2

    def step(self, em, xw, states, rec_masks=None):
        h, c = states
        z = em.op("Add", xw, gated_matmul(em, h, em.weight(self.recurrent_kernel), rec_masks, 4))
        i, f, g, o = em.split(z, 4, -1)  # Keras's gate order: input, forget, cell, output
        ra = lambda v: activations.apply(em, self.recurrent_activation, v)
        c = em.op("Add", em.op("Mul", ra(f), c), em.op("Mul", ra(i), activations.apply(em, self.activation, g)))
        h = em.op("Mul", ra(o), activations.apply(em, self.activation, c))
        return h, [h, c]


class GRUCell(_Cell):
    n_gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True,
                 **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, **kwargs)
        self.reset_after = bool(reset_after)

    def bias_shape(self):
        # reset_after keeps separate input and recurrent biases (2, 3u)
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_projection(self, em, x, masks=None):
        y = gated_matmul(em, x, em.weight(self.kernel), masks, 3)
        if self.bias is not None:
            b = em.weight(self.bias)
            y = em.op("Add", y, em.op("Gather", b, em.ints(0), axis=0) if self.reset_after else b)
        return y

    def step(self, em, xw, states, rec_masks=None):
        h = states[0]
        u = self.units
        ra = lambda v: activations.apply(em, self.recurrent_activation, v)
        xz, xr, xh = em.split(xw, 3, -1)
        rk = em.weight(self.recurrent_kernel)
        if self.reset_after:
            inner = gated_matmul(em, h, rk, rec_masks, 3)
            if self.bias is not None:
                inner = em.op("Add", inner, em.op("Gather", em.weight(self.bias), em.ints(1), axis=0))
            hz, hr, hh = em.split(inner, 3, -1)
            z, r = ra(em.op("Add", xz, hz)), ra(em.op("Add", xr, hr))
            cand = activations.apply(em, self.activation, em.op("Add", xh, em.op("Mul", r, hh)))
        else:
            rk_zr = em.slice(rk, [0], [2 * u], [1])
            rk_h = em.slice(rk, [2 * u], [3 * u], [1])
            hz, hr = em.split(gated_matmul(em, h, rk_zr, rec_masks and rec_masks[:2], 2), 2, -1)
            z, r = ra(em.op("Add", xz, hz)), ra(em.op("Add", xr, hr))
            h_h = em.op("Mul", h, rec_masks[2]) if rec_masks else h
            cand = activations.apply(em, self.activation,
                                     em.op("Add", xh, em.op("MatMul", em.op("Mul", r, h_h), rk_h)))
        one = em.const(np.float32(1.0))
        h = em.op("Add", em.op("Mul", z, h), em.op("Mul", em.op("Sub", one, z), cand))
        return h, [h]


class _RNN(Layer):
    cell_class = SimpleRNNCell
    call_args = ("sequences", "initial_state", "mask", "training")
    supports_masking = True

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False,
                 zero_output_for_mask=False, name=None, trainable=True, **kwargs):
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs)
                       if k in ("activation", "recurrent_activation", "use_bias", "reset_after", "unit_forget_bias")}
        self.dropout = min(1.0, max(0.0, float(kwargs.pop("dropout", 0.0))))
        self.recurrent_dropout = min(1.0, max(0.0, float(kwargs.pop("recurrent_dropout", 0.0))))
        self.seed = kwargs.pop("seed", None)
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._init_args = dict(units=units, return_sequences=return_sequences, return_state=return_state,
                               zero_output_for_mask=zero_output_for_mask, dropout=self.dropout,
                               recurrent_dropout=self.recurrent_dropout, seed=self.seed, **cell_kwargs)
        self.units = int(units)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.zero_output_for_mask = bool(go_backwards), bool(zero_output_for_mask)
        self.cell = self.cell_class(units, name=f"{snake(type(self).__name__)}_cell", **cell_kwargs)
        self.cell.keras_objects.update(weight_objects(self))  # the cell makes the weights Keras configures here

    def reversed_copy(self, name):
        """The same layer processing the other way (Bidirectional's default backward layer)."""
        return type(self)(go_backwards=not self.go_backwards, name=name, **self._init_args, **self.keras_objects)

    def sublayers(self):
        return [("cell", self.cell)]

    def build(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        self.cell.build(shape)
        self.cell.built = True

    def call(self, em, x, mask=None, initial_state=None):
        if isinstance(x, list):  # [inputs, *initial_state] as Keras 2 serializes it
            x, initial_state = x[0], x[1:]
        if isinstance(mask, list):
            mask = mask[0]
        shape = em.shape(x)
        steps = shape[1]
        cell = self.cell
        # Keras's implementation 1 (forced by recurrent dropout) draws a mask per gate
        per_gate = cell.n_gates if self.recurrent_dropout > 0 else 1
        xw = cell.input_projection(em, x, self._masks(em, x, self.dropout, [None, 1, None], per_gate, 0))
        batch = shape[0]
        if initial_state is None:
            zeros = self._zeros(em, x, batch)
            states = [zeros] * cell.n_states
        else:
            states = list(initial_state) if isinstance(initial_state, list) else [initial_state]
        rec_masks = self._masks(em, states[0], self.recurrent_dropout, None, cell.n_gates, per_gate)
        if not isinstance(steps, int):
            return self._scan(em, xw, states, mask, batch, steps, rec_masks)
        zero_out = self._zeros(em, x, batch) if mask is not None else None
        prev_out = zero_out
        outputs = []
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            xt = em.op("Gather", xw, em.ints(t), axis=1)
            out, new_states = cell.step(em, xt, states, rec_masks)
            if mask is not None:
                keep = em.unsqueeze(em.op("Gather", mask, em.ints(t), axis=1), [1])
                new_states = [em.op("Where", keep, n, s) for n, s in zip(new_states, states)]
                out = em.op("Where", keep, out, zero_out if self.zero_output_for_mask else prev_out)
                prev_out = out
            states = new_states
            outputs.append(out)
        if self.return_sequences:
            y = em.concat([em.unsqueeze(o, [1]) for o in outputs], 1)
        else:
            y = outputs[-1]
        return [y] + states if self.return_state else y

    def _masks(self, em, like, rate, noise_shape, count, first):
        """`count` dropout keep masks shaped by `like` in a training graph (None otherwise); a
        seeded layer seeds them seed + first, seed + first + 1, ... so that they differ."""
        if not em.training or not 0.0 < rate < 1.0:
            return None
        return [keep_scale(em, like, rate, noise_shape, None if self.seed is None else self.seed + first + i)
                for i in range(count)]

    def _scan(self, em, xw, states, mask, batch, steps, rec_masks=None):
        """The recurrence as one ONNX Scan, for a time axis whose length is known only at run time.

        Carried: the cell's states, then the last output (a masked step repeats it, or gives
        zeros with `zero_output_for_mask`); scanned: the projected inputs (and the mask) along
        axis 1, backwards for `go_backwards`, so the outputs come out in processing order as in
        Keras.
        """
        cell, units = self.cell, self.units
        state_t = TensorType(np.float32, (batch, units))
        body = Graph(f"{self.name}_step")
        body.opset_imports = dict(em.graph.opset_imports)
        bem = _BodyEmitter(body, em)
        bem.scope = em.scope
        carried = [body.add_input(f"{self.name}_state{i}", state_t) for i in range(cell.n_states)]
        last = body.add_input(f"{self.name}_last", state_t)
        xt = body.add_input(f"{self.name}_x", TensorType(np.float32, (batch, em.shape(xw)[-1])))
        keep = body.add_input(f"{self.name}_mask", TensorType(np.bool_, (batch,))) if mask is not None else None
        if rec_masks:
            rec_masks = [bem.capture(m, f"capture_{self.name}/recurrent_mask{i}") for i, m in enumerate(rec_masks)]
        out, new_states = cell.step(bem, xt, carried, rec_masks)
        if keep is not None:
            keep = bem.unsqueeze(keep, [1])
            new_states = [bem.op("Where", keep, n, c) for n, c in zip(new_states, carried)]
            fill = bem.op("ConstantOfShape", bem.op("Shape", out), value=np.zeros(1, np.float32)) \
                if self.zero_output_for_mask else last
            out = bem.op("Where", keep, out, fill)
        for i, v in enumerate(new_states):
            body.add_output(f"{self.name}_state{i}_next", v)
        body.add_output(f"{self.name}_last_next", out)
        body.add_output(f"{self.name}_y", bem.op("Identity", out))
        scanned = [xw] + ([mask] if mask is not None else [])
        direction = [1 if self.go_backwards else 0] * len(scanned)
        n_carried = cell.n_states + 1
        outs = em.op("Scan", *states, self._zeros(em, xw, batch), *scanned, *bem.captured, n_outputs=n_carried + 1,
                     outputs=[state_t] * n_carried + [TensorType(np.float32, (batch, steps, units))],
                     body=body, num_scan_inputs=len(scanned), scan_input_axes=[1] * len(scanned),
                     scan_input_directions=direction, scan_output_axes=[1], captures=len(bem.captured))
        final_states, y_last, y_seq = outs[:cell.n_states], outs[cell.n_states], outs[-1]
        y = y_seq if self.return_sequences else y_last
        return [y] + final_states if self.return_state else y

    def _zeros(self, em, x, batch):
        """Zeros of shape (batch, units), batch taken from x at run time."""
        b = em.slice(em.op("Shape", x), [0], [1], [0])
        dims = em.concat([b, em.ints([self.units])], 0)
        return em.op("ConstantOfShape", dims, value=np.zeros(1, np.float32),
                     outputs=[TensorType(np.float32, (batch, self.units))])

    def compute_mask(self, em, x, mask):
        if isinstance(mask, list):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * self.cell.n_states if self.return_state else out


class _BodyEmitter(Emitter):
    """Emits a Scan body: each weight becomes a Capture of the outer graph's Variable, so the
    weights stay one set of parameters (and edges of the outer graph) however long the scan."""

    def __init__(self, body: Graph, outer: Emitter):
        super().__init__(body)
        self.outer = outer
        self.captured: list = []

    def weight(self, w):
        if id(w) not in self._weights:
            self._weights[id(w)] = (w, self.capture(self.outer.weight(w), f"capture_{w.layer.name}/{w.name}"))
        return self._weights[id(w)][1]

    def capture(self, value, name: str):
        """The body's stand-in for a value of the outer graph."""
        self.captured.append(value)
        return self.graph.add_capture(len(self.captured) - 1, self.outer.graph.type_of(value), name)


def gated_matmul(em, x, w, masks, gates: int):
    """x @ w; with dropout keep masks, (x * mask) @ w, or with one mask per gate each gate's block
    of columns of w reads x times its own mask."""
    if not masks:
        return em.op("MatMul", x, w)
    if len(masks) == 1:
        return em.op("MatMul", em.op("Mul", x, masks[0]), w)
    blocks = em.split(w, gates, -1)
    return em.concat([em.op("MatMul", em.op("Mul", x, m), b) for m, b in zip(masks, blocks)], -1)


def snake(name):
    from graphc.nn.base import snake_case

    return snake_case(name)


class SimpleRNN(_RNN):
    cell_class = SimpleRNNCell


class LSTM(_RNN):
    cell_class = LSTMCell


class GRU(_RNN):
    cell_class = GRUCell
