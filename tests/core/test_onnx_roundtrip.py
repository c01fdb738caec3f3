"""Import -> export -> import keeps random graphs unchanged, and ONNX Runtime agrees with the reference."""
import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings
from onnx.reference import ReferenceEvaluator

import graphc
from graphc.importers.onnx import load
from graphc.lower.onnx import to_onnx
from graphc.runtime.ort import OrtExecutable
from tests.core.randgraph import random_models


def canonical(g: graphc.Graph):
    """Everything a graph means, in a comparable form (node keys, ops, attrs, edges, types, names)."""
    nodes = {}
    for n, d in g.nx.nodes(data=True):
        attrs = {k: (v.tolist(), str(v.dtype)) if isinstance(v, np.ndarray) else v for k, v in d["attrs"].items()}
        nodes[n] = (d["op"], d["domain"], repr(sorted(attrs.items())), tuple(map(str, d["outputs"])),
                    tuple(d["names"]), d["n_inputs"], tuple(g.input_values(n)))
    return nodes, tuple(g.inputs), tuple(g.outputs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models())
def test_roundtrip_is_unchanged(case):
    model, _ = case
    g1 = load(model)
    g1.verify()
    g2 = load(to_onnx(g1))
    g2.verify()
    assert canonical(g1) == canonical(g2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models())
def test_ort_matches_reference_evaluator(case):
    model, feed = case
    exported = to_onnx(load(model))
    want = ReferenceEvaluator(model).run(None, feed)
    got = list(OrtExecutable(exported).run(feed).values())
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_names_docs_and_metadata_survive():
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["in"], ["out"], name="the_relu", doc_string="rectifies")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("in", TensorProto.FLOAT, ["n", 2])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 2])],
                              doc_string="graph doc")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], doc_string="model doc",
                              producer_name="someone")
    onnx.helper.set_model_props(model, {"author": "tests"})
    back = to_onnx(load(model))
    assert back.graph.node[0].name == "the_relu" and back.graph.node[0].doc_string == "rectifies"
    assert [i.name for i in back.graph.input] == ["in"] and [o.name for o in back.graph.output] == ["out"]
    assert back.graph.doc_string == "graph doc" and back.doc_string == "model doc"
    assert {p.key: p.value for p in back.metadata_props} == {"author": "tests"}
    dims = back.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "n" and dims[1].dim_value == 2


def test_old_opset_is_converted_and_still_runs():
    from onnx import TensorProto, helper

    # Unsqueeze-9 takes axes as an attribute; converted to the target opset it takes them as an input
    node = helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    g = load(model)
    assert g.opset_imports[""] == graphc.TARGET_OPSET
    assert len(g.input_values(g.op_nodes()[0])) == 2  # axes became an input at opset 13
    x = np.arange(3, dtype=np.float32)
    np.testing.assert_array_equal(graphc.compile(g, opt_level="O0")(x), x[None])


def test_variables_option_makes_initializers_trainable():
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 2), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    assert load(model).variables() == []
    assert load(model, variables=True).variables() == ["w"]
    assert [i.name for i in to_onnx(load(model, variables=True)).graph.initializer] == ["w"]


def test_subgraph_with_outer_scope_value_roundtrips():
    from onnx import TensorProto, helper

    then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)], "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    g = load(model)
    g.verify()
    (if_node,) = g.op_nodes()
    assert g.data(if_node)["captures"] == 1  # x is an explicit edge into the If node
    assert canonical(load(to_onnx(g)))[1:] == canonical(g)[1:]
    exe = graphc.compile(g, opt_level="O0")
    x = np.array([1, -2], np.float32)
    np.testing.assert_array_equal(exe(np.array(True), x), x + x)
    np.testing.assert_array_equal(exe(np.array(False), x), -x)
