from graphc.ir import Graph
from graphc.passes import FlattenWeightPermutation
from tests.passes.helpers import check, const, f32, ops, rand


def nchw_head(op="MatMul", perm=(0, 2, 3, 1), batch="batch", **attrs):
    g = Graph()
    x = g.add_input("x", f32(batch, 3, 4, 5))
    t = g.add_node("Transpose", [x], {"perm": list(perm)})
    f = g.add_node("Flatten", [(t, 0)], {"axis": 1})
    args = [(f, 0), const(g, rand(60, 7))] + ([const(g, rand(7))] if op == "Gemm" else [])
    y = g.add_node(op, args, attrs)
    g.add_output("y", (y, 0))
    return g


def test_transpose_before_flatten_moves_into_matmul_and_gemm_weights():
    for op in ("MatMul", "Gemm"):
        for perm in ((0, 2, 3, 1), (0, 3, 1, 2), (0, 1, 3, 2)):
            out = check(nchw_head(op, perm), [FlattenWeightPermutation()])
            assert "Transpose" not in ops(out)


def test_leaves_shared_transpose_batch_moves_transposed_gemm_and_other_axes():
    g = nchw_head()
    t = next(n for n in g.nx if g.op(n) == "Transpose")
    g.add_output("t", (t, 0))  # the permuted tensor itself is wanted
    check(g, [FlattenWeightPermutation()], expect_change=False)
    check(nchw_head(perm=(1, 0, 2, 3), batch=3), [FlattenWeightPermutation()], expect_change=False)
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    t = g.add_node("Transpose", [x], {"perm": [0, 2, 3, 1]})
    f = g.add_node("Flatten", [(t, 0)], {"axis": 1})
    y = g.add_node("Gemm", [(f, 0), const(g, rand(7, 60))], {"transB": 1})
    f2 = g.add_node("Flatten", [(t, 0)], {"axis": 2})
    g.add_output("y", (y, 0))
    g.add_output("f2", (f2, 0))
    out = check(g, [FlattenWeightPermutation()], expect_change=False)
    assert ops(out).count("Transpose") == 1
