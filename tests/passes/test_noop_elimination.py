import numpy as np

from graphc.ir import Graph
from graphc.passes import DeadCodeElimination, NoOpElimination
from graphc.types import TensorType
from tests.passes.helpers import check, const, f32, ops


def _passes():
    return [NoOpElimination(), DeadCodeElimination()]


def test_removes_each_kind_of_noop():
    g = Graph()
    x = g.add_input("x", f32("batch", 3, 4))
    v = g.add_node("Identity", [x])
    v = g.add_node("Dropout", [(v, 0)])
    v = g.add_node("Cast", [(v, 0)], {"to": 1})
    v = g.add_node("Transpose", [(v, 0)], {"perm": [0, 1, 2]})
    v = g.add_node("Reshape", [(v, 0), const(g, [0, 3, 4], np.int64)])
    v = g.add_node("Expand", [(v, 0), const(g, [1, 4], np.int64)])
    v = g.add_node("Pad", [(v, 0), const(g, [0] * 6, np.int64)])
    v = g.add_node("Concat", [(v, 0)], {"axis": 0})
    y = g.add_node("Relu", [(v, 0)])
    g.add_output("y", (y, 0))
    out = check(g, _passes())
    assert ops(out) == ["Relu"]


def test_output_that_becomes_an_input_keeps_its_name():
    g = Graph()
    x = g.add_input("x", f32(2))
    g.add_output("y", (g.add_node("Identity", [x]), 0))
    out = check(g, _passes())
    assert out.outputs == [("y", ("x", 0))]


def test_leaves_real_work_alone():
    g = Graph()
    x = g.add_input("x", f32(2, 3))
    a = g.add_node("Cast", [x], {"to": 11})  # float -> double
    b = g.add_node("Transpose", [x], {"perm": [1, 0]})
    c = g.add_node("Reshape", [x, const(g, [3, 2], np.int64)])
    d = g.add_node("Expand", [x, const(g, [2, 2, 3], np.int64)])
    e = g.add_node("Pad", [x, const(g, [0, 1, 0, 0], np.int64)])
    f = g.add_node("Dropout", [x, const(g, 0.5), const(g, True, np.bool_)], n_outputs=2)  # training mode
    m = g.add_node("Dropout", [x], n_outputs=2)  # mask used
    for name, n in zip("abcdefm", (a, b, c, d, e, f, m)):
        g.add_output(name, (n, 0))
    g.add_output("mask", (m, 1))
    h = g.copy()  # training-mode Dropout is random, so this graph is checked structurally
    assert NoOpElimination().run(h) == 0
    h.verify()


def test_symbolic_reshape_is_kept_unless_copied_with_zero():
    g = Graph()
    x = g.add_input("x", TensorType(np.float32, ("n", 3)))
    a = g.add_node("Reshape", [x, const(g, [-1, 3], np.int64)])  # -1 might not be n... it is, but unprovable
    g.add_output("a", (a, 0))
    assert NoOpElimination().run(g.copy()) == 0
