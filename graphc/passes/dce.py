"""Dead-code elimination."""
from __future__ import annotations

from graphc.ir import CAPTURE, Graph
from graphc.passes.base import Pass, body_graphs


class DeadCodeElimination(Pass):
    """Removes every node no graph output depends on, in If/Loop/Scan bodies too (the debris of
    the rewrites made there).

    Kept: graph `Input`s (they are the signature), `Variable`s (trainable state that a
    training step may still update) and a body's `Capture`s; the outer values a body captures
    are inputs of its node, so they stay alive with it.
    """

    name = "dead-code-elimination"

    def run(self, graph: Graph) -> int:
        removed = sum(self.run(body) for body in body_graphs(graph))
        live = set()
        stack = [v[0] for _, v in graph.outputs]
        while stack:
            n = stack.pop()
            if n in live:
                continue
            live.add(n)
            stack.extend(u for u in graph.feeders(n) if u not in live)
        dead = [n for n, d in graph.node_items()
                if n not in live and not (d["op"] in ("Input", "Variable") and d["domain"] == "") and d["op"] != CAPTURE]
        graph.remove_nodes(dead)
        return removed + len(dead)
