"""ONNX Runtime execution through graphc.compile / GraphModel.predict."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import graphc
from graphc import BackendError
from graphc.importers.onnx import load
from graphc.runtime.ort import provider_report
from tests.core.onnx_models import mlp


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
