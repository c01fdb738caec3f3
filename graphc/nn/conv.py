"""Convolutions: Conv1D/2D/3D, their transposes, DepthwiseConv1D/2D, SeparableConv1D/2D.

Kernels keep Keras's layout (spatial..., in, out) as Variables; the ONNX layout
(out, in, spatial...) is a Transpose of the Variable that constant folding removes at inference.
"""
from __future__ import annotations

from graphc.nn import activations
from graphc.nn.base import Layer, as_tuple
from graphc.nn.layout import pad_attrs, to_channels_first, to_channels_last


class _Conv(Layer):
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        n = self.rank
        self.filters, self.kernel_size = int(filters), as_tuple(kernel_size, n)
        self.strides, self.dilation_rate = as_tuple(strides, n), as_tuple(dilation_rate, n)
        self.padding = padding.lower()
        self.data_format = data_format or "channels_last"
        self.groups, self.use_bias = int(groups), bool(use_bias)
        self.activation = activations.get(activation)

    @property
    def channels_last(self):
        return self.data_format == "channels_last"

    def _channels(self, input_shape):
        return input_shape[-1] if self.channels_last else input_shape[1]

    def build(self, input_shape):
        cin = self._channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (cin // self.groups, self.filters))
        self.bias = self.add_weight("bias", (self.filters,), "zeros") if self.use_bias else None

    def onnx_kernel(self, em, w):
        """(k..., in, out) -> (out, in, k...)."""
        n = self.rank
        return em.transpose(em.weight(w), [n + 1, n] + list(range(n)))

    def conv(self, em, xc, kernel, bias, group, strides, dilation, padding, kernel_size):
        sizes = em.shape(xc)[2:]
        attrs = dict(kernel_shape=list(kernel_size), strides=list(strides), dilations=list(dilation),
                     group=int(group), **pad_attrs(padding, sizes, kernel_size, strides, dilation))
        args = [xc, kernel] + ([bias] if bias is not None else [])
        return em.op("Conv", *args, **attrs)

    def activate(self, em, y):
        """Activation and the layout transpose back; a per-element activation goes first, so it
        sits next to the Conv where the fusion pass can take it."""
        if self.activation in _POINTWISE:
            return to_channels_last(em, activations.apply(em, self.activation, y), self.channels_last)
        return activations.apply(em, self.activation, to_channels_last(em, y, self.channels_last))

    def call(self, em, x, mask=None):
        xc = to_channels_first(em, x, self.channels_last)
        bias = em.weight(self.bias) if self.bias is not None else None
        y = self.conv(em, xc, self.onnx_kernel(em, self.kernel), bias, self.groups, self.strides,
                      self.dilation_rate, self.padding, self.kernel_size)
        return self.activate(em, y)


# activations that act per element, so they may run before the layout transpose back
_POINTWISE = set(activations.ACTIVATIONS) - {"softmax", "log_softmax", "glu", "sparsemax"}


class Conv1D(_Conv):
    rank = 1


class Conv2D(_Conv):
    rank = 2


class Conv3D(_Conv):
    rank = 3


class _DepthwiseConv(_Conv):
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, **kwargs):
        kwargs.pop("filters", None)
        kwargs.pop("groups", None)
        super().__init__(1, kernel_size, strides, padding, data_format, dilation_rate, 1, activation, use_bias,
                         **kwargs)
        self.depth_multiplier = int(depth_multiplier)

    def build(self, input_shape):
        cin = self._channels(input_shape)
        self.cin = cin
        self.depthwise_kernel = self.add_weight("kernel", self.kernel_size + (cin, self.depth_multiplier),
                                                key="depthwise")
        self.bias = self.add_weight("bias", (cin * self.depth_multiplier,), "zeros") if self.use_bias else None

    def depthwise_onnx_kernel(self, em, w):
        """(k..., in, mult) -> (in*mult, 1, k...): output channel c*mult + m, as Keras orders them."""
        n = self.rank
        flat = em.reshape(em.weight(w), list(self.kernel_size) + [1, self.cin * self.depth_multiplier])
        return em.transpose(flat, [n + 1, n] + list(range(n)))

    def call(self, em, x, mask=None):
        xc = to_channels_first(em, x, self.channels_last)
        bias = em.weight(self.bias) if self.bias is not None else None
        y = self.conv(em, xc, self.depthwise_onnx_kernel(em, self.depthwise_kernel), bias, self.cin, self.strides,
                      self.dilation_rate, self.padding, self.kernel_size)
        return self.activate(em, y)


