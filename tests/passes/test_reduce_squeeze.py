import numpy as np

from graphc.ir import Graph
from graphc.passes import ReduceSqueeze
from tests.passes.helpers import check, const, f32, ops


def _ints(g, v):
    return const(g, np.asarray(v, np.int64), np.int64)


def test_a_bias_gradient_reduces_without_keepdims():
    g = Graph()
    x = g.add_input("x", f32("batch", 4, 3))
    for name, op, axes, squeeze in (("sum", "ReduceSum", [0, 1], [1, 0]), ("mean", "ReduceMean", [-1], [2])):
        r = (g.add_node(op, [x, _ints(g, axes)], {"keepdims": 1}), 0)
        g.add_output(name, (g.add_node("Squeeze", [r, _ints(g, squeeze)]), 0))
    out = check(g, [ReduceSqueeze()])
    assert ops(out) == ["ReduceMean", "ReduceSum"]


def test_leaves_other_axes_shared_reductions_and_bare_squeezes():
    g = Graph()
    x = g.add_input("x", f32(1, 4, 1))
    r = (g.add_node("ReduceSum", [x, _ints(g, [1])], {"keepdims": 1}), 0)
    g.add_output("other_axes", (g.add_node("Squeeze", [r, _ints(g, [0])]), 0))
    shared = (g.add_node("ReduceMax", [x, _ints(g, [1])], {"keepdims": 1}), 0)
    g.add_output("shared", shared)
    g.add_output("shared_squeezed", (g.add_node("Squeeze", [shared, _ints(g, [1])]), 0))
    bare = (g.add_node("ReduceSum", [x, _ints(g, [0])], {"keepdims": 1}), 0)
    g.add_output("bare", (g.add_node("Squeeze", [bare]), 0))
    out = check(g, [ReduceSqueeze()], expect_change=False)
    assert ops(out).count("Squeeze") == 3
