import numpy as np

from graphc.autodiff import gradient_graph
from graphc.ir import Graph
from graphc.passes.gather_split import GatherToSplit
from tests.passes.helpers import check, const, evaluate, f32, ops, random_inputs


def _steps(g, x, indices, axis=1):
    return [(g.add_node("Gather", [x, const(g, np.int64(i), np.int64)], {"axis": axis}), 0) for i in indices]


def test_every_step_of_an_axis_reads_one_split():
    g = Graph()
    x = g.add_input("x", f32("batch", 5, 3))
    for i, v in enumerate(_steps(g, x, [0, 1, 2, 3, -1])):  # -1 is step 4
        g.add_output(f"y{i}", (g.add_node("Tanh", [v]), 0))
    out = check(g, [GatherToSplit()])
    assert ops(out) == ["Split"] + ["Squeeze"] * 5 + ["Tanh"] * 5


def test_the_gradient_through_the_split_is_the_gathers_gradient():
    # an unrolled recurrence over a Variable-weighted projection: h = tanh(x_t W + h)
    g = Graph()
    x = g.add_input("x", f32(2, 4, 3))
    w = g.add_variable(np.random.default_rng(1).standard_normal((3, 3)).astype(np.float32), name="w")
    xw = (g.add_node("MatMul", [x, w]), 0)
    h = None
    for xt in _steps(g, xw, range(4)):
        h = (g.add_node("Tanh", [xt if h is None else (g.add_node("Add", [xt, h]), 0)]), 0)
    loss = (g.add_node("ReduceSum", [h], {"keepdims": 0}), 0)
    g.add_output("loss", loss)
    split = g.copy()
    assert GatherToSplit().run(split) == 1
    split.verify()
    want, got = gradient_graph(g, "loss"), gradient_graph(split, "loss")
    assert "ScatterElements" not in ops(got) and "Concat" in ops(got)
    feeds = random_inputs(g)
    for a, b in zip(evaluate(want, feeds), evaluate(got, feeds)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_leaves_sparse_computed_and_symbolic_axes():
    g = Graph()
    x = g.add_input("x", f32(2, 8))
    for i, v in enumerate(_steps(g, x, [0, 7])):  # 2 of 8 steps: the Split would materialize 6 unread parts
        g.add_output(f"sparse{i}", v)
    s = g.add_input("s", f32(2, "time"))
    for i, v in enumerate(_steps(g, s, [0, 1])):
        g.add_output(f"sym{i}", v)
    t = g.add_input("t", f32(2, 2))
    idx = g.add_input("i", f32(1))  # its size, 1, is the index: computed, not a constant
    computed = (g.add_node("Cast", [(g.add_node("Size", [idx]), 0)], {"to": 7}), 0)
    g.add_output("computed", (g.add_node("Gather", [t, computed], {"axis": 1}), 0))
    g.add_output("computed0", _steps(g, t, [0])[0])
    out = check(g, [GatherToSplit()], expect_change=False)
    assert "Split" not in ops(out)