class DepthwiseConv1D(_DepthwiseConv):
    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    rank = 2


class _SeparableConv(_DepthwiseConv):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, **kwargs)
        self.filters = int(filters)

    def build(self, input_shape):
        cin = self._channels(input_shape)
        self.cin = cin
        self.depthwise_kernel = self.add_weight("depthwise_kernel", self.kernel_size + (cin, self.depth_multiplier),
                                                key="depthwise")
        self.pointwise_kernel = self.add_weight("pointwise_kernel",
                                                (1,) * self.rank + (cin * self.depth_multiplier, self.filters),
                                                key="pointwise")
        self.bias = self.add_weight("bias", (self.filters,), "zeros") if self.use_bias else None

    def call(self, em, x, mask=None):
        xc = to_channels_first(em, x, self.channels_last)
        y = self.conv(em, xc, self.depthwise_onnx_kernel(em, self.depthwise_kernel), None, self.cin, self.strides,
                      self.dilation_rate, self.padding, self.kernel_size)
        bias = em.weight(self.bias) if self.bias is not None else None
        one = (1,) * self.rank
        y = self.conv(em, y, self.onnx_kernel(em, self.pointwise_kernel), bias, 1, one, one, "valid", one)
        return self.activate(em, y)


class SeparableConv1D(_SeparableConv):
    rank = 1


class SeparableConv2D(_SeparableConv):
    rank = 2


class _ConvTranspose(_Conv):
    """Output sizes as Keras computes them; padding as the gradient of TF's forward convolution."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, **kwargs)
        self.output_padding = None if output_padding is None else as_tuple(output_padding, self.rank)

    def build(self, input_shape):
        cin = self._channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, cin))
        self.bias = self.add_weight("bias", (self.filters,), "zeros") if self.use_bias else None

    def _geometry(self, sizes):
        pads_b, pads_e, out_pad = [], [], []
        for i, n in enumerate(sizes):
            k, s, d = self.kernel_size[i], self.strides[i], self.dilation_rate[i]
            eff = (k - 1) * d + 1
            op = None if self.output_padding is None else self.output_padding[i]
            if op is None:
                length = n * s if self.padding == "same" else n * s + max(eff - s, 0)
            else:
                pad = eff // 2 if self.padding == "same" else 0
                length = (n - 1) * s + eff - 2 * pad + op
            if self.padding == "same":
                total = max((-(-length // s) - 1) * s + eff - length, 0)
                begin = total // 2
            else:
                begin = 0
            end = s * (n - 1) + eff - begin - length
            pads_b.append(begin)
            pads_e.append(max(end, 0))
            out_pad.append(max(-end, 0))
        return pads_b + pads_e, out_pad

    def call(self, em, x, mask=None):
        xc = to_channels_first(em, x, self.channels_last)
        n = self.rank
        w = em.transpose(em.weight(self.kernel), [n + 1, n] + list(range(n)))  # (k.., out, in) -> (in, out, k..)
        pads, out_pad = self._geometry(em.shape(xc)[2:])
        args = [xc, w] + ([em.weight(self.bias)] if self.bias is not None else [])
        y = em.op("ConvTranspose", *args, kernel_shape=list(self.kernel_size), strides=list(self.strides),
                  dilations=list(self.dilation_rate), pads=pads, output_padding=out_pad)
        return self.activate(em, y)


class Conv1DTranspose(_ConvTranspose):
    rank = 1


class Conv2DTranspose(_ConvTranspose):
    rank = 2


class Conv3DTranspose(_ConvTranspose):
    rank = 3
