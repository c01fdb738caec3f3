"""Small hand-made ONNX models shared by the core tests."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper


def mlp(batch="N"):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 8)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.standard_normal((8, 3)).astype(np.float32), "w2")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"]), helper.make_node("Add", ["h0", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["h2"]), helper.make_node("MatMul", ["h2", "w2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 3])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def lookup(ids_type=TensorProto.INT64, rows=3):
    """emb[ids] (an embedding lookup) over a `rows`×4 table, through a Cast: valid ids are 0..rows-1."""
    emb = numpy_helper.from_array(np.arange(rows * 4, dtype=np.float32).reshape(rows, 4), "emb")
    nodes = [helper.make_node("Cast", ["ids"], ["ids64"], to=TensorProto.INT64),
             helper.make_node("Gather", ["emb", "ids64"], ["y"], name="lookup")]
    graph = helper.make_graph(nodes, "lookup", [helper.make_tensor_value_info("ids", ids_type, ["N", 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 4])], [emb])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
