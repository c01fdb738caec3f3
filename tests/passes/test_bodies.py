"""Passes made with NodeRewrite rewrite inside If and Loop bodies too, outer values read through
captures; the optimized model computes what the original does under onnx.reference."""
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from graphc.importers.onnx import load
from graphc.lower.onnx import to_onnx
from graphc.passes import BatchNormFolding, DeadCodeElimination, MatMulAddToGemm, NoOpElimination
from tests.passes.helpers import check, evaluate, ops

F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


def _const(name, *shape):
    arr = RNG.standard_normal(shape).astype(np.float32)
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name))


def _dense_relu(x: str, out: str, prefix: str) -> list:
    """Relu(Identity(MatMul(x, W) + B)) with W, B constants of the body."""
    return [_const(f"{prefix}_w", 4, 4), _const(f"{prefix}_b", 4),
            helper.make_node("MatMul", [x, f"{prefix}_w"], [f"{prefix}_mm"]),
            helper.make_node("Add", [f"{prefix}_mm", f"{prefix}_b"], [f"{prefix}_add"]),
            helper.make_node("Identity", [f"{prefix}_add"], [f"{prefix}_id"]),
            helper.make_node("Relu", [f"{prefix}_id"], [out])]


def _model():
    then_g = helper.make_graph(_dense_relu("x", "t", "then"), "then", [],
                               [helper.make_tensor_value_info("t", F, [2, 4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [2, 4])])
    loop_body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), *_dense_relu("v", "v_next", "loop")], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", F, [2, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_next", F, [2, 4])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["branch"], then_branch=then_g, else_branch=else_g),
         helper.make_node("Constant", [], ["trips"], value=numpy_helper.from_array(np.array(3, np.int64), "trips")),
         # an explicit condition: onnx.reference runs no iteration when it is absent (ONNX Runtime runs 3)
         helper.make_node("Constant", [], ["go"], value=numpy_helper.from_array(np.array(True), "go")),
         helper.make_node("Loop", ["trips", "go", "branch"], ["looped"], body=loop_body)],
        "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []), helper.make_tensor_value_info("x", F, [2, 4])],
        [helper.make_tensor_value_info("looped", F, [2, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def _bodies(g):
    return {name: body for n in g.op_nodes() for name, body in g.subgraphs(n)}


def _body_ops(body):
    return [op for op in ops(body) if op != "Capture"]


def test_local_passes_rewrite_inside_if_and_loop_bodies():
    g = load(_model())
    out = check(g, [NoOpElimination(), MatMulAddToGemm(), DeadCodeElimination()])
    bodies = _bodies(out)
    assert _body_ops(bodies["then_branch"]) == ["Gemm", "Relu"]
    assert _body_ops(bodies["body"]) == ["Gemm", "Relu"]  # the Identity of the condition, a body output, too
    assert _body_ops(bodies["else_branch"]) == ["Neg"]
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    for cond in (True, False):  # both branches, whatever the random inputs drew
        feeds = {"c": np.array(cond), "x": x}
        np.testing.assert_allclose(evaluate(out, feeds)[0], evaluate(g, feeds)[0], rtol=1e-5, atol=1e-5)


def test_batchnorm_folding_and_dead_code_elimination_inside_a_body():
    bn_body = helper.make_graph(
        [_const("w", 3, 2, 1, 1), *(_const(n, 3) for n in ("scale", "bias", "mean")),
         helper.make_node("Constant", [], ["var"], value=numpy_helper.from_array(np.full(3, 0.5, np.float32), "var")),
         helper.make_node("Conv", ["x", "w"], ["conv"]),
         helper.make_node("BatchNormalization", ["conv", "scale", "bias", "mean", "var"], ["t"])], "then", [],
        [helper.make_tensor_value_info("t", F, [1, 3, 4, 4])])
    else_g = helper.make_graph([helper.make_node("Conv", ["x", "x_w"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [1, 3, 4, 4])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=bn_body, else_branch=else_g)], "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []), helper.make_tensor_value_info("x", F, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", F, [1, 3, 4, 4])],
        [numpy_helper.from_array(RNG.standard_normal((3, 2, 1, 1)).astype(np.float32), "x_w")])
    g = load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    out = check(g, [BatchNormFolding(), DeadCodeElimination()])
    then = _bodies(out)["then_branch"]
    assert _body_ops(then) == ["Conv"] and len(then.constants()) == 2  # the folded weight and bias only
    for cond in (True, False):
        feeds = {"c": np.array(cond), "x": RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)}
        np.testing.assert_allclose(evaluate(out, feeds)[0], evaluate(g, feeds)[0], rtol=1e-5, atol=1e-5)


def test_o2_fuses_inside_bodies_and_matches_the_reference():
    model = _model()
    out = check(load(model), "O2")
    assert "graphc.FusedGemm" in _bodies(out)["body"].op_counts()
    assert "graphc.FusedGemm" in _bodies(out)["then_branch"].op_counts()
    # ONNX Runtime runs the com.microsoft FusedGemm kernels inside the bodies
    session = ort.InferenceSession(to_onnx(out).SerializeToString(), providers=["CPUExecutionProvider"])
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    for cond in (True, False):
        feeds = {"c": np.array(cond), "x": x}
        np.testing.assert_allclose(session.run(None, feeds)[0], ReferenceEvaluator(model).run(None, feeds)[0],
                                   rtol=1e-5, atol=1e-5)
