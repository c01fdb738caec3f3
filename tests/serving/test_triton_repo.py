"""`graphc export --triton-repo`: a Triton model repository whose configs parse as Triton's
ModelConfig and whose ONNX files compute what `graphc.compile` does."""
from __future__ import annotations

import subprocess

import numpy as np
import onnxruntime as ort
import pytest

from tests.serving.conftest import graphc_command

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
text_format = pytest.importorskip("google.protobuf.text_format")


@pytest.fixture(scope="module")
def repo(model_files, tmp_path_factory):
    root = tmp_path_factory.mktemp("repo") / "models"
    specs = [f"{n}={p}" for n, p in model_files.items()]
    r = subprocess.run(graphc_command("export", *specs, "--triton-repo", str(root), "--max-batch-size", "16",
                                      "--max-queue-delay-ms", "2.5"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return root


def config(repo, name):
    return text_format.Parse((repo / name / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def test_layout(repo):
    assert sorted(p.name for p in repo.iterdir()) == ["fixed", "mlp", "multi"]
    for name in ("fixed", "mlp", "multi"):
        assert sorted(p.name for p in (repo / name).iterdir()) == ["1", "config.pbtxt"]
        assert [p.name for p in (repo / name / "1").iterdir()] == ["model.onnx"]


def test_batched_config(repo):
    c = config(repo, "multi")
    assert c.name == "multi" and c.backend == "onnxruntime" and c.platform == "onnxruntime_onnx"
    assert c.max_batch_size == 16
    assert c.dynamic_batching.max_queue_delay_microseconds == 2500
    T = model_config_pb2.DataType
    assert [(i.name, i.data_type, list(i.dims)) for i in c.input] == [
        ("a", T.Value("TYPE_FP32"), [4]), ("b", T.Value("TYPE_FP32"), [4]), ("k", T.Value("TYPE_INT64"), [])]
    assert [(o.name, list(o.dims)) for o in c.output] == [("sum", [4]), ("prod", [4]), ("twice", [])]
    assert c.instance_group[0].count == 1
    assert c.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.Kind.Value("KIND_CPU")


def test_unbatched_config(repo):
    c = config(repo, "fixed")
    assert c.max_batch_size == 0 and not c.HasField("dynamic_batching")
    assert [list(i.dims) for i in c.input] == [[3, 4]]


def test_onnx_files_compute_what_compile_does(repo, reference):
    x = np.random.default_rng(3).standard_normal((5, 16)).astype(np.float32)
    s = ort.InferenceSession(str(repo / "mlp" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(s.run(["y"], {"x": x})[0], reference["mlp"].run({"x": x})["y"], rtol=1e-5, atol=1e-6)


def test_bad_name_refused(model_files, tmp_path):
    r = subprocess.run(graphc_command("export", f"../up={model_files['mlp']}", "--triton-repo", str(tmp_path / "r")),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "model name '../up' is not allowed" in r.stderr
    assert not (tmp_path / "up").exists() and not (tmp_path / "r").exists()
