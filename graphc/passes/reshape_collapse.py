"""Collapse of chains of Reshape/Flatten/Squeeze/Unsqueeze."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.base import Pass
from graphc.passes.layout import reshape_target
from graphc.passes.predicates import is_op, movable, opset, tensor_type

_SHAPE_ONLY = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


class ReshapeCollapse(Pass):
    """A Reshape/Flatten/Squeeze/Unsqueeze reading another one (any chain of them) becomes one
    Reshape of the chain's start to its own output shape, written as a constant (known dims,
    0 to copy a symbolic dim in place, -1 for one unknown dim). The inner nodes stay while
    something else reads them.

    Left alone: a single shape-only op, an output shape that one constant cannot describe (two
    unknown dims, or a known 0 dim), Reshape with allowzero=1, graphs below opset 5.
    """

    name = "reshape-collapse"

    def run(self, graph: Graph) -> int:
        if opset(graph) < 5:
            return 0
        n = 0
        for node in list(graph.nodes):
            if node not in graph or not self._shape_only(graph, node):
                continue
            src = graph.input_values(node)[0]
            if not self._shape_only(graph, src[0]):
                continue
            while self._shape_only(graph, src[0]):
                src = graph.input_values(src[0])[0]
            t_in, t_out = tensor_type(graph, src), tensor_type(graph, (node, 0))
            target = reshape_target(t_in.shape, t_out.shape) if t_in is not None and t_out is not None else None
            if target is None:
                continue
            shape = graph.add_constant(np.array(target, dtype=np.int64), name=f"{node}_shape")
            new = graph.add_node("Reshape", [src, shape], {}, outputs=[t_out], name=node,
                                 names=list(graph.data(node)["names"]))
            graph.replace_uses((node, 0), (new, 0))
            graph.remove_node(node)
            n += 1
        return n

    @staticmethod
    def _shape_only(g: Graph, node: str) -> bool:
        return (is_op(g, node, *_SHAPE_ONLY) and movable(g, node)
                and not g.attrs(node).get("allowzero", 0))
