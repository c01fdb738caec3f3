"""Every kind of bad request gets its 4xx with a JSON error naming what is wrong, and the
server answers the next good request (checked after each case)."""
from __future__ import annotations

import http.client
import json

import numpy as np
import pytest

from tests.serving.conftest import start_server, stop_server

LIMIT = 200_000


@pytest.fixture(scope="module")
def server(model_files, tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("serve"), model_files, "--max-request-bytes", str(LIMIT),
                     "--no-grpc")
    yield s
    stop_server(s)


def post(server, path: str, body: bytes, headers=None):
    host, port = server.http.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("POST", path, body, headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def tensor(name, shape, datatype="FP32", data=None):
    n = int(np.prod(shape))
    return {"name": name, "shape": shape, "datatype": datatype, "data": [0.5] * n if data is None else data}


def good(server) -> None:
    status, data = post(server, "/v2/models/mlp/infer",
                        json.dumps({"inputs": [tensor("x", [2, 16])]}).encode())
    assert status == 200, data
    out = json.loads(data)["outputs"][0]
    assert out["name"] == "y" and out["shape"] == [2, 32]


def binary_body(parts, size=None):
    head = json.dumps({"inputs": [{"name": "x", "shape": [1, 16], "datatype": "FP32",
                                   "parameters": {"binary_data_size": size if size is not None else len(parts)}}]})
    return head.encode() + parts, {"Inference-Header-Content-Length": str(len(head))}


X = np.ones((1, 16), np.float32).tobytes()

CASES = {
    "unknown model": ("/v2/models/nope/infer", json.dumps({"inputs": [tensor("x", [1, 16])]}), None, 404, "nope"),
    "model name with a path": ("/v2/models/..%2F..%2Fetc%2Fpasswd/infer", "{}", None, 404, "no endpoint"),
    "model name with dots": ("/v2/models/../infer", "{}", None, 404, "does not exist"),
    "unknown input": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [1, 16]), tensor("z", [1])]}),
                      None, 400, "no input 'z'"),
    "missing input": ("/v2/models/multi/infer", json.dumps({"inputs": [tensor("a", [1, 4]), tensor("b", [1, 4])]}),
                      None, 400, "missing input(s): k"),
    "wrong datatype": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [1, 16], "FP64")]}), None, 400,
                       "datatype 'FP64'"),
    "unknown datatype": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [1, 16], "FLOAT")]}), None, 400,
                         "not an Open Inference Protocol datatype"),
    "wrong shape": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [1, 15])]}), None, 400,
                    "dimension 1 must be 16"),
    "wrong rank": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [16])]}), None, 400, "rank"),
    "negative dimension": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [-1, 16], data=[])]}), None,
                           400, "non-negative"),
    "batch sizes disagree": ("/v2/models/multi/infer", json.dumps({"inputs": [
        tensor("a", [2, 4]), tensor("b", [3, 4]), tensor("k", [2], "INT64", [1, 2])]}), None, 400, "must agree"),
    "data shorter than shape": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [2, 16], data=[1.0] * 16)]}),
                                None, 400, "16 elements of data, but shape [2, 16] holds 32"),
    "text in numbers": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [1, 16], data=["a"] * 16)]}),
                        None, 400, "not FP32 values"),
    "float for an integer": ("/v2/models/multi/infer", json.dumps({"inputs": [
        tensor("a", [1, 4]), tensor("b", [1, 4]), tensor("k", [1], "INT64", [1.5])]}), None, 400, "not INT64"),
    "ragged data": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [2, 16], data=[[1.0] * 16, [1.0]])]}),
                    None, 400, "ragged"),
    "malformed JSON": ("/v2/models/mlp/infer", '{"inputs": [', None, 400, "malformed JSON"),
    "not an object": ("/v2/models/mlp/infer", "[1, 2]", None, 400, "JSON object"),
    "no inputs field": ("/v2/models/mlp/infer", "{}", None, 400, "no 'inputs' field"),
    "input without name": ("/v2/models/mlp/infer", json.dumps({"inputs": [{"shape": [1], "datatype": "FP32",
                                                                            "data": [1]}]}), None, 400, "'name'"),
    "input without data": ("/v2/models/mlp/infer", json.dumps({"inputs": [{"name": "x", "shape": [1, 16],
                                                                            "datatype": "FP32"}]}), None, 400,
                           "neither 'data'"),
    "unknown output": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [1, 16])],
                                                           "outputs": [{"name": "q"}]}), None, 400, "no output(s) ['q']"),
    "body over the limit": ("/v2/models/mlp/infer", json.dumps({"inputs": [tensor("x", [1, 16],
                                                                                   data=[0.5] * (LIMIT // 4))]}),
                            None, 413, "over this server's limit"),
    "binary shorter than declared": ("/v2/models/mlp/infer", *binary_body(X[:60], size=64), 400, "runs past the end"),
    "binary of the wrong size": ("/v2/models/mlp/infer", *binary_body(X[:60]), 400, "60 bytes of binary data"),
    "binary left over": ("/v2/models/mlp/infer", *binary_body(X + b"xxxx", size=64), 400, "add up to 64"),
    "header length past the body": ("/v2/models/mlp/infer", "{}", {"Inference-Header-Content-Length": "999"}, 400,
                                    "length of the JSON part"),
    "version that does not exist": ("/v2/models/mlp/versions/7/infer",
                                    json.dumps({"inputs": [tensor("x", [1, 16])]}), None, 400, "version 1 only"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request(server, case):
    path, body, headers, status, words = CASES[case]
    got, data = post(server, path, body.encode() if isinstance(body, str) else body, headers)
    assert got == status, data
    assert words in json.loads(data)["error"]
    good(server)


def test_good_binary_request(server):
    body, headers = binary_body(X)
    status, data = post(server, "/v2/models/mlp/infer", body, headers)
    assert status == 200, data
    assert server.proc.poll() is None
