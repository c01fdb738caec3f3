"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot."""
from __future__ import annotations

import numpy as np

from graphc.nn.base import Layer
from graphc.ops.registry import norm_axis


class _Merge(Layer):
    supports_masking = True
    onnx_op = "Sum"

    def call(self, em, x, mask=None):
        if len(x) == 1:
            return x[0]
        # two-input Sum is written as Add, the form the fusion passes and ONNX Runtime match
        return em.op("Add" if self.onnx_op == "Sum" and len(x) == 2 else self.onnx_op, *x)

    def compute_mask(self, em, x, mask):
        if mask is None:
            return None
        ms = [m for m in mask if m is not None]
        out = ms[0]
        for m in ms[1:]:
            out = em.op("And", out, m)
        return out


class Add(_Merge):
    onnx_op = "Sum"


class Average(_Merge):
    onnx_op = "Mean"


class Maximum(_Merge):
    onnx_op = "Max"


class Minimum(_Merge):
    onnx_op = "Min"


class Multiply(_Merge):
    def call(self, em, x, mask=None):
        out = x[0]
        for v in x[1:]:
            out = em.op("Mul", out, v)
        return out


class Subtract(_Merge):
    def call(self, em, x, mask=None):
        return em.op("Sub", x[0], x[1])


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, em, x, mask=None):
        return em.concat(list(x), norm_axis(self.axis, em.rank(x[0])))


class Dot(Layer):
    """Batched dot product over `axes` of two tensors (batch dim excluded), optionally of L2-normalised inputs."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes, self.normalize = axes, bool(normalize)

    def call(self, em, x, mask=None):
        a, b = x
        ra, rb = em.rank(a), em.rank(b)
        axes = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        ax = norm_axis(axes[0], ra)
        bx = norm_axis(axes[1], rb)
        if self.normalize:
            a, b = _l2_normalize(em, a, ax), _l2_normalize(em, b, bx)
        # move the contracted axis of a last and of b second (after batch), then batched MatMul
        a = em.transpose(a, [i for i in range(ra) if i != ax] + [ax])
        b = em.transpose(b, [0, bx] + [i for i in range(1, rb) if i != bx])
        if ra == 2:
            a = em.unsqueeze(a, [1])
        if rb == 2:
            b = em.unsqueeze(b, [2])
        # flatten any middle axes to one so MatMul sees (B, m, k) @ (B, k, n)
        sa, sb = em.shape(a), em.shape(b)
        out = em.op("MatMul", em.reshape(a, [0, -1, sa[-1]]), em.reshape(b, [0, sb[1], -1]))
        out_shape = [0] + list(sa[1:-1] if ra > 2 else []) + list(sb[2:] if rb > 2 else [])
        if len(out_shape) == 1:
            out_shape.append(1)
        return em.reshape(out, out_shape)


def _l2_normalize(em, x, axis):
    ss = em.reduce("ReduceSum", em.op("Mul", x, x), [axis])
    return em.op("Mul", x, em.op("Reciprocal", em.op("Sqrt", em.op("Max", ss, em.const(np.float32(1e-12))))))
