"""The scaling layers Keras defines inside `keras.applications` (not `keras.layers`) and registers
under their bare class names: ConvNeXt's `LayerScale` and InceptionResNetV2's `CustomScaleLayer`."""
from __future__ import annotations

import numpy as np

from graphc.nn.base import Layer


class LayerScale(Layer):
    """`x * gamma`, one trainable factor per channel (the last axis), initialised to `init_values`."""

    def __init__(self, init_values=1e-6, projection_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.init_values, self.projection_dim = float(init_values), projection_dim

    def build(self, input_shape):
        dim = self.projection_dim if self.projection_dim is not None else input_shape[-1]
        self.gamma = self.add_weight("gamma", (int(dim),), "ones")
        self.gamma.value[...] = self.init_values

    def call(self, em, x, mask=None):
        return em.op("Mul", x, em.weight(self.gamma))


class CustomScaleLayer(Layer):
    """`inputs[0] + inputs[1] * scale`: a residual branch scaled by a constant before the add."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, em, x, mask=None):
        if not isinstance(x, list) or len(x) != 2:
            raise ValueError(f"layer {self.name!r}: CustomScaleLayer takes a list of two tensors "
                             f"[shortcut, residual]")
        return em.op("Add", x[0], em.op("Mul", x[1], em.const(np.asarray(self.scale, np.float32))))
