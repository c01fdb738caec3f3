"""Model files and `graphc serve` subprocesses for the serving tests (real tritonclient peers).

The test process never imports kserve: kserve and tritonclient.grpc register the same protobuf
names (`inference.*`) and cannot share a process, so the server always runs as a subprocess.
"""
from __future__ import annotations

import importlib.util
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

if importlib.util.find_spec("kserve") is None or importlib.util.find_spec("tritonclient") is None:
    pytest.skip("the serve extra (kserve, tritonclient) is not installed", allow_module_level=True)

ANNOUNCE = re.compile(r"graphc serve: http://([^:]+):(\d+)(?: grpc [^:]+:(\d+))?")


def _save(graph, path: Path) -> str:
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 21)]), path)
    return str(path)


def write_models(folder: Path) -> dict:
    """mlp: x[batch,16] -> y[batch,32]; multi: a, b (FP32) and k (INT64) -> sum, prod, twice;
    fixed: x[3,4] -> y[3,4], no batch dimension."""
    rng = np.random.default_rng(0)
    w = nh.from_array(rng.standard_normal((16, 32)).astype(np.float32), "w")
    b = nh.from_array(rng.standard_normal(32).astype(np.float32), "b")
    mlp = h.make_graph([h.make_node("Gemm", ["x", "w", "b"], ["h"]), h.make_node("Relu", ["h"], ["y"])], "mlp",
                       [h.make_tensor_value_info("x", T.FLOAT, ["batch", 16])],
                       [h.make_tensor_value_info("y", T.FLOAT, ["batch", 32])], [w, b])
    two = nh.from_array(np.array(2, np.int64), "two")
    multi = h.make_graph(
        [h.make_node("Add", ["a", "b"], ["sum"]), h.make_node("Mul", ["a", "b"], ["prod"]),
         h.make_node("Mul", ["k", "two"], ["twice"])], "multi",
        [h.make_tensor_value_info("a", T.FLOAT, ["batch", 4]), h.make_tensor_value_info("b", T.FLOAT, ["batch", 4]),
         h.make_tensor_value_info("k", T.INT64, ["batch"])],
        [h.make_tensor_value_info("sum", T.FLOAT, ["batch", 4]), h.make_tensor_value_info("prod", T.FLOAT, ["batch", 4]),
         h.make_tensor_value_info("twice", T.INT64, ["batch"])], [two])
    c = nh.from_array(np.float32(3.0).reshape(()), "c")
    fixed = h.make_graph([h.make_node("Mul", ["x", "c"], ["y"])], "fixed",
                         [h.make_tensor_value_info("x", T.FLOAT, [3, 4])],
                         [h.make_tensor_value_info("y", T.FLOAT, [3, 4])], [c])
    folder.mkdir(parents=True, exist_ok=True)
    return {"mlp": _save(mlp, folder / "mlp.onnx"), "multi": _save(multi, folder / "multi.onnx"),
            "fixed": _save(fixed, folder / "fixed.onnx")}


class Server:
    def __init__(self, proc, host, http_port, grpc_port):
        self.proc, self.host = proc, host
        self.http = f"{host}:{http_port}"
        self.grpc = f"{host}:{grpc_port}" if grpc_port else None


def graphc_command(*args) -> list:
    return [sys.executable, "-m", "graphc.cli", *args]


def start_server(cwd: Path, models: dict, *options, timeout: float = 120.0) -> Server:
    """`graphc serve name=path ... --http-port 0 --grpc-port 0 OPTIONS`, once it says it listens."""
    specs = [f"{n}={p}" for n, p in models.items()]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(graphc_command("serve", *specs, "--http-port", "0", "--grpc-port", "0", *options),
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    seen = []

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            proc.kill()
            raise RuntimeError("graphc serve did not start:\n" + "".join(seen)) from None
        if line is None:
            raise RuntimeError(f"graphc serve exited with {proc.wait()}:\n" + "".join(seen))
        seen.append(line)
        m = ANNOUNCE.search(line)
        if m:
            return Server(proc, m.group(1), int(m.group(2)), int(m.group(3)) if m.group(3) else None)


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict:
    return write_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def reference(model_files):
    """{name: the in-process executable}, `graphc.compile` on the same files."""
    import graphc

    return {n: graphc.compile(graphc.load(p)) for n, p in model_files.items()}
