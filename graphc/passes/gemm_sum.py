"""A sum of Gemm products -> one Gemm over the concatenated operands."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.base import NodeRewrite, bypass
from graphc.passes.gemm_fusion import _GEMM_DTYPES
from graphc.passes.predicates import is_op, movable, sole_consumer, tensor_type


class GemmSumConcat(NodeRewrite):
    """Sum(Gemm(A_1, B_1), ..., Gemm(A_k, B_k)) (or Add of two) -> Gemm(Concat(A_i), Concat(B_i)),
    the operands joined along their contracted dim: sum_i A_i'B_i = [A_1' ... A_k'][B_1; ...; B_k].
    Every Gemm must be read only by the sum, have no C, and share alpha, transA and transB and the
    (M, N) result type.

    This is the gradient of a weight that an unrolled recurrence reads at every step (autodiff
    sums one h_t' dz_t per step): one Gemm with the steps' rows stacked, instead of k weight-sized
    products and their sum. Done when the joined operands hold fewer elements than the k products:
    sum_i K_i (M + N) < k M N; with a symbolic contracted dim (a batch) when M N >= 64 (M + N),
    that bound for batches of up to 64 rows.

    Left alone: sums with other terms, fewer than two Gemms, Gemms read elsewhere, with a C, with
    differing attributes or types, unknown shapes, non-float dtypes.
    """

    name = "gemm-sum-concat"
    ops = ("Sum", "Add")

    def rewrite(self, g: Graph, node: str) -> int:
        ins = g.input_values(node)
        if len(ins) < 2 or len(set(ins)) != len(ins) or any(
                v is None or v[1] != 0 or not is_op(g, v[0], "Gemm") or not movable(g, v[0])
                or sole_consumer(g, v) is None for v in ins):
            return 0
        gemms = [v[0] for v in ins]
        keys = {_key(g, n) for n in gemms}
        if len(keys) != 1 or None in keys:
            return 0
        alpha, ta, tb, yt = next(iter(keys))
        if not _worth_it(g, gemms, ta, yt):
            return 0
        a_axis, b_axis = (0 if ta else 1), (1 if tb else 0)
        a = _concat(g, [g.input_values(n)[0] for n in gemms], a_axis, node)
        b = _concat(g, [g.input_values(n)[1] for n in gemms], b_axis, node)
        gemm = g.add_node("Gemm", [a, b], {"alpha": alpha, "transA": ta, "transB": tb}, outputs=[yt],
                          name=f"{node}_gemm")
        bypass(g, node, (gemm, 0))
        for n in gemms:
            g.remove_node(n)
        return 1


def _key(g: Graph, gemm: str):
    ins, yt = g.input_values(gemm), tensor_type(g, (gemm, 0))
    if (len(ins) > 2 and ins[2] is not None) or yt is None or yt.dtype not in _GEMM_DTYPES or yt.rank != 2 \
            or any(tensor_type(g, v) is None or tensor_type(g, v).rank != 2 for v in ins[:2]):
        return None
    attrs = g.attrs(gemm)
    return float(attrs.get("alpha", 1.0)), int(attrs.get("transA", 0)), int(attrs.get("transB", 0)), yt


def _worth_it(g: Graph, gemms, ta, yt) -> bool:
    m, n = yt.shape
    if not (isinstance(m, int) and isinstance(n, int)):
        return False
    ks = [g.type_of(g.input_values(x)[0]).shape[0 if ta else 1] for x in gemms]
    if all(isinstance(k, int) for k in ks):
        return sum(ks) * (m + n) < len(gemms) * m * n
    return m * n >= 64 * (m + n)  # a symbolic K, taken as a batch of up to 64 rows per product


def _concat(g: Graph, values, axis: int, near: str):
    t = g.type_of(values[0])
    dims = [g.type_of(v).shape[axis] for v in values]
    total = int(np.sum(dims)) if all(isinstance(d, int) for d in dims) else None
    shape = tuple(total if i == axis else d for i, d in enumerate(t.shape))
    return (g.add_node("Concat", values, {"axis": axis}, outputs=[t.with_shape(shape)], name=f"{near}_concat"), 0)
