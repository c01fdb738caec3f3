"""Dead-code elimination."""
from __future__ import annotations

from graphc.ir import Graph
from graphc.passes.base import Pass


class DeadCodeElimination(Pass):
    """Removes every node no graph output depends on.

    Kept: graph `Input`s (they are the signature) and `Variable`s (trainable state that a
    training step may still update). Body graphs of If/Loop/Scan are left alone; the outer
    values they capture are inputs of their node, so they stay alive with it.
    """

    name = "dead-code-elimination"

    def run(self, graph: Graph) -> int:
        live = set()
        stack = [v[0] for _, v in graph.outputs]
        pred = graph.nx.pred
        while stack:
            n = stack.pop()
            if n in live:
                continue
            live.add(n)
            stack.extend(u for u in pred[n] if u not in live)
        nodes = graph.nx.nodes
        dead = [n for n, d in nodes.items()
                if n not in live and not (d["op"] in ("Input", "Variable") and d["domain"] == "")]
        graph.nx.remove_nodes_from(dead)
        return len(dead)
