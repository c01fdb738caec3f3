import numpy as np

from graphc.ir import Graph
from graphc.passes import ConstantFolding, DeadCodeElimination
from graphc.types import TensorType
from tests.passes.helpers import check, const, f32, ops


def test_folds_chains_numpy_and_reference_ops():
    g = Graph()
    x = g.add_input("x", f32(2, 3))
    a = g.add_node("Transpose", [const(g, np.arange(6).reshape(3, 2))], {"perm": [1, 0]})
    b = g.add_node("Sqrt", [(a, 0)])  # reference evaluator
    c = g.add_node("Mul", [(b, 0), const(g, 2.0)])  # numpy
    y = g.add_node("Add", [x, (c, 0)])
    g.add_output("y", (y, 0))
    out = check(g, [ConstantFolding(), DeadCodeElimination()])
    assert ops(out) == ["Add"]


def test_integer_division_uses_onnx_semantics():
    g = Graph()
    x = g.add_input("x", TensorType(np.int64, (2,)))
    d = g.add_node("Div", [const(g, [-7, 7], np.int64), const(g, [2, 2], np.int64)])
    y = g.add_node("Add", [x, (d, 0)])
    g.add_output("y", (y, 0))
    out = check(g, [ConstantFolding()])
    (c,) = [out.const_value(v) for v in out.input_values(ops_node(out, "Add")) if out.const_value(v) is not None]
    assert c.tolist() == [-3, 3]  # truncation, not numpy's floor


def ops_node(g, op):
    return next(n for n, d in g.nx.nodes(data=True) if d["op"] == op)


def test_leaves_inputs_variables_random_and_large_results():
    g = Graph()
    x = g.add_input("x", f32(2))
    w = g.add_variable(np.ones(2, np.float32), name="w")
    a = g.add_node("Neg", [w])  # fed by a Variable: trainable, not folded
    r = g.add_node("RandomNormal", [], {"shape": [2], "dtype": 1})
    big = g.add_node("Expand", [const(g, [1.0]), const(g, [10000], np.int64)])
    s = g.add_node("ReduceSum", [(big, 0)], {"keepdims": 0})
    y = g.add_node("Sum", [x, (a, 0), (s, 0)])
    g.add_output("y", (y, 0))
    g.add_output("r_shape", (g.add_node("Shape", [(r, 0)]), 0))
    out = check(g, [ConstantFolding()], expect_change=False)
    assert {"Neg", "RandomNormal", "Expand"} <= set(ops(out))
