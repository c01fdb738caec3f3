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
    models = {"mlp": model_files["mlp"], "multi": model_files["multi"]}
    s = start_server(tmp_path_factory.mktemp("serve"), models, "--max-batch-size", "4",
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


def test_a_waiting_model_does_not_hold_up_another(server, reference):
    """A request to mlp waits in mlp's queue for its batch to fill; multi, with its own queue and
    workers, answers meanwhile. Then three more mlp requests fill the batch and release it."""
    done = []

    def call(i):
        c = th.InferenceServerClient(server.http, network_timeout=120)
        inp = th.InferInput("x", [1, 16], "FP32")
        inp.set_data_from_numpy(np.full((1, 16), i, np.float32), binary_data=True)
        done.append(c.infer("mlp", [inp]).as_numpy("y"))

    first = threading.Thread(target=call, args=(0,))
    first.start()
    c = th.InferenceServerClient(server.http, network_timeout=120)
    while c.get_inference_statistics("mlp")["model_stats"][0]["pending_count"] != 1:
        assert first.is_alive(), "the first mlp request ended before its batch could fill"
        first.join(0.01)  # until mlp's request is queued on the server
    inputs = []
    # four rows: a full batch for multi too, so it runs at once rather than after the queue delay
    for name, arr in (("a", np.ones((4, 4), np.float32)), ("b", np.ones((4, 4), np.float32)),
                      ("k", np.array([3, 4, 5, 6], np.int64))):
        i = th.InferInput(name, list(arr.shape), "FP32" if arr.dtype == np.float32 else "INT64")
        i.set_data_from_numpy(arr, binary_data=True)
        inputs.append(i)
    np.testing.assert_array_equal(c.infer("multi", inputs).as_numpy("twice"), [6, 8, 10, 12])
    assert not done  # mlp's lone request is still waiting for its batch (it cannot run before 4 rows)
    rest = [threading.Thread(target=call, args=(i,)) for i in (1, 2, 3)]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join(180)
    assert len(done) == 4
