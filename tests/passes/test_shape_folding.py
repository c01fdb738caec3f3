import numpy as np

from graphc.ir import Graph
from graphc.passes import ConstantFolding, DeadCodeElimination, ShapeFolding
from tests.passes.helpers import check, const, f32, ops


def _passes():
    return [ShapeFolding(), ConstantFolding(), DeadCodeElimination()]


def test_static_shape_chain_becomes_constant_reshape():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4))
    s = g.add_node("Shape", [x])
    d0 = g.add_node("Gather", [(s, 0), const(g, [0], np.int64)], {"axis": 0})
    cat = g.add_node("Concat", [(d0, 0), const(g, [-1], np.int64)], {"axis": 0})
    y = g.add_node("Reshape", [x, (cat, 0)])
    g.add_output("y", (y, 0))
    g.add_output("n", (g.add_node("Size", [x]), 0))
    out = check(g, _passes())
    assert ops(out) == ["Reshape"]


def test_symbolic_batch_selects_known_dims_and_copies_batch():
    g = Graph()
    x = g.add_input("x", f32("batch", 3, 4))
    s = g.add_node("Shape", [x])
    batch = g.add_node("Gather", [(s, 0), const(g, [0], np.int64)], {"axis": 0})
    tail = g.add_node("Slice", [(s, 0), const(g, [1], np.int64), const(g, [3], np.int64)])
    prod = g.add_node("ReduceProd", [(tail, 0)], {"keepdims": 1})
    cat = g.add_node("Concat", [(batch, 0), (prod, 0)], {"axis": 0})
    y = g.add_node("Reshape", [x, (cat, 0)])
    g.add_output("y", (y, 0))
    out = check(g, _passes())
    assert ops(out) == ["Reshape"]
    r = next(n for n, d in out.nx.nodes(data=True) if d["op"] == "Reshape")
    assert out.const_value(out.input_values(r)[1]).tolist() == [0, 12]


def test_unknown_dims_are_left_alone():
    g = Graph()
    x = g.add_input("x", f32("batch", "seq"))
    s = g.add_node("Shape", [x])
    b = g.add_node("Gather", [(s, 0), const(g, 1, np.int64)], {"axis": 0})
    g.add_output("b", (b, 0))
    out = check(g, _passes(), expect_change=False)
    assert ops(out) == ["Gather", "Shape"]
