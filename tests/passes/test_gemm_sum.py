import numpy as np

from graphc.autodiff import gradient_graph
from graphc.ir import Graph
from graphc.passes import GemmSumConcat, optimize
from tests.passes.helpers import check, evaluate, f32, ops, random_inputs


def _gemm(g, a, b, **attrs):
    return (g.add_node("Gemm", [a, b], attrs), 0)


def test_a_sum_of_per_step_weight_gradients_is_one_gemm():
    # sum_t h_t' dz_t over a symbolic batch: the recurrent weight's gradient of an unrolled RNN
    g = Graph()
    hs = [g.add_input(f"h{t}", f32("batch", 128)) for t in range(4)]
    dzs = [g.add_input(f"dz{t}", f32("batch", 256)) for t in range(4)]
    g.add_output("dw", (g.add_node("Sum", [_gemm(g, h, dz, transA=1) for h, dz in zip(hs, dzs)]), 0))
    out = check(g, [GemmSumConcat()])
    assert ops(out) == ["Concat", "Concat", "Gemm"]


def test_static_operands_each_transpose_layout_and_add():
    g = Graph()
    for i, (ta, tb) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        a = [g.add_input(f"a{i}{j}", f32(*((2, 8) if ta else (8, 2)))) for j in range(2)]
        b = [g.add_input(f"b{i}{j}", f32(*((8, 2) if tb else (2, 8)))) for j in range(2)]
        terms = [_gemm(g, x, y, transA=ta, transB=tb, alpha=0.5) for x, y in zip(a, b)]
        g.add_output(f"y{i}", (g.add_node("Add", terms), 0))
    out = check(g, [GemmSumConcat()])
    assert ops(out).count("Gemm") == 4 and "Add" not in ops(out)


def test_leaves_mixed_shared_with_c_and_costly_sums():
    g = Graph()
    a, b = g.add_input("a", f32(4, 3)), g.add_input("b", f32(3, 5))
    c = g.add_input("c", f32(4, 5))
    g.add_output("mixed", (g.add_node("Sum", [_gemm(g, a, b), _gemm(g, a, b, alpha=2.0)]), 0))
    shared = _gemm(g, a, b)
    g.add_output("shared", shared)
    g.add_output("shared_sum", (g.add_node("Add", [shared, _gemm(g, a, b)]), 0))
    g.add_output("with_c", (g.add_node("Add", [(g.add_node("Gemm", [a, b, c]), 0), _gemm(g, a, b)]), 0))
    g.add_output("plus_c", (g.add_node("Add", [_gemm(g, a, b), c]), 0))
    wide = g.add_input("wide", f32(4, 30))
    wb = g.add_input("wb", f32(30, 5))
    g.add_output("costly", (g.add_node("Add", [_gemm(g, wide, wb), _gemm(g, wide, wb)]), 0))  # 70 x 9 > 2 x 20
    out = check(g, [GemmSumConcat()], expect_change=False)
    assert "Concat" not in ops(out)


def test_an_unrolled_recurrence_trains_to_the_same_gradient_through_o2():
    g = Graph()
    xs = [g.add_input(f"x{t}", f32("batch", 128)) for t in range(3)]
    w = g.add_variable(np.random.default_rng(0).standard_normal((128, 128)).astype(np.float32) * 0.1, name="w")
    r = g.add_variable(np.random.default_rng(1).standard_normal((128, 128)).astype(np.float32) * 0.1, name="r")
    h = None
    for x in xs:
        z = (g.add_node("MatMul", [x, w]), 0)
        if h is not None:
            z = (g.add_node("Add", [z, (g.add_node("MatMul", [h, r]), 0)]), 0)
        h = (g.add_node("Tanh", [z]), 0)
    g.add_output("loss", (g.add_node("ReduceSum", [h], {"keepdims": 0}), 0))
    grads = gradient_graph(g, "loss")
    o2 = optimize(grads, "O2", verify=True)
    assert "Sum" not in ops(o2) and ops(o2).count("Concat") >= 2
    feeds = random_inputs(grads)
    for want, got in zip(evaluate(grads, feeds), evaluate(o2, feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
