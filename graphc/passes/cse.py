"""Common-subexpression elimination."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.ops.registry import traits_of
from graphc.passes.base import Pass
from graphc.passes.predicates import movable
_CONST_HASH_LIMIT = 1 << 16  # larger constants are never compared (hashing weights costs more than it saves)


class CommonSubexpressionElimination(Pass):
    """Merges nodes that compute the same thing: same op, domain, attributes and input values
    (operands of commutative binary ops in either order), and `Constant`s holding equal arrays
    of the same dtype (up to 65,536 elements). Readers of the duplicate, graph outputs included,
    move to the kept node; merging repeats through the consumers it makes equal.

    Left alone: graph inputs, `Variable`s, random ops, nodes with body graphs or captures,
    non-standard domains, and attributes that cannot be compared (NaN floats never match).
    """

    name = "common-subexpression-elimination"

    def run(self, graph: Graph) -> int:
        table: dict = {}
        work = list(graph.nodes)
        merged = 0
        while work:
            node = work.pop()
            if node not in graph:
                continue
            key = _key(graph, node)
            if key is None:
                continue
            other = table.get(key)
            if other is None or other == node or other not in graph or _key(graph, other) != key:
                table[key] = node
                continue
            for i in range(len(graph.data(node)["outputs"])):
                work.extend(c for c, _ in graph.consumers((node, i)))  # their keys change
                graph.replace_uses((node, i), (other, i))
            graph.remove_node(node)
            merged += 1
        return merged


def _key(g: Graph, node: str):
    d = g.data(node)
    if d["op"] == "Constant" and d["domain"] == "":
        arr = d["attrs"].get("value")
        if not isinstance(arr, np.ndarray) or arr.size > _CONST_HASH_LIMIT or arr.dtype == object:
            return None
        return ("Constant", str(arr.dtype), arr.shape, arr.tobytes())
    if not movable(g, node):
        return None
    attrs = _freeze(d["attrs"])
    if attrs is None:
        return None
    ins = tuple(g.input_values(node))
    if len(ins) == 2 and "commutative" in traits_of(d["op"]) and ins[0] is not None and ins[1] is not None:
        ins = tuple(sorted(ins))
    return (d["op"], attrs, ins, len(d["outputs"]))


def _freeze(value):
    """A hashable, exact form of an attribute value (None when it cannot be compared)."""
    if isinstance(value, dict):
        items = []
        for k in sorted(value):
            v = _freeze(value[k])
            if v is None:
                return None
            items.append((k, v))
        return tuple(items)
    if isinstance(value, np.ndarray):
        if value.dtype == object or (value.dtype.kind == "f" and np.isnan(value).any()):
            return None
        return ("nd", str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        items = [_freeze(v) for v in value]
        return None if any(v is None for v in items) else ("seq", tuple(items))
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, bytes, int, float, bool, np.generic)):
        return (type(value).__name__, value)
    return None
