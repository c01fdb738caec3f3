"""ONNX Runtime execution through graphc.compile / GraphModel.predict."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from onnx import TensorProto, helper

import graphc
from graphc import BackendError, InputError
from graphc.importers.onnx import load
from graphc.runtime.ort import provider_report
from graphc.sample_inputs import DEFAULT_INT_RANGE, index_bound, int_ranges, random_feed
from tests.core.onnx_models import lookup, mlp


def reference(x):
    sess = ort.InferenceSession(mlp().SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_positional_named_and_dict_inputs_agree():
    exe = graphc.compile(load(mlp()), opt_level="O0", threads=1, ort_level="basic")
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    want = reference(x)
    np.testing.assert_allclose(exe(x), want, rtol=1e-6)
    np.testing.assert_allclose(exe(x=x), want, rtol=1e-6)
    np.testing.assert_allclose(exe({"x": x})[0] if isinstance(exe({"x": x}), list) else exe({"x": x}), want, rtol=1e-6)
    assert list(exe.run(x)) == ["probs"]
    assert exe.provider == "CPUExecutionProvider"


def test_predict_batches_and_casts_like_keras(tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx.save(mlp(), path)
    model = graphc.load(path)
    x = np.random.default_rng(2).standard_normal((7, 4))  # float64, as numpy makes it
    out = model.predict(x, batch_size=3, opt_level="O0")
    np.testing.assert_allclose(out, reference(x.astype(np.float32)), rtol=1e-6)
    assert model.input_names == ["x"] and model.output_names == ["probs"]


def test_cuda_target_without_cuda_fails_clearly_unless_fallback():
    if "CUDAExecutionProvider" in provider_report()["available_providers"]:
        pytest.skip("this machine has the CUDA provider")
    with pytest.raises(BackendError, match=r"CUDAExecutionProvider.*onnxruntime-gpu.*fallback=True"):
        graphc.compile(load(mlp()), target="cuda", opt_level="O0")
    exe = graphc.compile(load(mlp()), target="cuda", opt_level="O0", fallback=True)
    assert exe.provider == "CPUExecutionProvider"


def test_unknown_target_and_level():
    with pytest.raises(BackendError, match="unknown target"):
        graphc.compile(load(mlp()), target="tpu", opt_level="O0")
    with pytest.raises(BackendError, match="optimization level"):
        graphc.compile(load(mlp()), ort_level="max", opt_level="O0")


def test_provider_report_names_the_installed_package():
    rep = provider_report()
    assert rep["package"].startswith("onnxruntime") and "CPUExecutionProvider" in rep["available_providers"]


def test_export_runs_in_plain_onnxruntime(tmp_path):
    out = tmp_path / "out.onnx"
    graphc.export(load(mlp()), out, opt_level="O0")
    onnx.checker.check_model(onnx.load(out), full_check=True)
    x = np.ones((2, 4), np.float32)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], reference(x), rtol=1e-6)


def test_run_time_failure_names_the_node():
    exe = graphc.compile(load(lookup()), opt_level="O0")
    np.testing.assert_array_equal(exe(np.array([[2, 0, 1, 1, 0]])), np.arange(12.0).reshape(3, 4)[[[2, 0, 1, 1, 0]]])
    with pytest.raises(BackendError, match=r"node 'lookup' \(Gather\) failed in ONNX Runtime: indices element out of"):
        exe(np.array([[0, 1, 2, 3, 4]]))
    with pytest.raises(BackendError, match=r"node 'lookup' \(Gather\)"):
        exe.run(ids=np.array([[7, 0, 0, 0, 0]]))


def test_random_integers_stay_inside_what_they_index():
    g = load(lookup(TensorProto.INT32, rows=7))
    assert index_bound(g, "ids") == 7 and int_ranges(g) == {"ids": (0, 7)}
    feed = random_feed(g, batch=64, seed=1)
    assert feed["ids"].dtype == np.int32 and feed["ids"].shape == (64, 5)
    assert feed["ids"].min() >= 0 and feed["ids"].max() == 6  # the whole table is reachable
    graphc.compile(g, opt_level="O0")(**feed)  # and ONNX Runtime accepts them
    assert int_ranges(g, {None: (2, 3)}) == {"ids": (2, 3)} == int_ranges(g, {"ids": (2, 3)})
    with pytest.raises(InputError, match="'other'"):
        int_ranges(g, {"other": (0, 1)})


@pytest.mark.parametrize("op, data_shape, attrs, bound", [
    ("Gather", [3, 9], {"axis": 1}, 9),
    ("Gather", [3, 9], {"axis": -2}, 3),
    ("GatherElements", [4, 6], {"axis": 1}, 6),
    ("GatherND", [5, 8], {}, 5),
    ("Gather", ["rows", 9], {}, 1),  # an axis of unknown size: only index 0 is sure to exist
])
def test_index_bound_per_index_op(op, data_shape, attrs, bound):
    idx_shape = [2, 1] if op == "GatherND" else [2, 2]
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["i", "shape"], ["i2"]), helper.make_node(op, ["data", "i2"], ["y"], **attrs)],
        "g", [helper.make_tensor_value_info("data", TensorProto.FLOAT, data_shape),
              helper.make_tensor_value_info("i", TensorProto.INT64, [4 if op != "GatherND" else 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("shape", TensorProto.INT64, [len(idx_shape)], idx_shape)])
    g = load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert index_bound(g, "i") == bound and int_ranges(g)["i"] == (0, bound)
    assert index_bound(g, "data") is None


def test_plain_integer_inputs_keep_the_default_range():
    graph = helper.make_graph([helper.make_node("Add", ["a", "a"], ["y"])], "g",
                              [helper.make_tensor_value_info("a", TensorProto.INT64, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [3])])
    g = load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert int_ranges(g) == {"a": DEFAULT_INT_RANGE}
