import numpy as np

from graphc.ir import Graph
from graphc.passes import BatchNormFolding, DeadCodeElimination
from tests.passes.helpers import check, const, f32, ops, rand


def _passes():
    return [BatchNormFolding(), DeadCodeElimination()]


def _bn(g, x, c, seed=1):
    rng = np.random.default_rng(seed)
    stats = [rng.random(c) + 0.5, rng.standard_normal(c), rng.standard_normal(c), rng.random(c) + 0.5]
    return g.add_node("BatchNormalization", [x] + [const(g, s) for s in stats], {"epsilon": 1e-3})


def test_folds_into_conv_with_and_without_bias():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 6, 6))
    c1 = g.add_node("Conv", [x, const(g, rand(4, 3, 3, 3)), const(g, rand(4))], {"pads": [1, 1, 1, 1]})
    c2 = g.add_node("Conv", [x, const(g, rand(6, 1, 3, 3))], {"group": 3})
    g.add_output("a", (_bn(g, (c1, 0), 4), 0))
    g.add_output("b", (_bn(g, (c2, 0), 6), 0))
    out = check(g, _passes())
    assert ops(out) == ["Conv", "Conv"]


def test_folds_into_grouped_conv_transpose_gemm_and_matmul():
    g = Graph()
    x = g.add_input("x", f32(2, 4, 5, 5))
    ct = g.add_node("ConvTranspose", [x, const(g, rand(4, 3, 2, 2)), const(g, rand(6))], {"group": 2})
    g.add_output("ct", (_bn(g, (ct, 0), 6), 0))
    a = g.add_input("a", f32(3, 4))
    gm = g.add_node("Gemm", [a, const(g, rand(5, 4)), const(g, rand(1, 5))], {"transB": 1, "beta": 0.5})
    g.add_output("gemm", (_bn(g, (gm, 0), 5), 0))
    mm = g.add_node("MatMul", [a, const(g, rand(4, 7))])
    g.add_output("mm", (_bn(g, (mm, 0), 7), 0))
    out = check(g, _passes(), backend="ort")  # the reference evaluator mishandles grouped ConvTranspose
    assert ops(out) == ["Add", "ConvTranspose", "Gemm", "MatMul"]


def test_leaves_shared_producers_training_mode_and_variable_stats():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 4))
    c = g.add_node("Conv", [x, const(g, rand(3, 3, 1, 1))])
    g.add_output("conv", (c, 0))  # the conv output is read as well
    g.add_output("bn", (_bn(g, (c, 0), 3), 0))
    c2 = g.add_node("Conv", [x, const(g, rand(3, 3, 1, 1))])
    st = [const(g, np.ones(3)), const(g, np.zeros(3)), g.add_variable(np.zeros(3, np.float32), name="mean"),
          const(g, np.ones(3))]
    g.add_output("bn2", (g.add_node("BatchNormalization", [(c2, 0)] + st), 0))
    a = g.add_input("a", f32(2, 3, 4))  # MatMul with a rank-3 output: the channel is not axis 1
    mm = g.add_node("MatMul", [a, const(g, rand(4, 3))])
    g.add_output("bn3", (_bn(g, (g.add_node("Transpose", [(mm, 0)], {"perm": [0, 2, 1]}), 0), 3), 0))
    check(g, _passes(), expect_change=False)
