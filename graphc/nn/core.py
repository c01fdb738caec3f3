"""Core layers: Dense, EinsumDense, Activation, Embedding, Masking, Identity."""
from __future__ import annotations


import numpy as np

from graphc.nn import activations
from graphc.nn.base import Layer


class Dense(Layer):
    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units, self.use_bias = int(units), bool(use_bias)
        self.activation = activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units))
        self.bias = self.add_weight("bias", (self.units,), "zeros") if self.use_bias else None

    def call(self, em, x, mask=None):
        y = em.op("MatMul", x, em.weight(self.kernel))
        if self.bias is not None:
            y = em.op("Add", y, em.weight(self.bias))
        return activations.apply(em, self.activation, y)


class EinsumDense(Layer):
    """`equation` like 'abc,cd->abd'; `output_shape` without the batch dim; `bias_axes` letters."""

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.equation, self.bias_axes = equation, bias_axes
        self.partial_output_shape = [output_shape] if isinstance(output_shape, int) else list(output_shape)
        self.activation = activations.get(activation)

    def build(self, input_shape):
        lhs, out = self.equation.split("->")
        inp, ker = lhs.split(",")
        out_dims = dict(zip(out[::-1], (list(self.partial_output_shape)[::-1])))
        in_dims = dict(zip(inp, input_shape))
        kshape = [in_dims[c] if c in in_dims and in_dims[c] is not None else out_dims[c] for c in ker]
        self.kernel = self.add_weight("kernel", kshape)
        self.bias = None
        if self.bias_axes:
            first = min(out.index(c) for c in self.bias_axes)
            bshape = [out_dims[c] if c in self.bias_axes else 1 for c in out[first:]]
            self.bias = self.add_weight("bias", bshape, "zeros")

    def call(self, em, x, mask=None):
        y = em.op("Einsum", x, em.weight(self.kernel), equation=self.equation)
        if self.bias is not None:
            y = em.op("Add", y, em.weight(self.bias))
        return activations.apply(em, self.activation, y)


class Activation(Layer):
    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, em, x, mask=None):
        return activations.apply(em, self.activation, x)


class Identity(Layer):
    supports_masking = True

    def call(self, em, x, mask=None):
        return em.op("Identity", x)


class Embedding(Layer):
    def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
        kwargs.pop("sparse", None)
        super().__init__(**kwargs)
        self.input_dim, self.output_dim, self.mask_zero = int(input_dim), int(output_dim), bool(mask_zero)

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim), "uniform")

    def call(self, em, x, mask=None):
        ids = x if np.dtype(em.type(x).dtype).kind in "iu" else em.op("Cast", x, to=7)
        return em.op("Gather", em.weight(self.embeddings), ids, axis=0)

    def compute_mask(self, em, x, mask):
        if not self.mask_zero:
            return None
        zero = em.const(np.zeros((), em.type(x).dtype), em.type(x).dtype)
        return em.op("Not", em.op("Equal", x, zero))


class Masking(Layer):
    """Steps whose features all equal `mask_value` are masked, and zeroed in the output."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _keep(self, em, x):
        differs = em.op("Not", em.op("Equal", x, em.const(np.float32(self.mask_value))))
        return em.op("Cast", em.reduce("ReduceMax", em.op("Cast", differs, to=1), [-1]), to=9)

    def call(self, em, x, mask=None):
        return em.op("Mul", x, em.op("Cast", self._keep(em, x), to=1))

    def compute_mask(self, em, x, mask):
        return em.squeeze(self._keep(em, x), [-1])
