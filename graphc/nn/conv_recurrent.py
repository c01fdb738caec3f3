"""ConvLSTM1D/2D/3D: an LSTM whose projections are convolutions, unrolled over the time axis.

Works channels-first inside: the input is transposed once to (B, T, C, spatial...), states are
NC(D)HW, and the result is transposed back to channels-last at the end. In a training graph
`dropout` / `recurrent_dropout` act as Keras's: four keep masks per sequence (one per gate) on the
step input and on the previous output.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import ShapeError
from graphc.nn import activations
from graphc.nn.base import Layer, as_tuple, weight_objects
from graphc.nn.layout import pad_attrs
from graphc.types import TensorType


class ConvLSTMCell(Layer):
    def __init__(self, rank, filters, kernel_size, strides, padding, dilation_rate, activation,
                 recurrent_activation, use_bias, **kwargs):
        super().__init__(**kwargs)
        self.rank, self.filters = rank, int(filters)
        self.kernel_size, self.strides = as_tuple(kernel_size, rank), as_tuple(strides, rank)
        self.dilation_rate, self.padding = as_tuple(dilation_rate, rank), padding.lower()
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        cin, f = input_shape[-1], self.filters
        self.kernel = self.add_weight("kernel", self.kernel_size + (cin, 4 * f))
        self.recurrent_kernel = self.add_weight("recurrent_kernel", self.kernel_size + (f, 4 * f), "orthogonal",
                                                key="recurrent")
        self.bias = self.add_weight("bias", (4 * f,), "zeros") if self.use_bias else None

    def conv(self, em, x, w, bias, padding, strides, dilation, masks=None):
        """The gates' convolution of `x` by Weight `w` (+ `bias`); with dropout `masks` (one per
        gate) each gate's block of filters convolves `x` times its own mask."""
        if masks:
            blocks = em.split(em.weight(w), 4, -1)
            biases = em.split(em.weight(bias), 4, 0) if bias is not None else [None] * 4
            return em.concat([self._conv(em, em.op("Mul", x, m), k, b, padding, strides, dilation)
                              for m, k, b in zip(masks, blocks, biases)], 1)
        return self._conv(em, x, em.weight(w), None if bias is None else em.weight(bias), padding, strides,
                          dilation)

    def _conv(self, em, x, kernel, bias, padding, strides, dilation):
        n = self.rank
        k = em.transpose(kernel, [n + 1, n] + list(range(n)))
        attrs = dict(kernel_shape=list(self.kernel_size), strides=list(strides), dilations=list(dilation),
                     **pad_attrs(padding, em.shape(x)[2:], self.kernel_size, strides, dilation))
        return em.op("Conv", x, k, *([bias] if bias is not None else []), **attrs)


class _ConvLSTM(Layer):
    call_args = ("sequences", "initial_state", "mask", "training")
    rank = 2
    supports_masking = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, unit_forget_bias=True,
                 return_sequences=False, return_state=False, go_backwards=False, zero_output_for_mask=False,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.seed = seed
        if (data_format or "channels_last") != "channels_last":
            from graphc.errors import UnsupportedOpError

            raise UnsupportedOpError(f"{type(self).__name__} {self.name!r}: only channels_last is supported")
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.cell = ConvLSTMCell(self.rank, filters, kernel_size, strides, padding, dilation_rate, activation,
                                 recurrent_activation, use_bias, name="conv_lstm_cell")
        self.cell.keras_objects.update(weight_objects(self))

    def sublayers(self):
        return [("cell", self.cell)]

    def build(self, input_shape):
        self.cell.build(input_shape[1:])
        self.cell.built = True

    def call(self, em, x, mask=None):
        cell, n = self.cell, self.rank
        shape = em.shape(x)
        steps = shape[1]
        if not isinstance(steps, int):
            raise ShapeError(f"layer {self.name!r}: the time axis must have a fixed length to unroll")
        xc = em.transpose(x, [0, 1, n + 2] + list(range(2, n + 2)))  # (B, T, C, spatial...)
        ra = lambda v: activations.apply(em, cell.recurrent_activation, v)
        act = lambda v: activations.apply(em, cell.activation, v)
        one = (1,) * n
        h = c = None
        outputs = []
        step_in = em.op("Gather", xc, em.ints(0), axis=1)
        masks = self._masks(em, step_in, self.dropout, 0)
        rec_masks = None
        for t in (range(steps - 1, -1, -1) if self.go_backwards else range(steps)):
            xt = em.op("Gather", xc, em.ints(t), axis=1)
            z = cell.conv(em, xt, cell.kernel, cell.bias, cell.padding, cell.strides, cell.dilation_rate, masks)
            if h is None:
                h = c = self._zeros(em, x, z)
                rec_masks = self._masks(em, h, self.recurrent_dropout, 4)
            z = em.op("Add", z, cell.conv(em, h, cell.recurrent_kernel, None, "same", one, cell.dilation_rate,
                                          rec_masks))
            i, f, g, o = em.split(z, 4, 1)
            c = em.op("Add", em.op("Mul", ra(f), c), em.op("Mul", ra(i), act(g)))
            h = em.op("Mul", ra(o), act(c))
            outputs.append(h)
        back = lambda v, lead: em.transpose(v, list(range(lead)) + list(range(lead + 1, lead + 1 + n)) + [lead])
        if self.return_sequences:
            y = back(em.concat([em.unsqueeze(o, [1]) for o in outputs], 1), 2)
        else:
            y = back(outputs[-1], 1)
        return [y, back(h, 1), back(c, 1)] if self.return_state else y

    def _masks(self, em, like, rate, first):
        """Four keep masks shaped like `like` (one per gate) in a training graph, else None."""
        from graphc.nn.regularization import keep_scale

        if not em.training or not 0.0 < rate < 1.0:
            return None
        return [keep_scale(em, like, rate, None, None if self.seed is None else self.seed + first + i)
                for i in range(4)]

    def _zeros(self, em, x, like):
        """Zero state shaped like one step's gate output (B, filters, spatial...)."""
        shape = em.shape(like)
        b = em.slice(em.op("Shape", x), [0], [1], [0])
        dims = em.concat([b, em.ints([self.cell.filters] + list(shape[2:]))], 0)
        return em.op("ConstantOfShape", dims, value=np.zeros(1, np.float32),
                     outputs=[TensorType(np.float32, (shape[0], self.cell.filters) + tuple(shape[2:]))])

    def compute_mask(self, em, x, mask):
        return None


class ConvLSTM1D(_ConvLSTM):
    rank = 1


class ConvLSTM2D(_ConvLSTM):
    rank = 2


class ConvLSTM3D(_ConvLSTM):
    rank = 3
