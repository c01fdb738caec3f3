"""Max/Average pooling 1D/2D/3D and their Global variants.

'same' pads as TF does (odd unit at the end); average pooling leaves the padding out of the
count (`count_include_pad=0`), as Keras's TensorFlow/JAX backends and its documentation do.
"""
from __future__ import annotations

from graphc.nn.base import Layer, as_tuple
from graphc.nn.layout import pad_attrs, to_channels_first, to_channels_last


class _Pool(Layer):
    rank = 2
    onnx_op = "MaxPool"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        n = self.rank
        self.pool_size = as_tuple(pool_size, n)
        self.strides = as_tuple(strides, n) if strides is not None else self.pool_size
        self.padding = padding.lower()
        self.data_format = data_format or "channels_last"

    def call(self, em, x, mask=None):
        last = self.data_format == "channels_last"
        xc = to_channels_first(em, x, last)
        attrs = dict(kernel_shape=list(self.pool_size), strides=list(self.strides),
                     **pad_attrs(self.padding, em.shape(xc)[2:], self.pool_size, self.strides, (1,) * self.rank))
        if self.onnx_op == "AveragePool":
            attrs["count_include_pad"] = 0
        return to_channels_last(em, em.op(self.onnx_op, xc, **attrs), last)


class MaxPooling1D(_Pool):
    rank = 1


class MaxPooling2D(_Pool):
    rank = 2


class MaxPooling3D(_Pool):
    rank = 3


class AveragePooling1D(_Pool):
    rank, onnx_op = 1, "AveragePool"


class AveragePooling2D(_Pool):
    rank, onnx_op = 2, "AveragePool"


class AveragePooling3D(_Pool):
    rank, onnx_op = 3, "AveragePool"


class _GlobalPool(Layer):
    rank = 2
    reduce_op = "ReduceMax"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self.keepdims = bool(keepdims)

    def call(self, em, x, mask=None):
        axes = list(range(1, self.rank + 1)) if self.data_format == "channels_last" \
            else list(range(2, self.rank + 2))
        if mask is not None and self.rank == 1 and self.reduce_op == "ReduceMean":
            # Keras averages only the unmasked steps
            m = em.unsqueeze(em.op("Cast", mask, to=1), [-1] if self.data_format == "channels_last" else [1])
            s = em.reduce("ReduceSum", em.op("Mul", x, m), axes, self.keepdims)
            return em.op("Div", s, em.reduce("ReduceSum", m, axes, self.keepdims))
        return em.reduce(self.reduce_op, x, axes, self.keepdims)


class GlobalMaxPooling1D(_GlobalPool):
    rank = 1


class GlobalMaxPooling2D(_GlobalPool):
    rank = 2


class GlobalMaxPooling3D(_GlobalPool):
    rank = 3


class GlobalAveragePooling1D(_GlobalPool):
    rank, reduce_op, supports_masking = 1, "ReduceMean", True

    def compute_mask(self, em, x, mask):
        return None


class GlobalAveragePooling2D(_GlobalPool):
    rank, reduce_op = 2, "ReduceMean"


class GlobalAveragePooling3D(_GlobalPool):
    rank, reduce_op = 3, "ReduceMean"
