import numpy as np

from graphc.autodiff import gradient_graph
from graphc.ir import Graph
from graphc.passes.softmax_renormalization import SoftmaxRenormalization
from tests.passes.helpers import check, const, evaluate, f32, ops, random_inputs


def _renormalized(g, p, axis, keepdims=1):
    total = (g.add_node("ReduceSum", [p, const(g, np.asarray([axis], np.int64), np.int64)], {"keepdims": keepdims}), 0)
    return (g.add_node("Div", [p, total]), 0)


def test_a_softmax_divided_by_its_own_sum_is_the_softmax():
    g = Graph()
    z = g.add_input("z", f32("batch", 3, 5))
    for name, axis, sum_axis in (("last", -1, 2), ("middle", 1, -2)):
        p = (g.add_node("Softmax", [z], {"axis": axis}), 0)
        g.add_output(name, (g.add_node("Log", [_renormalized(g, p, sum_axis)]), 0))
    out = check(g, [SoftmaxRenormalization()], rtol=1e-6)
    assert ops(out) == ["Log", "Log", "Softmax", "Softmax"]


def _count(g, op):
    return sum(g.op(n) == op for n in g.nx.nodes)


def test_the_cross_entropy_gradient_is_unchanged_and_smaller():
    g = Graph()
    x = g.add_input("x", f32(4, 6))
    y = g.add_input("y", f32(4, 3))
    w = g.add_variable(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32), name="w")
    p = (g.add_node("Softmax", [(g.add_node("MatMul", [x, w]), 0)], {"axis": -1}), 0)
    ce = (g.add_node("Mul", [y, (g.add_node("Log", [_renormalized(g, p, 1)]), 0)]), 0)
    g.add_output("loss", (g.add_node("Neg", [(g.add_node("ReduceSum", [ce], {"keepdims": 0}), 0)]), 0))
    simple = g.copy()
    assert SoftmaxRenormalization().run(simple) == 1
    want, got = gradient_graph(g, "loss"), gradient_graph(simple, "loss")
    assert len(got.nx) < len(want.nx) and _count(got, "Div") < _count(want, "Div")
    feeds = random_inputs(g)
    for a, b in zip(evaluate(want, feeds), evaluate(got, feeds)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_leaves_other_axes_sums_and_denominators():
    g = Graph()
    z = g.add_input("z", f32(2, 3, 4))
    p = (g.add_node("Softmax", [z], {"axis": -1}), 0)
    g.add_output("other_axis", _renormalized(g, p, 1))
    q = (g.add_node("Exp", [z]), 0)
    g.add_output("not_softmax", _renormalized(g, q, -1))
    other = (g.add_node("Softmax", [z], {"axis": -1}), 0)
    total = (g.add_node("ReduceSum", [other, const(g, np.asarray([-1], np.int64), np.int64)], {"keepdims": 1}), 0)
    g.add_output("other_sum", (g.add_node("Div", [p, total]), 0))
    out = check(g, [SoftmaxRenormalization()], expect_change=False)
    assert ops(out).count("Div") == 3
