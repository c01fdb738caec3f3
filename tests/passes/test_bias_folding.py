from graphc.ir import Graph
from graphc.passes import BiasFolding, DeadCodeElimination
from tests.passes.helpers import check, const, f32, ops, rand


def _passes():
    return [BiasFolding(), DeadCodeElimination()]


def test_per_channel_mul_add_sub_fold_into_conv_and_gemm():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 5, 5))
    c = g.add_node("Conv", [x, const(g, rand(4, 3, 3, 3))])
    m = g.add_node("Mul", [const(g, rand(1, 4, 1, 1)), (c, 0)])
    a = g.add_node("Add", [(m, 0), const(g, rand(4, 1, 1))])
    s = g.add_node("Sub", [(a, 0), const(g, 0.5)])
    g.add_output("conv", (s, 0))
    v = g.add_input("v", f32(3, 4))
    gm = g.add_node("Gemm", [v, const(g, rand(4, 6)), const(g, rand(6))], {"alpha": 2.0})
    gm = g.add_node("Mul", [(gm, 0), const(g, rand(6))])
    g.add_output("gemm", (g.add_node("Add", [(gm, 0), const(g, rand(1, 6))]), 0))
    out = check(g, _passes())
    assert ops(out) == ["Conv", "Gemm"]


def test_leaves_spatially_varying_broadcasting_and_shared_operands():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 5, 5))
    c = g.add_node("Conv", [x, const(g, rand(4, 3, 1, 1))])
    g.add_output("a", (g.add_node("Mul", [(c, 0), const(g, rand(1, 1, 5, 5))]), 0))
    c2 = g.add_node("Conv", [x, const(g, rand(4, 3, 1, 1))])
    g.add_output("b", (g.add_node("Add", [(c2, 0), const(g, rand(3, 1, 4, 1, 1))]), 0))  # grows the rank
    c3 = g.add_node("Conv", [x, const(g, rand(4, 3, 1, 1))])
    g.add_output("c", (g.add_node("Add", [(c3, 0), const(g, rand(4, 1, 1))]), 0))
    g.add_output("c3", (c3, 0))
    c4 = g.add_node("Conv", [x, g.add_input("w", f32(4, 3, 1, 1))])  # weight not constant
    g.add_output("d", (g.add_node("Mul", [(c4, 0), const(g, rand(4, 1, 1))]), 0))
    check(g, _passes(), expect_change=False)
