"""`Scalars`: float32 arithmetic on graph values for one update graph.

Python numbers become float32 constants, one node per distinct value (a model with hundreds of
parameters shares its `1 - beta_1`). Hyper-parameters are folded in double precision first and
rounded once, as Keras's torch back end does when it multiplies a float32 tensor by a Python float.
"""
from __future__ import annotations

import numpy as np
from onnx import helper

F32 = np.dtype(np.float32)


def is_value(x) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str)


class Scalars:
    def __init__(self, em):
        self.em = em
        self._consts: dict[float, tuple] = {}

    def c(self, x):
        if is_value(x):
            return x
        key = float(np.float32(x))
        if key not in self._consts:
            self._consts[key] = self.em.const(np.float32(key), name="opt_const")
        return self._consts[key]

    def _op(self, op, *xs, **attrs):
        return self.em.op(op, *[self.c(x) for x in xs], **attrs)

    def add(self, a, b):
        return self._op("Add", a, b)

    def sub(self, a, b):
        return self._op("Sub", a, b)

    def mul(self, a, b):
        return self._op("Mul", a, b)

    def div(self, a, b):
        return self._op("Div", a, b)

    def pow(self, a, b):
        return self._op("Pow", a, b)

    def max(self, a, b):
        return self._op("Max", a, b)

    def min(self, a, b):
        return self._op("Min", a, b)

    def square(self, a):
        return self._op("Mul", a, a)

    def unary(self, op, a):
        return self._op(op, a)

    def sqrt(self, a):
        return self._op("Sqrt", a)

    def where(self, cond, a, b):
        return self.em.op("Where", cond, self.c(a), self.c(b))

    def compare(self, op, a, b):
        return self._op(op, a, b)

    def sum_squares(self, x):
        """sum(x * x) over every axis, a scalar."""
        sq = self.square(x)
        rank = self.em.rank(x)
        return self.em.reduce("ReduceSum", sq, list(range(rank)), keepdims=False) if rank else sq

    def to_float(self, v):
        if np.dtype(self.em.type(v).dtype) == F32:
            return v
        return self.em.op("Cast", v, to=int(helper.np_dtype_to_tensor_dtype(F32)))
