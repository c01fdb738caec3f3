"""Wrappers: TimeDistributed (any layer over the time axis) and Bidirectional (every merge_mode)."""
from __future__ import annotations

import numpy as np

from graphc.nn.base import Layer


class TimeDistributed(Layer):
    """Applies `layer` to every step: (B, T, ...) is folded to (B*T, ...) and unfolded after."""

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def sublayers(self):
        return [("layer", self.layer)]

    def call(self, em, x, mask=None):
        shape = em.shape(x)
        folded = em.reshape(x, [-1] + list(shape[2:]))
        outs, _ = self.layer.emit(em, [folded], {}, [None])
        y = outs[0]
        return em.reshape(y, [-1, shape[1]] + list(em.shape(y)[1:]))


class Bidirectional(Layer):
    supports_masking = True
    call_args = ("sequences", "initial_state", "mask", "training")

    def __init__(self, layer, merge_mode="concat", backward_layer=None, weights=None, **kwargs):
        super().__init__(**kwargs)
        self.forward_layer = layer
        self.backward_layer = backward_layer or layer.reversed_copy(f"backward_{layer.name}")
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        # Keras: masked steps of a returned sequence are zeros in both directions
        for l in (self.forward_layer, self.backward_layer):
            l.zero_output_for_mask = l.return_sequences

    def sublayers(self):
        return [("forward_layer", self.forward_layer), ("backward_layer", self.backward_layer)]

    def call(self, em, x, mask=None, initial_state=None):
        kw_f, kw_b = {}, {}
        if initial_state is not None:
            half = len(initial_state) // 2
            kw_f["initial_state"], kw_b["initial_state"] = initial_state[:half], initial_state[half:]
        fw, _ = self.forward_layer.emit(em, [x], kw_f, [mask])
        bw, _ = self.backward_layer.emit(em, [x], kw_b, [mask])
        yf, yb = fw[0], bw[0]
        if self.return_sequences:
            yb = em.slice(yb, [-1], [np.iinfo(np.int64).min], [1], [-1])  # back to forward time order
        if self.merge_mode == "concat":
            y = [em.concat([yf, yb], -1)]
        elif self.merge_mode == "sum":
            y = [em.op("Add", yf, yb)]
        elif self.merge_mode == "mul":
            y = [em.op("Mul", yf, yb)]
        elif self.merge_mode == "ave":
            y = [em.op("Mul", em.op("Add", yf, yb), em.const(np.float32(0.5)))]
        elif self.merge_mode is None:
            y = [yf, yb]
        else:
            raise ValueError(f"unknown merge_mode {self.merge_mode!r}")
        if self.return_state:
            y = y + fw[1:] + bw[1:]
        return y[0] if len(y) == 1 else y

    def compute_mask(self, em, x, mask):
        out = mask if self.return_sequences else None
        n = (2 if self.merge_mode is None else 1)
        if self.return_state:
            n += 2 * self.forward_layer.cell.n_states
        return out if n == 1 else [out] * n
