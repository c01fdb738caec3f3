import numpy as np

from graphc.ir import Graph
from graphc.passes import GemmEpilogueFolding
from graphc.types import TensorType
from tests.passes.helpers import check, const, f32, ops, rand


def _gemm(g, a, b, **attrs):
    return (g.add_node("Gemm", [a, b], attrs), 0)


def test_momentum_update_becomes_one_gemm_into_the_state():
    # SGD with momentum on a weight gradient X^T dY: m' = 0.9 m - lr (X^T dY), the batch symbolic
    g = Graph()
    x, dy = g.add_input("x", f32("batch", 6)), g.add_input("dy", f32("batch", 4))
    m, lr = g.add_input("m", f32(6, 4)), g.add_input("lr", f32())
    grad = _gemm(g, x, dy, transA=1)
    decayed = (g.add_node("Mul", [m, const(g, 0.9)]), 0)
    step = (g.add_node("Mul", [grad, lr]), 0)
    g.add_output("new_m", (g.add_node("Sub", [decayed, step]), 0))
    out = check(g, [GemmEpilogueFolding()])
    assert ops(out) == ["Gemm", "Mul"]  # the Mul scales dY (batch x 4), not the 6 x 4 product
    gemm = next(n for n in out.nx.nodes if out.op(n) == "Gemm")
    assert out.attrs(gemm)["alpha"] == -1.0 and np.isclose(out.attrs(gemm)["beta"], 0.9)
    assert out.input_values(gemm)[2] == ("m", 0)
    scaled = out.input_values(gemm)[1][0]
    assert out.op(scaled) == "Mul" and out.input_values(scaled)[0] == ("dy", 0)


def test_plain_sgd_and_each_operand_order():
    g = Graph()
    a, b = g.add_input("a", f32(3, 2)), g.add_input("b", f32(2, 4))  # both smaller than the 3 x 4 product
    p = g.add_input("p", f32(3, 4))
    lr = g.add_input("lr", f32(1, 1))
    g.add_output("sgd", (g.add_node("Sub", [p, (g.add_node("Mul", [lr, _gemm(g, a, b)]), 0)]), 0))
    g.add_output("y_minus_x", (g.add_node("Sub", [_gemm(g, a, b, alpha=2.0), p]), 0))
    g.add_output("x_plus_y", (g.add_node("Add", [const(g, rand(4)), _gemm(g, a, b)]), 0))
    g.add_output("scaled", (g.add_node("Mul", [_gemm(g, a, b, transB=0), const(g, -3.0)]), 0))
    out = check(g, [GemmEpilogueFolding()])
    assert ops(out).count("Gemm") == 4 and "Sub" not in ops(out) and "Add" not in ops(out)


def test_constant_scale_of_a_gemm_with_c_scales_alpha_and_beta():
    g = Graph()
    a, b, c = g.add_input("a", f32(2, 3)), g.add_input("b", f32(3, 4)), g.add_input("c", f32(4))
    y = (g.add_node("Gemm", [a, b, c], {"alpha": 0.5, "beta": 2.0}), 0)
    g.add_output("y", (g.add_node("Mul", [y, const(g, [[4.0]])]), 0))
    out = check(g, [GemmEpilogueFolding()])
    assert ops(out) == ["Gemm"]


def test_leaves_shared_growing_large_operand_and_integer_cases():
    g = Graph()
    a, b = g.add_input("a", f32(8, 8)), g.add_input("b", f32(8, 2))
    s = g.add_input("s", f32())
    # a computed scale of a 8x2 product whose operands are both at least as large as it
    g.add_output("big_operands", (g.add_node("Mul", [_gemm(g, a, b), s]), 0))
    shared = _gemm(g, a, b)
    g.add_output("shared", shared)
    g.add_output("shared_plus", (g.add_node("Add", [shared, g.add_input("x", f32(8, 2))]), 0))
    grows = _gemm(g, a, b)
    g.add_output("grows", (g.add_node("Add", [grows, g.add_input("x3", f32(3, 8, 2))]), 0))
    with_c = (g.add_node("Gemm", [a, b, g.add_input("c", f32(8, 2))]), 0)
    g.add_output("with_c", (g.add_node("Add", [with_c, g.add_input("x2", f32(8, 2))]), 0))
    g.add_output("vector_scale", (g.add_node("Mul", [_gemm(g, a, b), g.add_input("v", f32(2))]), 0))
    ai = g.add_input("ai", TensorType(np.int32, (2, 2)))
    g.add_output("int", (g.add_node("Mul", [(g.add_node("MatMul", [ai, ai]), 0), const(g, 2, np.int32)]), 0))
    out = check(g, [GemmEpilogueFolding()], expect_change=False)
    assert ops(out).count("Gemm") == 5 and ops(out).count("Mul") == 3


def test_scaled_c_read_elsewhere_stays():
    g = Graph()
    a, b, m = g.add_input("a", f32(2, 3)), g.add_input("b", f32(3, 4)), g.add_input("m", f32(2, 4))
    decayed = (g.add_node("Mul", [m, const(g, 0.5)]), 0)
    g.add_output("y", (g.add_node("Gemm", [a, b, decayed]), 0))
    g.add_output("decayed", decayed)
    out = check(g, [GemmEpilogueFolding()], expect_change=False)
    assert ops(out) == ["Gemm", "Mul"]
