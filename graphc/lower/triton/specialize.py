"""A copy of a graph with every symbolic dim given a size: the shapes one program is written for.

The Input types take the sizes seen at run time, every node's types are inferred anew in
topological order (an opaque op keeps its types with the sizes substituted), and the graph is
optimized again, so Shape/Reshape arithmetic over the batch dim folds to constants.
"""
from __future__ import annotations

from graphc.errors import ShapeError
from graphc.ops import infer_node
from graphc.passes import optimize
from graphc.types import TensorType


def _concrete(t, sizes):
    if not isinstance(t, TensorType) or t.shape is None:
        return t
    return TensorType(t.dtype, tuple(sizes.get(d, d) if isinstance(d, str) else d for d in t.shape))


def _reinfer(g, sizes):
    for n in g.topo_order():
        d = g.data(n)
        if g.is_source(n):
            g.set_output_types(n, [_concrete(t, sizes) for t in d["outputs"]])
            continue
        types = infer_node(g, n, len(d["outputs"]))
        g.set_output_types(n, types if types is not None else [_concrete(t, sizes) for t in d["outputs"]])


def _unknown(g):
    for n in g.topo_order():
        for t in g.data(n)["outputs"]:
            if isinstance(t, TensorType) and (t.shape is None or not all(isinstance(x, int) for x in t.shape)):
                return n, t
    return None


def specialize(graph, sizes: dict):
    """`graph` with symbol -> size `sizes` applied, every shape concrete (else a ShapeError)."""
    g = graph.frozen()  # Variables (an O0 graph keeps them) are the program's weights too
    _reinfer(g, sizes)
    # folding Shape arithmetic makes Reshape targets constant, which makes more shapes known
    for _ in range(4):
        if _unknown(g) is None and not any(g.op(n) == "Shape" for n in g.op_nodes()):
            return g
        g = optimize(g, level="O2")
        _reinfer(g, sizes)
    if _unknown(g) is None:
        return g
    n, t = _unknown(g)
    raise ShapeError(f"node {n!r} ({g.op(n)}): shape {t} is not known for inputs {sizes}; the Triton "
                     f"backend writes code for concrete shapes: give the model's inputs fixed shapes")
