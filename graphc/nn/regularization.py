"""Layers that only act in training: identities at inference (Dropout family, noise, regularization)."""
from __future__ import annotations

from graphc.nn.base import Layer


class Dropout(Layer):
    supports_masking = True

    def __init__(self, rate=0.5, noise_shape=None, **kwargs):
        kwargs.pop("seed", None)
        super().__init__(**kwargs)
        self.rate, self.noise_shape = float(rate), noise_shape

    def call(self, em, x, mask=None):
        return x


class SpatialDropout1D(Dropout):
    pass


class SpatialDropout2D(Dropout):
    def __init__(self, rate=0.5, data_format=None, **kwargs):
        super().__init__(rate, **kwargs)


class SpatialDropout3D(SpatialDropout2D):
    pass


class AlphaDropout(Dropout):
    pass


class GaussianDropout(Dropout):
    pass


class GaussianNoise(Layer):
    supports_masking = True

    def __init__(self, stddev=0.0, **kwargs):
        kwargs.pop("seed", None)
        super().__init__(**kwargs)
        self.stddev = float(stddev)

    def call(self, em, x, mask=None):
        return x


class ActivityRegularization(Layer):
    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def call(self, em, x, mask=None):
        return x
