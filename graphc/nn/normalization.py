"""BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization, RMSNormalization.

At inference BatchNormalization is an affine map per channel, `x * scale + shift`, computed from the
stored statistics in the graph (constant folding turns it into two constants; fusion into the conv).
In a training graph (and when the layer is trainable, as in Keras) it normalizes by the batch's
mean and (biased) variance over all axes but the channel's, weighted by the mask when there is one,
and records the moving-average updates of `moving_mean` and `moving_variance` in `em.updates`.
"""
from __future__ import annotations

import numpy as np

from graphc.nn.base import Layer
from graphc.ops.registry import norm_axis


def _axes(axis, rank):
    axes = [axis] if isinstance(axis, int) else list(axis)
    return sorted(norm_axis(a, rank) for a in axes)


class BatchNormalization(Layer):
    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, synchronized=False,
                 renorm=False, renorm_clipping=None, renorm_momentum=None, fused=None, virtual_batch_size=None,
                 adjustment=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis[0] if isinstance(axis, (list, tuple)) else int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def build(self, input_shape):
        n = input_shape[self.axis]
        self.gamma = self.add_weight("gamma", (n,), "ones") if self.scale else None
        self.beta = self.add_weight("beta", (n,), "zeros") if self.center else None
        self.moving_mean = self.add_weight("moving_mean", (n,), "zeros", trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (n,), "ones", trainable=False)

    def call(self, em, x, mask=None):
        rank = em.rank(x)
        axis = norm_axis(self.axis, rank)
        if em.training and self.trainable:
            return self._batch_statistics(em, x, mask, rank, axis)
        inv = em.op("Reciprocal", em.op("Sqrt", em.op("Add", em.weight(self.moving_variance),
                                                     em.const(np.float32(self.epsilon)))))
        scale = em.op("Mul", inv, em.weight(self.gamma)) if self.gamma is not None else inv
        shift = em.op("Neg", em.op("Mul", em.weight(self.moving_mean), scale))
        if self.beta is not None:
            shift = em.op("Add", shift, em.weight(self.beta))
        scale = em.broadcast_to_axis(scale, rank, [axis])
        shift = em.broadcast_to_axis(shift, rank, [axis])
        return em.op("Add", em.op("Mul", x, scale), shift)

    def _batch_statistics(self, em, x, mask, rank, axis):
        red = [a for a in range(rank) if a != axis]
        if mask is None:
            mean = em.reduce("ReduceMean", x, red)
            d = em.op("Sub", x, mean)
            var = em.reduce("ReduceMean", em.op("Mul", d, d), red)
        else:  # Keras's masked moments: masked entries count for nothing
            m = em.op("Cast", em.unsqueeze(mask, [rank - 1]), to=1)
            m = em.op("Expand", m, em.op("Shape", x))
            eps = em.const(np.float32(1e-7))
            count = em.op("Add", em.reduce("ReduceSum", m, red), eps)
            mean = em.op("Div", em.reduce("ReduceSum", em.op("Mul", x, m), red), count)
            d = em.op("Mul", em.op("Sub", x, mean), m)
            var = em.op("Div", em.reduce("ReduceSum", em.op("Mul", d, d), red), count)
        k = em.const(np.float32(self.momentum))
        k1 = em.const(np.float32(1.0 - self.momentum))
        for w, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
            em.updates.append((w, em.op("Add", em.op("Mul", em.weight(w), k),
                                        em.op("Mul", em.reshape(batch, [-1]), k1))))
        y = em.op("Div", em.op("Sub", x, mean),
                  em.op("Sqrt", em.op("Add", var, em.const(np.float32(self.epsilon)))))
        if self.gamma is not None:
            y = em.op("Mul", y, em.broadcast_to_axis(em.weight(self.gamma), rank, [axis]))
        if self.beta is not None:
            y = em.op("Add", y, em.broadcast_to_axis(em.weight(self.beta), rank, [axis]))
        return y


