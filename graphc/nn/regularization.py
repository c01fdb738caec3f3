"""Layers that act only in training (identities in an inference graph): the Dropout family, noise,
ActivityRegularization; and `dropout()`, which other layers' own dropout uses (attention, RNNs).

In a training graph (`Emitter.training`) the randomness is standard ONNX `RandomUniformLike` /
`RandomNormalLike`, with the layer's `seed` as the op's seed when one is given; a keep mask is
`uniform >= rate`, cast and scaled, then multiplied in (differentiable through `Mul`). ONNX Runtime
1.32 runs those two ops only in their opset-21 form (and drops an ONNX `Dropout` that does not feed
a graph output, whatever its training_mode), so a graph holding one declares opset 21: none of the
ops the layers emit changed meaning for float tensors between 21 and graphc's opset.
"""
from __future__ import annotations

import math

import numpy as np

from graphc.nn.base import Layer
from graphc.types import TensorType


def _seed(seed) -> dict:
    return {} if seed is None else {"seed": float(seed)}


def _check_rate(layer, rate) -> float:
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: rate must be in [0, 1], got {rate}")
    return rate


def keep_scale(em, x, rate: float, noise_shape=None, seed=None):
    """0 with probability `rate`, else 1 / (1 - rate): shaped like `x`, or like Keras's
    `noise_shape` (None entries take the dim of `x`, the others, usually 1, broadcast)."""
    shape = em.shape(x)
    like = x
    if noise_shape is not None and list(noise_shape) != [None] * len(shape):
        dims = [s if n is None else int(n) for n, s in zip(noise_shape, shape)]
        runtime = em.op("Shape", x)
        parts = [em.slice(runtime, [i], [i + 1], [0]) if n is None else em.ints([int(n)])
                 for i, n in enumerate(noise_shape)]
        like = em.op("ConstantOfShape", em.concat(parts, 0), value=np.ones(1, np.float32),
                     outputs=[TensorType(np.float32, tuple(dims))])
    keep = em.op("GreaterOrEqual", _random(em, "RandomUniformLike", like, seed), em.const(np.float32(rate)))
    return em.op("Mul", em.op("Cast", keep, to=1), em.const(np.float32(1.0 / (1.0 - rate))))


def dropout(em, x, rate: float, noise_shape=None, seed=None):
    """Keras's `random.dropout` in a training graph: each entry (or noise-shaped block) is kept with
    probability 1 - rate and scaled by 1 / (1 - rate); `x` itself at inference or at rate 0."""
    if not em.training or rate <= 0:
        return x
    if rate >= 1:
        return em.op("Mul", x, em.const(np.float32(0)))
    return em.op("Mul", x, keep_scale(em, x, rate, noise_shape, seed))


def normal_noise(em, x, mean: float, stddev: float, seed=None):
    return _random(em, "RandomNormalLike", x, seed, mean=float(mean), scale=float(stddev))


def _random(em, op, like, seed, **attrs):
    em.graph.opset_imports[""] = min(em.graph.opset_imports.get("", 21), 21)  # see the module docstring
    return em.op(op, like, dtype=1, **_seed(seed), **attrs)


class Dropout(Layer):
    supports_masking = True

    def __init__(self, rate=0.5, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.noise_shape, self.seed = _check_rate(self, rate), noise_shape, seed

    def call(self, em, x, mask=None):
        return dropout(em, x, self.rate, self.noise_shape, self.seed)


class SpatialDropout1D(Dropout):
    """Drops whole channels: noise shape (batch, 1, channels)."""

    def __init__(self, rate=0.5, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def call(self, em, x, mask=None):
        return dropout(em, x, self.rate, [None, 1, None], self.seed)


class SpatialDropout2D(Dropout):
    """Drops whole feature maps: noise shape (batch, 1, 1, channels), channels first (batch, channels, 1, 1)."""

    def __init__(self, rate=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = data_format or "channels_last"

    def call(self, em, x, mask=None):
        spatial = [1] * (em.rank(x) - 2)
        shape = [None] + spatial + [None] if self.data_format == "channels_last" else [None, None] + spatial
        return dropout(em, x, self.rate, shape, self.seed)


class SpatialDropout3D(SpatialDropout2D):
    pass


class AlphaDropout(Dropout):
    """Dropout that keeps SELU's self-normalization: dropped entries take SELU's negative saturation,
    then an affine map restores the mean and variance."""

    def call(self, em, x, mask=None):
        if not em.training or self.rate <= 0:
            return x
        alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
        alpha_p, r = -alpha * scale, self.rate
        kept = em.op("Mul", keep_scale(em, x, r, self.noise_shape, self.seed), em.const(np.float32(1 - r)))
        dropped = em.op("Sub", em.const(np.float32(1)), kept)
        y = em.op("Add", em.op("Mul", x, kept), em.op("Mul", dropped, em.const(np.float32(alpha_p))))
        a = ((1 - r) * (1 + r * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * r
        return em.op("Add", em.op("Mul", y, em.const(np.float32(a))), em.const(np.float32(b)))


class GaussianDropout(Dropout):
    """Multiplies by normal noise of mean 1 and standard deviation sqrt(rate / (1 - rate))."""

    def call(self, em, x, mask=None):
        if not em.training or self.rate <= 0:
            return x
        std = math.sqrt(self.rate / (1.0 - self.rate))
        return em.op("Mul", x, normal_noise(em, x, 1.0, std, self.seed))


class GaussianNoise(Layer):
    supports_masking = True

    def __init__(self, stddev=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev, self.seed = float(stddev), seed

    def call(self, em, x, mask=None):
        if not em.training or self.stddev <= 0:
            return x
        return em.op("Add", x, normal_noise(em, x, 0.0, self.stddev, self.seed))


class ActivityRegularization(Layer):
    """Identity whose output's L1/L2 penalty is a loss term of the training graph."""

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        from graphc.nn.regularizers import L1L2

        super().__init__(**kwargs)
        self.l1, self.l2 = float(l1), float(l2)
        self.keras_objects["activity_regularizer"] = L1L2(self.l1, self.l2)

    def call(self, em, x, mask=None):
        return x
