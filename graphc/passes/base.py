"""The pass base class, the one driver of node-by-node rewrites, and the rewrite steps passes share."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph, Value
from graphc.passes.predicates import movable, opset, used
from graphc.types import TensorType

# ops whose attributes hold body graphs, which NodeRewrite passes also rewrite
BODY_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})


class Pass:
    """A graph rewrite: `run(graph)` mutates `graph` in place and returns the number of rewrites."""

    name = "pass"

    def run(self, graph: Graph) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<pass {self.name}>"


class NodeRewrite(Pass):
    """A pass made of one local rewrite: `rewrite(graph, node)` is tried on every movable
    standard-domain node whose op is in `ops` (every op when `ops` is None) and returns how many
    rewrites it made there (0: left alone). Graphs below `min_opset` are left alone. With
    `bodies` (the default) the If/Loop/Scan bodies are rewritten too, innermost first: a body's
    outer values are `Capture` nodes, never constants, so a local rewrite is as valid there."""

    ops: tuple[str, ...] | None = None
    min_opset = 0
    bodies = True

    def rewrite(self, graph: Graph, node: str) -> int:
        raise NotImplementedError

    def run(self, graph: Graph) -> int:
        n = 0
        rewrites, ops = opset(graph) >= self.min_opset, self.ops
        for node, d in list(graph.node_items()):  # one scan finds the bodies and the candidates
            if d["domain"] or node not in graph:
                continue
            if d["op"] in BODY_OPS:
                if self.bodies:
                    n += sum(self.run(body) for _, body in graph.subgraphs(node))
            elif rewrites and (ops is None or d["op"] in ops) and movable(graph, node):
                n += self.rewrite(graph, node)
        return n


def body_graphs(g: Graph) -> list[Graph]:
    """The body graphs of `g`'s If/Loop/Scan nodes (one level down)."""
    return [body for node, d in g.node_items() if d["op"] in BODY_OPS and d["domain"] == ""
            for _, body in g.subgraphs(node)]


def bypass(g: Graph, node: str, value: Value) -> None:
    """Make the readers of `node`'s output 0 read `value`, then drop `node`."""
    g.replace_uses((node, 0), value)
    g.remove_node(node)


def remove_if_dead(g: Graph, node: str) -> None:
    if node in g and not g.is_source(node) and not any(
            used(g, (node, i)) for i in range(len(g.data(node)["outputs"]))):
        g.remove_node(node)


def add_constant(g: Graph, array, near: str) -> Value:
    return g.add_constant(np.asarray(array), name=f"{near}_const")


def add_op(g: Graph, op: str, inputs, attrs: dict | None, out: TensorType, near: str) -> str:
    """A new single-output standard node typed `out` (passes know their result types)."""
    return g.add_node(op, inputs, attrs, outputs=[out], name=f"{near}_{op.lower()}")
