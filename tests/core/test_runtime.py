"""ONNX Runtime execution through graphc.compile / GraphModel.predict."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from onnx import TensorProto, helper

import graphc
from graphc import BackendError, InputError, backends
from graphc.executable import Executable
from graphc.importers.onnx import load
from graphc.lower.onnx import to_onnx
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


# ---- the backend seam ------------------------------------------------------------------------
class ReferenceBackend:
    """A second, real backend for the registry's tests: onnx.reference.ReferenceEvaluator."""

    name = "reference"
    targets = ("cpu",)
    options = {"verbose": "ReferenceEvaluator's verbosity"}

    def compile(self, graph, target="cpu", verbose=0):
        from onnx.reference import ReferenceEvaluator

        from graphc.executable import Executable, Signature
        from graphc.lower.onnx import to_onnx

        class ReferenceExecutable(Executable):
            def __init__(self):
                super().__init__(Signature(tuple((n, graph.type_of((n, 0))) for n in graph.inputs),
                                           tuple((n, graph.type_of(v)) for n, v in graph.outputs)),
                                 device="cpu", backend="reference", label=graph.name)
                self.evaluator = ReferenceEvaluator(to_onnx(graph, portable=True), verbose=verbose)

            def _execute(self, feed):
                return self.evaluator.run(None, feed)

        return ReferenceExecutable()


@pytest.fixture
def reference_backend():
    made = []
    backends.register("reference", lambda: made.append(1) or ReferenceBackend())
    try:
        yield made
    finally:
        backends.unregister("reference")


def test_the_registry_finds_onnx_runtime_and_refuses_an_unknown_backend():
    assert "ort" in backends.available() and backends.DEFAULT == "ort"
    ort_backend = backends.get("ort")
    assert ort_backend is backends.get() and ort_backend.targets == ("cpu", "cuda")
    with pytest.raises(BackendError, match=r"unknown backend 'tensorrt': the registered backends are \[.*'ort'"):
        graphc.compile(load(mlp()), backend="tensorrt")


def test_a_second_backend_registers_without_touching_the_facade(reference_backend):
    assert "reference" in backends.available() and reference_backend == []  # made when first used
    with pytest.raises(BackendError, match="already registered"):
        backends.register("reference", ReferenceBackend)
    model = graphc.load(mlp())
    x = np.random.default_rng(3).standard_normal((6, 4)).astype(np.float32)
    for level in ("O0", "O2"):
        exe = graphc.compile(model, backend="reference", opt_level=level)
        assert exe.backend == "reference" and exe.device == "cpu"
        np.testing.assert_allclose(exe(x), reference(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, backend="reference", verbose=0), reference(x), rtol=1e-5, atol=1e-6)
    assert reference_backend == [1]
    with pytest.raises(BackendError, match=r"unknown target 'cuda' for backend 'reference': choose one of \['cpu'\]"):
        graphc.compile(model, backend="reference", target="cuda")
    with pytest.raises(BackendError, match=r"backend 'reference' has no option\(s\) \['threads'\]; its options "
                                           r"are verbose: "):
        graphc.compile(model, backend="reference", threads=1)


def test_unknown_backend_option_names_the_backend_and_its_options():
    with pytest.raises(BackendError, match=r"backend 'ort' has no option\(s\) \['thread'\]; its options are "
                                           r"threads: .*ort_level: .*fallback: "):
        graphc.compile(load(mlp()), opt_level="O0", thread=2)


def test_an_executable_tells_its_signature_and_where_it_runs():
    exe = graphc.compile(load(mlp()), opt_level="O0", threads=1)
    assert isinstance(exe, Executable)
    assert exe.signature.input_names == ["x"] and exe.signature.output_names == ["probs"]
    (name, t), = exe.signature.inputs
    assert t.dtype == np.float32 and len(t.shape) == 2 and t.shape[1] == 4 and isinstance(t.shape[0], str)
    assert exe.signature.outputs[0][1].shape[1] == 3
    assert (exe.backend, exe.device, exe.provider) == ("ort", "cpu", "CPUExecutionProvider")


def test_compiled_executables_are_kept_per_setting_until_a_weight_changes():
    model = graphc.load(mlp())
    x = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    exe = model.executable(opt_level="O2", threads=1)
    assert model.executable(opt_level="O2", threads=1) is exe
    assert model.executable(opt_level="O0", threads=1) is not exe
    before = model.predict(x, opt_level="O2", threads=1)
    # a weight the graph holds written behind the model's back (as a trainer does), then
    # announced: the next call compiles again
    g = model.graph
    w = next(n for n in g.nx.nodes if g.op(n) in ("Constant", "Variable") and g.attrs(n)["value"].shape == (4, 8))
    version = model.weights_version
    g.attrs(w)["value"] = -g.attrs(w)["value"]
    model.weights_changed()
    assert model.weights_version > version and model.executable(opt_level="O2", threads=1) is not exe
    after = model.predict(x, opt_level="O2", threads=1)
    assert not np.allclose(before, after)
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(after, sess.run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("level", ["O0", "O2"])
def test_set_weights_on_one_layer_changes_predict(level):
    from graphc import nn

    inp = nn.Input((4,))
    first = nn.Dense(8, activation="relu")
    last = nn.Dense(3)
    model = nn.Model(inp, last(first(inp)))
    x = np.random.default_rng(5).standard_normal((2, 4)).astype(np.float32)
    before = model.predict(x, opt_level=level)
    k = np.random.default_rng(6).standard_normal((8, 3)).astype(np.float32)
    b = np.arange(3, dtype=np.float32)
    last.set_weights([k, b])  # one layer, not the model
    hidden = np.maximum(x @ first.get_weights()[0] + first.get_weights()[1], 0)
    got = model.predict(x, opt_level=level)
    assert not np.allclose(before, got)
    np.testing.assert_allclose(got, hidden @ k + b, rtol=1e-5, atol=1e-5)


def test_a_model_that_has_predicted_pickles_and_predicts_the_same_in_a_fresh_process(tmp_path):
    import pickle
    import subprocess
    import sys

    model = graphc.load(mlp())
    x = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
    want = model.predict(x)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "x.npy", x)
    code = ("import pickle, sys, numpy as np; m = pickle.load(open(sys.argv[1], 'rb')); "
            "np.save(sys.argv[3], m.predict(np.load(sys.argv[2])))")
    r = subprocess.run([sys.executable, "-c", code, tmp_path / "model.pkl", tmp_path / "x.npy", tmp_path / "y.npy"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want, rtol=1e-6)
