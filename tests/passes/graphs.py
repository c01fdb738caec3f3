"""Graph builders shared by the pass tests: a MobileNetV2-like NHWC network in the form the Keras
importer emits (Transpose sandwiches around each channels-first op)."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.types import TensorType

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class NHWC:
    def __init__(self, g: Graph, seed: int = 0):
        self.g = g
        self.rng = np.random.default_rng(seed)

    def const(self, *shape, scale=0.3, positive=False):
        a = self.rng.standard_normal(shape).astype(np.float32) * scale
        return self.g.add_constant(np.abs(a) + 0.5 if positive else a)

    def conv(self, x, cin, cout, k=1, stride=1, group=1, pad=None):
        g = self.g
        pad = k // 2 if pad is None else pad
        t = g.add_node("Transpose", [x], {"perm": TO_NCHW})
        c = g.add_node("Conv", [(t, 0), self.const(cout, cin // group, k, k), self.const(cout)],
                       {"kernel_shape": [k, k], "strides": [stride, stride], "pads": [pad] * 4, "group": group})
        return (g.add_node("Transpose", [(c, 0)], {"perm": TO_NHWC}), 0)

    def bn(self, x, c):
        """Keras BatchNormalization on NHWC, emitted as per-channel Mul and Add."""
        m = self.g.add_node("Mul", [x, self.const(c, positive=True)])
        return (self.g.add_node("Add", [(m, 0), self.const(c)]), 0)

    def bn_sandwich(self, x, c):
        """... or as Transpose -> BatchNormalization -> Transpose."""
        g = self.g
        t = g.add_node("Transpose", [x], {"perm": TO_NCHW})
        b = g.add_node("BatchNormalization", [(t, 0), self.const(c, positive=True), self.const(c), self.const(c),
                                              self.const(c, positive=True)])
        return (g.add_node("Transpose", [(b, 0)], {"perm": TO_NHWC}), 0)

    def relu6(self, x):
        g = self.g
        return (g.add_node("Clip", [x, g.add_constant(np.float32(0)), g.add_constant(np.float32(6))]), 0)

    def block(self, x, cin, cout, expand, stride, sandwich=False):
        hidden = cin * expand
        h = self.relu6(self.bn(self.conv(x, cin, hidden), hidden))
        if stride == 2:  # Keras pads explicitly before a strided 'valid' depthwise conv
            h = (self.g.add_node("Pad", [h, self.g.add_constant(np.array([0, 0, 0, 0, 0, 1, 1, 0], np.int64))]), 0)
        h = self.conv(h, hidden, hidden, k=3, stride=stride, group=hidden, pad=0 if stride == 2 else 1)
        h = self.relu6(self.bn_sandwich(h, hidden) if sandwich else self.bn(h, hidden))
        h = self.bn(self.conv(h, hidden, cout), cout)
        if stride == 1 and cin == cout:
            h = (self.g.add_node("Add", [x, h]), 0)
        return h


def mobilenet_like(batch="batch", size=16, classes=5) -> Graph:
    g = Graph("mobilenet_like")
    b = NHWC(g)
    x = g.add_input("image", TensorType(np.float32, (batch, size, size, 3)))
    x = (g.add_node("Mul", [x, g.add_constant(np.float32(1 / 127.5))]), 0)  # Rescaling layer
    x = (g.add_node("Add", [x, g.add_constant(np.float32(-1))]), 0)
    h = b.relu6(b.bn(b.conv(x, 3, 8, k=3, stride=2), 8))
    h = b.block(h, 8, 8, expand=2, stride=1)
    h = b.block(h, 8, 12, expand=2, stride=2, sandwich=True)
    h = b.block(h, 12, 12, expand=2, stride=1)
    left = b.conv(h, 12, 6)
    right = b.relu6(b.conv(h, 12, 6, k=3))
    h = (g.add_node("Concat", [left, right], {"axis": -1}), 0)
    h = b.relu6(b.bn(b.conv(h, 12, 16), 16))
    pooled = g.add_node("ReduceMean", [h, g.add_constant(np.array([1, 2], np.int64))], {"keepdims": 0})
    logits = g.add_node("MatMul", [(pooled, 0), b.const(16, classes)])
    logits = g.add_node("Add", [(logits, 0), b.const(classes)])
    g.add_output("probs", (g.add_node("Softmax", [(logits, 0)], {"axis": -1}), 0))
    return g
