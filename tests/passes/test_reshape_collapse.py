import numpy as np

from graphc.ir import Graph
from graphc.passes import DeadCodeElimination, ReshapeCollapse
from tests.passes.helpers import check, const, f32, ops


def test_chains_collapse_to_one_reshape():
    g = Graph()
    x = g.add_input("x", f32("batch", 4, 1, 6))
    a = g.add_node("Squeeze", [x, const(g, [2], np.int64)])
    b = g.add_node("Flatten", [(a, 0)], {"axis": 1})
    c = g.add_node("Unsqueeze", [(b, 0), const(g, [1], np.int64)])
    d = g.add_node("Reshape", [(c, 0), const(g, [0, 0, 4, 6], np.int64)])
    g.add_output("y", (d, 0))
    g.add_output("flat", (b, 0))  # an inner value still read: it stays
    out = check(g, [ReshapeCollapse(), DeadCodeElimination()])
    assert ops(out) == ["Flatten", "Reshape", "Squeeze"] or ops(out) == ["Reshape", "Reshape"]


def test_leaves_single_ops_and_undescribable_shapes():
    g = Graph()
    x = g.add_input("x", f32("a", "b", 6))
    f = g.add_node("Flatten", [x], {"axis": 2})  # (?, 6): the first dim is a * b
    g.add_output("f", (f, 0))
    r = g.add_node("Reshape", [(f, 0), const(g, [-1, 2, 3], np.int64)])
    r2 = g.add_node("Reshape", [(r, 0), const(g, [0, 0, 0], np.int64)])
    g.add_output("y", (r2, 0))
    g.add_output("z", (g.add_node("Unsqueeze", [x, const(g, [0], np.int64)]), 0))
    out = check(g, [ReshapeCollapse()], expect_change=True)
    assert ops(out).count("Reshape") == 2
