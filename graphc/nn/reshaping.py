"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, Cropping1D/2D/3D, ZeroPadding1D/2D/3D,
UpSampling1D/2D/3D."""
from __future__ import annotations

import numpy as np

from graphc.nn.base import Layer, as_tuple


def _spatial_axes(rank_sp, data_format, rank):
    return list(range(1, rank_sp + 1)) if (data_format or "channels_last") == "channels_last" \
        else list(range(2, rank))


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def call(self, em, x, mask=None):
        r = em.rank(x)
        if self.data_format == "channels_first" and r > 2:
            x = em.transpose(x, [0] + list(range(2, r)) + [1])
        return em.op("Flatten", x, axis=1)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, em, x, mask=None):
        return em.reshape(x, [0] + list(self.target_shape))


class Permute(Layer):
    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)

    def call(self, em, x, mask=None):
        return em.op("Transpose", x, perm=[0] + list(self.dims))


class RepeatVector(Layer):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)

    def call(self, em, x, mask=None):
        return em.op("Tile", em.unsqueeze(x, [1]), em.ints([1, self.n, 1]))


class _Cropping(Layer):
    rank = 2

    def __init__(self, cropping=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, self.rank)
        self.data_format = data_format

    def call(self, em, x, mask=None):
        shape = em.shape(x)
        axes = _spatial_axes(self.rank, self.data_format, len(shape))
        ends = [shape[a] - e for a, (_, e) in zip(axes, self.cropping)]
        return em.slice(x, [b for b, _ in self.cropping], ends, axes)


def _pairs(v, n):
    """Keras's padding/cropping argument: int, n ints, or n (before, after) pairs."""
    if isinstance(v, int):
        return [(v, v)] * n
    v = list(v)
    if n == 1 and len(v) == 2 and all(isinstance(e, int) for e in v):
        return [tuple(v)]
    return [(e, e) if isinstance(e, int) else tuple(e) for e in v]


class Cropping1D(_Cropping):
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)


class Cropping2D(_Cropping):
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class _ZeroPadding(Layer):
    rank = 2

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, self.rank)
        self.data_format = data_format

    def call(self, em, x, mask=None):
        r = em.rank(x)
        axes = _spatial_axes(self.rank, self.data_format, r)
        begins, ends = [0] * r, [0] * r
        for a, (b, e) in zip(axes, self.padding):
            begins[a], ends[a] = b, e
        return em.op("Pad", x, em.ints(begins + ends, "pads"), mode="constant")


class ZeroPadding1D(_ZeroPadding):
    rank = 1


class ZeroPadding2D(_ZeroPadding):
    rank = 2


class ZeroPadding3D(_ZeroPadding):
    rank = 3


class _UpSampling(Layer):
    rank = 2

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = as_tuple(size, self.rank)
        self.data_format, self.interpolation = data_format, interpolation

    def call(self, em, x, mask=None):
        r = em.rank(x)
        axes = _spatial_axes(self.rank, self.data_format, r)
        scales = [1.0] * r
        for a, s in zip(axes, self.size):
            scales[a] = float(s)
        return resize(em, x, scales, None, self.interpolation)


def resize(em, x, scales, sizes, interpolation):
    """ONNX Resize as Keras resizes: nearest repeats (UpSampling), bilinear uses half-pixel centers."""
    if interpolation == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif interpolation in ("bilinear", "linear"):
        attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    elif interpolation == "bicubic":
        attrs = dict(mode="cubic", coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.5)
    else:
        from graphc.errors import UnsupportedOpError

        raise UnsupportedOpError(f"interpolation {interpolation!r} is not supported")
    if sizes is None:
        return em.op("Resize", x, None, em.const(np.asarray(scales, np.float32)), **attrs)
    return em.op("Resize", x, None, None, em.ints(sizes, "sizes"), **attrs)


class UpSampling1D(_UpSampling):
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size, **kwargs)


class UpSampling2D(_UpSampling):
    rank = 2


class UpSampling3D(_UpSampling):
    rank = 3
