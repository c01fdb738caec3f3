"""ONNX local functions survive import (opset conversion included), passes and export: ONNX
Runtime runs the compiled model and matches onnx.reference on the original."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper
from onnx.reference import ReferenceEvaluator

import graphc


def _model_with_functions(opset: int) -> onnx.ModelProto:
    # ScaledRelu(x, s) = Relu(x * s) * alpha, where alpha is a function attribute;
    # Block(x, s) calls ScaledRelu, so one local function calls another.
    scaled = helper.make_function(
        "my.fns", "ScaledRelu", ["x", "s"], ["y"],
        [helper.make_node("Mul", ["x", "s"], ["m"]), helper.make_node("Relu", ["m"], ["r"]),
         helper.make_node("Constant", [], ["a"], value_float=0.0),
         helper.make_node("Mul", ["r", "a2"], ["y"])],
        opset_imports=[helper.make_opsetid("", opset)], attributes=["alpha"])
    # the Constant above is replaced by one that reads the attribute
    del scaled.node[2]
    c = helper.make_node("Constant", [], ["a2"])
    c.attribute.append(onnx.AttributeProto(name="value_float", ref_attr_name="alpha", type=onnx.AttributeProto.FLOAT))
    scaled.node.insert(2, c)
    block = helper.make_function(
        "my.fns", "Block", ["x", "s"], ["y"],
        [helper.make_node("ScaledRelu", ["x", "s"], ["h"], domain="my.fns", alpha=0.5),
         helper.make_node("Tanh", ["h"], ["y"])],
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("my.fns", 1)])
    nodes = [helper.make_node("Block", ["x", "s"], ["h"], domain="my.fns", name="block"),
             helper.make_node("ScaledRelu", ["h", "s"], ["g"], domain="my.fns", name="again", alpha=3.0),
             helper.make_node("Add", ["g", "x"], ["y"], name="add")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", T.FLOAT, ["N", 3])],
                              [helper.make_tensor("s", T.FLOAT, [3], [2.0, -1.0, 0.5])])
    model = helper.make_model(graph, functions=[scaled, block],
                              opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("my.fns", 1)])
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.mark.parametrize("opset", [18, graphc.TARGET_OPSET], ids=["converted", "native"])
@pytest.mark.parametrize("level", ["O0", "O2"])
def test_local_functions_run_on_onnx_runtime(opset, level):
    model = _model_with_functions(opset)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    exe = graphc.compile(graphc.load(model.SerializeToString()), opt_level=level)
    np.testing.assert_allclose(exe(x), expected, rtol=1e-6, atol=1e-6)


def test_export_keeps_the_functions():
    from graphc.importers.onnx import load
    from graphc.lower.onnx import to_onnx

    out = to_onnx(load(_model_with_functions(18)))
    assert sorted(f.name for f in out.functions) == ["Block", "ScaledRelu"]
    assert {o.domain for o in out.opset_import} >= {"", "my.fns"}
    onnx.checker.check_model(out, full_check=True)
