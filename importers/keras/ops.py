"""Keras 3 functional configs can hold bare `keras.ops` calls as nodes (module `keras.src.ops.*`):
the mask an Embedding/Masking computes (`NotEqual`, `Any`) and scalar arithmetic in application
models (`Add(x, 3.0)`, `Multiply(x, 1/6)`). Each becomes a small layer emitting the same ONNX op."""
from __future__ import annotations

import numpy as np

from graphc.errors import UnsupportedOpError
from graphc.nn.base import Layer

_BINARY = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div", "TrueDivide": "Div",
           "Maximum": "Max", "Minimum": "Min", "Power": "Pow", "Equal": "Equal", "Greater": "Greater",
           "GreaterEqual": "GreaterOrEqual", "Less": "Less", "LessEqual": "LessOrEqual",
           "LogicalAnd": "And", "LogicalOr": "Or"}
_REDUCE = {"Any": "ReduceMax", "All": "ReduceMin", "Sum": "ReduceSum", "Mean": "ReduceMean",
           "Max": "ReduceMax", "Min": "ReduceMin"}
SUPPORTED = sorted(set(_BINARY) | set(_REDUCE) | {"NotEqual", "LogicalNot", "Cast"})


class KerasOp(Layer):
    """One `keras.ops` call; `op` is its Keras class name (e.g. 'NotEqual')."""

    def __init__(self, op: str, axis=None, keepdims=False, dtype=None, **kwargs):
        if op not in SUPPORTED:
            raise UnsupportedOpError(f"layer {kwargs.get('name')!r}: keras op {op!r} is not supported "
                                     f"(supported ops: {', '.join(SUPPORTED)})")
        super().__init__(**kwargs)
        self.op, self.axis, self.keepdims, self.to = op, axis, bool(keepdims), dtype

    def call(self, em, x, mask=None):
        args = x if isinstance(x, list) else [x]
        tensor = next(a for a in args if isinstance(a, tuple))
        dtype = em.type(tensor).dtype
        vals = [a if isinstance(a, tuple) else em.const(np.asarray(a, dtype), dtype) for a in args]
        if self.op in _BINARY:
            return em.op(_BINARY[self.op], *vals)
        if self.op == "NotEqual":
            return em.op("Not", em.op("Equal", *vals))
        if self.op == "LogicalNot":
            return em.op("Not", vals[0])
        if self.op == "Cast":
            from onnx import helper

            return em.op("Cast", vals[0], to=helper.np_dtype_to_tensor_dtype(np.dtype(self.to)))
        v = vals[0]
        is_bool = dtype == np.bool_
        if is_bool:
            v = em.op("Cast", v, to=1)
        axes = list(range(1, em.rank(v))) if self.axis is None else (
            [self.axis] if isinstance(self.axis, int) else list(self.axis))
        y = em.reduce(_REDUCE[self.op], v, axes, self.keepdims)
        return em.op("Cast", y, to=9) if is_bool else y