class LayerNormalization(Layer):
    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.epsilon = axis, float(epsilon)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)

    def build(self, input_shape):
        axes = _axes(self.axis, len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        self.gamma = self.add_weight("gamma", shape, "ones") if self.scale else None
        self.beta = self.add_weight("beta", shape, "zeros") if self.center and not self.rms_scaling else None

    def call(self, em, x, mask=None):
        rank = em.rank(x)
        axes = _axes(self.axis, rank)
        eps = em.const(np.float32(self.epsilon))
        if axes == list(range(axes[0], rank)) and not self.rms_scaling:
            # trailing axes: ONNX's fused LayerNormalization
            shape = [em.shape(x)[a] for a in axes]
            gamma = em.weight(self.gamma) if self.gamma else em.const(np.ones(shape, np.float32))
            args = [x, gamma] + ([em.weight(self.beta)] if self.beta else [])
            return em.op("LayerNormalization", *args, axis=axes[0], epsilon=self.epsilon)
        if self.rms_scaling:
            var = em.reduce("ReduceMean", em.op("Mul", x, x), axes)
            y = em.op("Mul", x, em.op("Reciprocal", em.op("Sqrt", em.op("Add", var, eps))))
        else:
            mean = em.reduce("ReduceMean", x, axes)
            d = em.op("Sub", x, mean)
            var = em.reduce("ReduceMean", em.op("Mul", d, d), axes)
            y = em.op("Div", d, em.op("Sqrt", em.op("Add", var, eps)))
        if self.gamma is not None:
            y = em.op("Mul", y, em.broadcast_to_axis(em.weight(self.gamma), rank, axes))
        if self.beta is not None:
            y = em.op("Add", y, em.broadcast_to_axis(em.weight(self.beta), rank, axes))
        return y


class RMSNormalization(Layer):
    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.epsilon = axis, float(epsilon)

    def build(self, input_shape):
        axes = _axes(self.axis, len(input_shape))
        self.scale = self.add_weight("scale", tuple(input_shape[a] for a in axes), "ones")

    def call(self, em, x, mask=None):
        rank = em.rank(x)
        axes = _axes(self.axis, rank)
        ms = em.reduce("ReduceMean", em.op("Mul", x, x), axes)
        y = em.op("Mul", x, em.op("Reciprocal", em.op("Sqrt", em.op("Add", ms, em.const(np.float32(self.epsilon))))))
        return em.op("Mul", y, em.broadcast_to_axis(em.weight(self.scale), rank, axes))


class GroupNormalization(Layer):
    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.groups, self.axis, self.epsilon = int(groups), int(axis), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def build(self, input_shape):
        n = input_shape[self.axis]
        if self.groups == -1:
            self.groups = n
        self.gamma = self.add_weight("gamma", (n,), "ones") if self.scale else None
        self.beta = self.add_weight("beta", (n,), "zeros") if self.center else None

    def call(self, em, x, mask=None):
        shape = em.shape(x)
        rank = len(shape)
        axis = norm_axis(self.axis, rank)
        c = shape[axis]
        # (B, ..., C, ...) -> (B, ..., G, C/G, ...): statistics over all but batch and group
        grouped = [0] + [d for d in shape[1:axis]] + [self.groups, c // self.groups] + list(shape[axis + 1:])
        xg = em.reshape(x, grouped)
        red = [a for a in range(1, rank + 1) if a != axis]
        mean = em.reduce("ReduceMean", xg, red)
        d = em.op("Sub", xg, mean)
        var = em.reduce("ReduceMean", em.op("Mul", d, d), red)
        y = em.op("Div", d, em.op("Sqrt", em.op("Add", var, em.const(np.float32(self.epsilon)))))
        y = em.reshape(y, [0] + list(shape[1:]))
        if self.gamma is not None:
            y = em.op("Mul", y, em.broadcast_to_axis(em.weight(self.gamma), rank, [axis]))
        if self.beta is not None:
            y = em.op("Add", y, em.broadcast_to_axis(em.weight(self.beta), rank, [axis]))
        return y


class UnitNormalization(Layer):
    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, em, x, mask=None):
        axes = _axes(self.axis, em.rank(x))
        ss = em.reduce("ReduceSum", em.op("Mul", x, x), axes)
        inv = em.op("Reciprocal", em.op("Sqrt", em.op("Max", ss, em.const(np.float32(1e-12)))))
        return em.op("Mul", x, inv)
