import numpy as np

from graphc.ir import Graph
from graphc.passes import MatMulAddToGemm
from graphc.types import TensorType
from tests.passes.helpers import check, const, f32, ops, rand


def test_matmul_add_becomes_gemm_for_each_bias_shape():
    g = Graph()
    a = g.add_input("a", f32("batch", 4))
    for i, bias in enumerate([rand(3), rand(1, 3), np.float32(0.5)]):
        mm = g.add_node("MatMul", [a, const(g, rand(4, 3))])
        g.add_output(f"y{i}", (g.add_node("Add", [const(g, bias), (mm, 0)]), 0))
    b = g.add_input("b", f32(2, 4))
    mm = g.add_node("MatMul", [b, g.add_input("w", f32(4, 3))])
    g.add_output("dyn", (g.add_node("Add", [(mm, 0), g.add_input("c", f32(2, 3))]), 0))
    out = check(g, [MatMulAddToGemm()])
    assert ops(out) == ["Gemm"] * 4


def test_leaves_batched_integer_shared_and_growing_adds():
    g = Graph()
    a3 = g.add_input("a3", f32(2, 5, 4))
    mm = g.add_node("MatMul", [a3, const(g, rand(4, 3))])  # rank 3: no Gemm
    g.add_output("y3", (g.add_node("Add", [(mm, 0), const(g, rand(3))]), 0))
    ai = g.add_input("ai", TensorType(np.int32, (2, 4)))
    mi = g.add_node("MatMul", [ai, const(g, np.ones((4, 3)), np.int32)])
    g.add_output("yi", (g.add_node("Add", [(mi, 0), const(g, np.ones(3), np.int32)]), 0))
    a = g.add_input("a", f32(2, 4))
    ms = g.add_node("MatMul", [a, const(g, rand(4, 3))])
    g.add_output("ys", (g.add_node("Add", [(ms, 0), const(g, rand(3))]), 0))
    g.add_output("shared", (ms, 0))
    mg = g.add_node("MatMul", [a, const(g, rand(4, 3))])
    g.add_output("yg", (g.add_node("Add", [(mg, 0), const(g, rand(5, 2, 3))]), 0))
    out = check(g, [MatMulAddToGemm()], expect_change=False)
    assert "Gemm" not in ops(out)
