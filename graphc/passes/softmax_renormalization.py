"""Div(p, ReduceSum(p, axis)) of a Softmax p along the same axis -> p."""
from __future__ import annotations

from graphc.ir import Graph
from graphc.ops.registry import norm_axis
from graphc.passes.base import NodeRewrite, bypass, remove_if_dead
from graphc.passes.predicates import axes_from_input, const_ints, is_op, movable, tensor_type


class SoftmaxRenormalization(NodeRewrite):
    """Div(p, ReduceSum(p, [a], keepdims=1)) where p = Softmax(z, axis=a) -> p: a softmax already
    sums to 1 along its axis, so the division changes its values only by rounding (~1 ulp).

    Keras's probabilistic losses renormalize their input this way (`output / sum(output)`) before
    the log; after a softmax output layer the Div, the ReduceSum and, differentiated, the Div's
    quotient-rule gradient are all work for nothing (the loss's gradient with respect to z is the
    same, since the renormalization is the identity on what a softmax can output). The train
    step runs this pass before autodiff.

    Left alone: other axes or several, keepdims=0, a denominator that is not that same Softmax's
    sum, an opset-1 Softmax (it normalizes over all trailing axes coerced to 2-D), non-float types.
    """

    name = "softmax-renormalization"
    ops = ("Div",)
    min_opset = 13

    def rewrite(self, g: Graph, node: str) -> int:
        p, s = g.input_values(node)
        if not is_op(g, p[0], "Softmax") or not is_op(g, s[0], "ReduceSum") or not movable(g, s[0]):
            return 0
        t = tensor_type(g, p)
        if t is None or t.rank == 0 or g.input_values(s[0])[0] != p or not g.attrs(s[0]).get("keepdims", 1):
            return 0
        axes = const_ints(g, s[0], 1) if axes_from_input(g, s[0]) else g.attrs(s[0]).get("axes")
        if not axes or len(axes) != 1:
            return 0
        a = norm_axis(int(g.attrs(p[0]).get("axis", -1)), t.rank)
        if norm_axis(int(axes[0]), t.rank) != a or tensor_type(g, (node, 0)) != t:
            return 0
        bypass(g, node, p)
        remove_if_dead(g, s[0])
        return 1
