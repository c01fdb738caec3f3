"""Squeeze of a keepdims reduction over the same axes -> the reduction with keepdims=0."""
from __future__ import annotations

from graphc.ir import Graph
from graphc.ops.registry import norm_axis
from graphc.passes.base import NodeRewrite, bypass
from graphc.passes.predicates import axes_from_input, const_ints, movable, sole_consumer, tensor_type

REDUCTIONS = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")


class ReduceSqueeze(NodeRewrite):
    """Squeeze(Reduce*(x, axes, keepdims=1), axes) -> Reduce*(x, axes, keepdims=0), the same axes
    (constant, either spelling: the attribute before opset 13/18, the input after). A bias's
    gradient is written this way (autodiff's unbroadcast sums with keepdims, then squeezes the
    leading axes): one node and one copy fewer.

    Left alone: a reduction read by anything else, differing or computed axes, a Squeeze without
    axes, unknown ranks.
    """

    name = "reduce-squeeze"
    ops = ("Squeeze",)
    min_opset = 13

    def rewrite(self, g: Graph, node: str) -> int:
        r = g.input_values(node)[0]
        if g.op(r[0]) not in REDUCTIONS or g.data(r[0])["domain"] or not movable(g, r[0]) \
                or sole_consumer(g, r) is None or not g.attrs(r[0]).get("keepdims", 1):
            return 0
        t = tensor_type(g, r)
        squeezed = const_ints(g, node, 1)
        by_input = axes_from_input(g, r[0])
        reduced = const_ints(g, r[0], 1) if by_input else g.attrs(r[0]).get("axes")
        if t is None or not squeezed or not reduced or \
                sorted(norm_axis(a, t.rank) for a in squeezed) != sorted(norm_axis(a, t.rank) for a in reduced):
            return 0
        g.attrs(r[0])["keepdims"] = 0
        g.set_output_type(r, g.type_of((node, 0)))
        bypass(g, node, r)
        return 1
