"""Preprocessing layers that run at inference: Rescaling, Normalization, Resizing, CenterCrop."""
from __future__ import annotations

import numpy as np

from graphc.nn.base import Layer
from graphc.ops.registry import norm_axis
from graphc.nn.reshaping import resize

_EPSILON = 1e-7  # keras.backend.epsilon()


class Rescaling(Layer):
    supports_masking = True

    def __init__(self, scale=1.0, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, em, x, mask=None):
        y = em.op("Mul", x, em.const(np.asarray(self.scale, np.float32)))
        return em.op("Add", y, em.const(np.asarray(self.offset, np.float32)))


class Normalization(Layer):
    """(x - mean) / max(sqrt(variance), 1e-7) per kept axis, or its inverse with `invert`."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = () if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        self.invert = bool(invert)
        self.stored = None if mean is None else (np.asarray(mean, np.float32), np.asarray(variance, np.float32))

    def build(self, input_shape):
        rank = len(input_shape)
        self.keep = [norm_axis(a, rank) for a in self.axis]
        if self.stored is None:
            shape = tuple(input_shape[a] for a in self.keep)
            self.mean = self.add_weight("mean", shape, "zeros", trainable=False)
            self.variance = self.add_weight("variance", shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False)

    def call(self, em, x, mask=None):
        rank = em.rank(x)
        target = [1] * rank
        for a in self.keep:
            target[a] = em.shape(x)[a]
        if self.stored is None:
            mean, var = em.weight(self.mean), em.weight(self.variance)
        else:
            mean, var = em.const(self.stored[0]), em.const(self.stored[1])
        mean, var = em.reshape(mean, target), em.reshape(var, target)
        std = em.op("Max", em.op("Sqrt", var), em.const(np.float32(_EPSILON)))
        if self.invert:
            return em.op("Add", mean, em.op("Mul", x, std))
        return em.op("Div", em.op("Sub", x, mean), std)


def _spatial(data_format, rank):
    return (rank - 3, rank - 2) if (data_format or "channels_last") == "channels_last" else (rank - 2, rank - 1)


def crop_to_aspect(em, x, axes, height, width):
    """Keras's center crop to the target aspect ratio (smart_resize's first step)."""
    h, w = em.shape(x)[axes[0]], em.shape(x)[axes[1]]
    ch = min(h, int(float(w * height) / width))
    cw = min(w, int(float(h * width) / height))
    hs, ws = int(float(h - ch) / 2), int(float(w - cw) / 2)
    if (ch, cw) == (h, w):
        return x
    return em.slice(x, [hs, ws], [hs + ch, ws + cw], list(axes))


def resize_to(em, x, axes, height, width, interpolation):
    shape = list(em.shape(x))
    scales = [1.0] * len(shape)
    scales[axes[0]], scales[axes[1]] = height / shape[axes[0]], width / shape[axes[1]]
    if interpolation == "nearest":
        # tf.image.resize's nearest neighbour: half-pixel centers, rounding halves up
        attrs = dict(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
        return em.op("Resize", x, None, em.const(np.asarray(scales, np.float32)), **attrs)
    return resize(em, x, scales, None, interpolation)


class Resizing(Layer):
    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = int(height), int(width), interpolation
        self.crop_to_aspect_ratio, self.data_format = bool(crop_to_aspect_ratio), data_format

    def call(self, em, x, mask=None):
        axes = _spatial(self.data_format, em.rank(x))
        if self.crop_to_aspect_ratio:
            x = crop_to_aspect(em, x, axes, self.height, self.width)
        return resize_to(em, x, axes, self.height, self.width, self.interpolation)


class CenterCrop(Layer):
    """Crops the center; an input smaller than the target is cropped to its aspect ratio and resized."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.data_format = int(height), int(width), data_format

    def call(self, em, x, mask=None):
        axes = _spatial(self.data_format, em.rank(x))
        h, w = em.shape(x)[axes[0]], em.shape(x)[axes[1]]
        if h >= self.height and w >= self.width:
            hs, ws = (h - self.height) // 2, (w - self.width) // 2
            return em.slice(x, [hs, ws], [hs + self.height, ws + self.width], list(axes))
        x = crop_to_aspect(em, x, axes, self.height, self.width)
        return resize_to(em, x, axes, self.height, self.width, "bilinear")
