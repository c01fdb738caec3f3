"""Activation layers with parameters: ReLU, LeakyReLU, PReLU, ELU, Softmax, ThresholdedReLU."""
from __future__ import annotations

import numpy as np

from graphc.nn.activations import softmax_axes
from graphc.nn.base import Layer
from graphc.ops.registry import norm_axis


def _c(em, v):
    return em.const(np.float32(v))


class ReLU(Layer):
    """Keras ReLU: x >= threshold -> min(x, max_value); else negative_slope * (x - threshold)."""

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, em, x, mask=None):
        if self.negative_slope == 0 and self.threshold == 0:
            if self.max_value is None:
                return em.op("Relu", x)
            return em.op("Clip", x, _c(em, 0.0), _c(em, self.max_value))
        pos = x if self.max_value is None else em.op("Min", x, _c(em, self.max_value))
        neg = em.op("Mul", em.op("Sub", x, _c(em, self.threshold)), _c(em, self.negative_slope))
        return em.op("Where", em.op("GreaterOrEqual", x, _c(em, self.threshold)), pos, neg)


class LeakyReLU(Layer):
    supports_masking = True

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(alpha if alpha is not None else negative_slope)

    def call(self, em, x, mask=None):
        return em.op("LeakyRelu", x, alpha=self.negative_slope)


class PReLU(Layer):
    supports_masking = True

    def __init__(self, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.shared_axes = [] if shared_axes is None else (
            [shared_axes] if isinstance(shared_axes, int) else list(shared_axes))

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes:
            shape[a - 1] = 1
        self.alpha = self.add_weight("alpha", shape, "zeros")

    def call(self, em, x, mask=None):
        return em.op("PRelu", x, em.weight(self.alpha))


class ELU(Layer):
    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, em, x, mask=None):
        return em.op("Elu", x, alpha=self.alpha)


class ThresholdedReLU(Layer):
    supports_masking = True

    def __init__(self, theta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.theta = float(theta)

    def call(self, em, x, mask=None):
        return em.op("ThresholdedRelu", x, alpha=self.theta)


class Softmax(Layer):
    """Softmax over `axis` (one or several); with a mask, masked positions get -1e9 first."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, em, x, mask=None):
        if mask is not None:
            if em.type(mask).dtype != np.bool_:
                mask = em.op("Greater", mask, em.const(np.float32(0.5)))
            x = em.op("Where", mask, x, _c(em, -1e9))
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        rank = em.rank(x)
        return softmax_axes(em, x, [norm_axis(a, rank) for a in axes])

    def compute_mask(self, em, x, mask):
        return None
