"""Bad input gets a GraphcError naming the file or node, never a raw traceback."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import graphc
from graphc import GraphcError, GraphError, InputError, ModelFormatError
from tests.core.onnx_models import mlp


def test_non_onnx_file(tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("this is not a model\n" * 20)
    with pytest.raises(ModelFormatError, match="notes.onnx"):
        graphc.load(p)


def test_truncated_file(tmp_path):
    data = mlp().SerializeToString()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match=r"cut\.onnx.*truncated"):
        graphc.load(p)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        graphc.load(tmp_path / "absent.onnx")
    with pytest.raises(ModelFormatError, match="folder"):
        graphc.load(tmp_path)


def test_cycle_is_reported_by_node_names(tmp_path):
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")]
    graph = helper.make_graph(nodes, "loop", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(GraphError, match=r"in-memory model.*cycle: (first -> second|second -> first)"):
        graphc.importers.onnx.load(model)


def test_missing_initializer_names_node_and_value():
    model = mlp()
    del model.graph.initializer[1]  # b1
    with pytest.raises(ModelFormatError, match=r"reads 'b1'.*missing initializer"):
        graphc.importers.onnx.load(model)


def _external_model(tmp_path, location: str):
    t = numpy_helper.from_array(np.ones(4, np.float32), "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "ext",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [t])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(np.ones(4, np.float32).tobytes())
    path = _external_model(tmp_path, location)
    with pytest.raises(ModelFormatError, match="refusing to read it"):
        graphc.load(path)


def test_external_data_symlink_leaving_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.bin").write_bytes(np.ones(4, np.float32).tobytes())
    path = _external_model(tmp_path, "link.bin")
    (path.parent / "link.bin").symlink_to(tmp_path / "secret.bin")
    with pytest.raises(ModelFormatError, match="leaves the model's folder"):
        graphc.load(path)


def test_external_data_inside_the_folder_is_read(tmp_path):
    path = _external_model(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(np.full(4, 2, np.float32).tobytes())
    out = graphc.load(path).predict(np.ones(4, np.float32), opt_level="O0")
    np.testing.assert_array_equal(out, np.full(4, 3, np.float32))


def test_external_data_file_missing(tmp_path):
    path = _external_model(tmp_path, "weights.bin")
    with pytest.raises(ModelFormatError, match="is missing"):
        graphc.load(path)


def test_wrong_rank_at_run_time():
    exe = graphc.compile(graphc.importers.onnx.load(mlp()), opt_level="O0")
    with pytest.raises(InputError, match=r"input 'x' has shape \[2, 4, 1\] \(rank 3\), expected rank 2"):
        exe(np.ones((2, 4, 1), np.float32))


def test_wrong_dim_dtype_and_name_at_run_time():
    exe = graphc.compile(graphc.importers.onnx.load(mlp()), opt_level="O0")
    with pytest.raises(InputError, match=r"dimension 1 must be 4"):
        exe(np.ones((2, 5), np.float32))
    with pytest.raises(InputError, match=r"dtype float64, expected float32"):
        exe(np.ones((2, 4), np.float64))
    with pytest.raises(InputError, match=r"has no input 'y'.*x: float32\[N,4\]"):
        exe(y=np.ones((2, 4), np.float32))
    with pytest.raises(InputError, match="missing inputs"):
        exe()


def test_every_error_is_a_graphc_error():
    for cls in (ModelFormatError, GraphError, InputError, graphc.ShapeError, graphc.UnsupportedOpError,
                graphc.BackendError):
        assert issubclass(cls, GraphcError)
