"""MatMul + Add -> Gemm."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.base import NodeRewrite
from graphc.passes.predicates import is_op, movable, sole_consumer, tensor_type

_GEMM_DTYPES = frozenset({np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)})


class MatMulAddToGemm(NodeRewrite):
    """Add(MatMul(A, B), C) (either operand order) -> Gemm(A, B, C) when A and B are 2-D, the
    MatMul's only reader is the Add, and C (any value, constant or not) broadcasts to the
    (M, N) result without changing it: shapes (), (N,), (1, N), (M, 1), (M, N), ...

    Left alone: operands of rank other than 2 (Gemm is strictly 2-D), unknown shapes, integer
    dtypes, an Add that would broadcast the product to a larger shape.
    """

    name = "matmul-add-to-gemm"
    ops = ("Add",)

    def rewrite(self, g: Graph, add: str) -> int:
        ins = g.input_values(add)
        for mm, c in ((ins[0], ins[1]), (ins[1], ins[0])):
            if not is_op(g, mm[0], "MatMul") or not movable(g, mm[0]) or sole_consumer(g, mm) is None:
                continue
            a, b = g.input_values(mm[0])
            ta, tb, tc, ty = (tensor_type(g, v) for v in (a, b, c, mm))
            if None in (ta, tb, tc, ty) or ta.rank != 2 or tb.rank != 2 or ty.dtype not in _GEMM_DTYPES:
                continue
            if tc.dtype != ty.dtype or tc.rank > 2 or not _fits(tc.shape, ty.shape):
                continue
            out = g.type_of((add, 0))
            gemm = g.add_node("Gemm", [a, b, c], {}, outputs=[out], name=f"{mm[0]}_gemm",
                              names=list(g.data(add)["names"]))
            g.replace_uses((add, 0), (gemm, 0))
            g.remove_node(add)
            g.remove_node(mm[0])
            return 1
        return 0


def _fits(c_shape, y_shape) -> bool:
    """C of shape `c_shape` broadcasts unidirectionally to a (M, N) result `y_shape`."""
    tail = y_shape[len(y_shape) - len(c_shape):]
    return all(c == 1 or (isinstance(c, int) and c == y) or (isinstance(c, str) and c == y)
               for c, y in zip(c_shape, tail))
