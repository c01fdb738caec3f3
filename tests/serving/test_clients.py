"""`graphc serve` driven by the real Triton clients, tritonclient.http and tritonclient.grpc."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.serving.conftest import start_server, stop_server

th = pytest.importorskip("tritonclient.http")
tg = pytest.importorskip("tritonclient.grpc")


MOBILENET = Path(__file__).resolve().parents[2] / "examples" / "mobilenetv2.keras"


@pytest.fixture(scope="module")
def server(model_files, tmp_path_factory):
    models = dict(model_files, mobilenet=str(MOBILENET))  # a .keras file too
    s = start_server(tmp_path_factory.mktemp("serve"), models, "--max-batch-size", "8",
                     "--max-queue-delay-ms", "1", "--threads", "1")
    yield s
    stop_server(s)


def feeds(rows: int = 3, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "mlp": {"x": rng.standard_normal((rows, 16)).astype(np.float32)},
        "multi": {"a": rng.standard_normal((rows, 4)).astype(np.float32),
                  "b": rng.standard_normal((rows, 4)).astype(np.float32),
                  "k": rng.integers(-100, 100, rows).astype(np.int64)},
        "fixed": {"x": rng.standard_normal((3, 4)).astype(np.float32)},
    }


def expected(reference, name, feed) -> dict:
    return reference[name].run(feed)


def http_inputs(feed: dict, binary: bool) -> list:
    out = []
    for k, v in feed.items():
        i = th.InferInput(k, list(v.shape), {"float32": "FP32", "int64": "INT64"}[v.dtype.name])
        i.set_data_from_numpy(v, binary_data=binary)
        out.append(i)
    return out


def grpc_inputs(feed: dict) -> list:
    out = []
    for k, v in feed.items():
        i = tg.InferInput(k, list(v.shape), {"float32": "FP32", "int64": "INT64"}[v.dtype.name])
        i.set_data_from_numpy(v)
        out.append(i)
    return out


def test_binds_loopback_by_default(server):
    assert server.host == "127.0.0.1"


def test_health_and_metadata_http(server):
    c = th.InferenceServerClient(server.http)
    assert c.is_server_live() and c.is_server_ready()
    assert all(c.is_model_ready(n) for n in ("mlp", "multi", "fixed"))
    assert not c.is_model_ready("nope")
    meta = c.get_model_metadata("multi")
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [
        ("a", "FP32", [-1, 4]), ("b", "FP32", [-1, 4]), ("k", "INT64", [-1])]
    assert [o["name"] for o in meta["outputs"]] == ["sum", "prod", "twice"]
    assert c.get_model_metadata("fixed")["inputs"][0]["shape"] == [3, 4]
    assert "name" in c.get_server_metadata()


def test_health_and_metadata_grpc(server):
    c = tg.InferenceServerClient(server.grpc)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("mlp")
    meta = c.get_model_metadata("mlp", as_json=True)
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["-1", "16"]}]
    assert meta["outputs"][0]["shape"] == ["-1", "32"]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("name", ["mlp", "multi", "fixed"])
def test_infer_http_equals_compile(server, reference, name, binary):
    c = th.InferenceServerClient(server.http)
    feed = feeds()[name]
    want = expected(reference, name, feed)
    outputs = [th.InferRequestedOutput(o, binary_data=binary) for o in want]
    r = c.infer(name, http_inputs(feed, binary), outputs=outputs, request_id="req-7")
    assert r.get_response()["id"] == "req-7"
    for o, arr in want.items():
        got = r.as_numpy(o)
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_allclose(got, arr, rtol=1e-6, atol=1e-6)


def test_infer_http_without_outputs_or_id(server, reference):
    """tritonclient's plainest call: JSON inputs, no Content-Type, no request id, no outputs listed."""
    c = th.InferenceServerClient(server.http)
    feed = feeds()["mlp"]
    r = c.infer("mlp", http_inputs(feed, binary=False))
    assert r.get_response()["id"]
    np.testing.assert_allclose(r.as_numpy("y"), expected(reference, "mlp", feed)["y"], rtol=1e-6, atol=1e-6)


def test_infer_http_one_requested_output(server, reference):
    c = th.InferenceServerClient(server.http)
    feed = feeds()["multi"]
    r = c.infer("multi", http_inputs(feed, True), outputs=[th.InferRequestedOutput("twice")])
    assert r.as_numpy("sum") is None
    np.testing.assert_array_equal(r.as_numpy("twice"), feed["k"] * 2)


@pytest.mark.parametrize("name", ["mlp", "multi", "fixed"])
def test_infer_grpc_equals_compile(server, reference, name):
    c = tg.InferenceServerClient(server.grpc)
    feed = feeds(rows=5, seed=2)[name]
    want = expected(reference, name, feed)
    r = c.infer(name, grpc_inputs(feed), request_id="g-1")
    assert r.get_response().id == "g-1"
    for o, arr in want.items():
        np.testing.assert_allclose(r.as_numpy(o), arr, rtol=1e-6, atol=1e-6)


def test_grpc_bad_requests(server):
    c = tg.InferenceServerClient(server.grpc)
    x = np.zeros((2, 15), np.float32)
    with pytest.raises(tg.InferenceServerException) as e:
        c.infer("mlp", grpc_inputs({"x": x}))
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "dimension 1 must be 16" in e.value.message()
    with pytest.raises(tg.InferenceServerException) as e:
        c.infer("nope", grpc_inputs({"x": x}))
    assert e.value.status() == "StatusCode.NOT_FOUND"
    feed = feeds()["mlp"]
    assert c.infer("mlp", grpc_inputs(feed)).as_numpy("y").shape == (3, 32)


def test_statistics_count_requests(server):
    c = th.InferenceServerClient(server.http)
    before = c.get_inference_statistics("fixed")["model_stats"][0]["inference_count"]
    c.infer("fixed", http_inputs(feeds()["fixed"], True))
    stats = c.get_inference_statistics("fixed")["model_stats"][0]
    assert stats["inference_count"] == before + 1
    assert {b["batch_size"] for b in stats["batch_stats"]} == {1}  # no batch dimension: never batched


def test_port_in_use_and_bad_name_are_errors(server, model_files):
    import subprocess

    from tests.serving.conftest import graphc_command

    port = server.http.split(":")[1]
    r = subprocess.run(graphc_command("serve", f"mlp={model_files['mlp']}", "--http-port", port, "--no-grpc"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr
    r = subprocess.run(graphc_command("serve", f"a/b={model_files['mlp']}", "--http-port", "0"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "model name 'a/b' is not allowed" in r.stderr
    assert th.InferenceServerClient(server.http).is_server_live()


def test_keras_file_served(server):
    import graphc

    x = np.random.default_rng(5).random((2, 96, 96, 3)).astype(np.float32)
    want = graphc.compile(graphc.load(MOBILENET)).run({"input_layer": x})["predictions"]
    c = th.InferenceServerClient(server.http)
    assert c.get_model_metadata("mobilenet")["inputs"] == [
        {"name": "input_layer", "datatype": "FP32", "shape": [-1, 96, 96, 3]}]
    r = c.infer("mobilenet", http_inputs({"input_layer": x}, binary=True))
    np.testing.assert_allclose(r.as_numpy("predictions"), want, rtol=1e-5, atol=1e-6)


def test_clients_cannot_unload_models(server):
    c = tg.InferenceServerClient(server.grpc)
    with pytest.raises(tg.InferenceServerException) as e:
        c.unload_model("mlp")
    assert e.value.status() == "StatusCode.UNIMPLEMENTED" and "restart it" in e.value.message()
    assert c.is_model_ready("mlp")
