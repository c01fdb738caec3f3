"""Dynamic batching batches: concurrent one-row requests run as one batch, results split back.

The batch can only run once it is full (max batch size 4) or after the queue delay (60 s), so
four concurrent requests run as one batch of 4 however the threads are scheduled: no timing.
"""
from __future__ import annotations

import http.client
import threading

import numpy as np
import pytest

from tests.serving.conftest import start_server, stop_server

th = pytest.importorskip("tritonclient.http")


@pytest.fixture(scope="module")
def server(model_files, tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("serve"), {"mlp": model_files["mlp"]}, "--max-batch-size", "4",
                     "--max-queue-delay-ms", "60000", "--no-grpc")
    yield s
    stop_server(s)


def test_four_requests_run_as_one_batch(server, reference):
    xs = [np.random.default_rng(i).standard_normal((1, 16)).astype(np.float32) for i in range(4)]
    results, errors = [None] * 4, []

    def call(i):
        try:
            c = th.InferenceServerClient(server.http, network_timeout=120)
            inp = th.InferInput("x", [1, 16], "FP32")
            inp.set_data_from_numpy(xs[i], binary_data=True)
            results[i] = c.infer("mlp", [inp]).as_numpy("y")
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors
    for x, got in zip(xs, results):  # each request got its own rows back
        np.testing.assert_allclose(got, reference["mlp"].run({"x": x})["y"], rtol=1e-6, atol=1e-6)
    stats = th.InferenceServerClient(server.http).get_inference_statistics("mlp")["model_stats"][0]
    assert stats["inference_count"] == 4 and stats["execution_count"] == 1
    assert stats["batch_stats"] == [{"batch_size": 4, "compute_infer": stats["batch_stats"][0]["compute_infer"]}]
    host, port = server.http.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", "/metrics")
    metrics = c.getresponse().read().decode()
    assert 'graphc_batch_size_count{model="mlp"} 1.0' in metrics
    assert 'graphc_batch_size_sum{model="mlp"} 4.0' in metrics


def test_a_request_of_four_rows_runs_at_once(server, reference):
    x = np.random.default_rng(9).standard_normal((4, 16)).astype(np.float32)
    inp = th.InferInput("x", [4, 16], "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    got = th.InferenceServerClient(server.http, network_timeout=120).infer("mlp", [inp]).as_numpy("y")
    np.testing.assert_allclose(got, reference["mlp"].run({"x": x})["y"], rtol=1e-6, atol=1e-6)
