import numpy as np

from graphc.ir import Graph
from graphc.passes import DeadCodeElimination
from tests.passes.helpers import check, const, f32, ops


def test_removes_unreachable_nodes_and_constants():
    g = Graph()
    x = g.add_input("x", f32(2, 3))
    dead = g.add_node("Exp", [x])
    g.add_node("Add", [(dead, 0), const(g, np.ones(3))])
    y = g.add_node("Relu", [x])
    g.add_output("y", (y, 0))
    out = check(g, [DeadCodeElimination()])
    assert ops(out) == ["Relu"]
    assert len(out.constants()) == 0


def test_keeps_inputs_variables_and_graph_outputs():
    g = Graph()
    x = g.add_input("x", f32(2))
    g.add_input("unused", f32(2))
    g.add_variable(np.ones(2, np.float32), name="w")
    g.add_output("x_out", x)
    out = check(g, [DeadCodeElimination()], expect_change=False)
    assert set(out.inputs) == {"x", "unused"} and out.variables() == ["w"]
