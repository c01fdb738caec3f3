"""Model files and `graphc serve` subprocesses for the serving tests (real tritonclient peers).

The test process never imports kserve: kserve and tritonclient.grpc register the same protobuf
names (`inference.*`) and cannot share a process, so the server always runs as a subprocess.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from graphc.runtime.serving.process import ServerProcess

if importlib.util.find_spec("kserve") is None or importlib.util.find_spec("tritonclient") is None:
    pytest.skip("the serve extra (kserve, tritonclient) is not installed", allow_module_level=True)

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


def graphc_command(*args) -> list:
    return [sys.executable, "-m", "graphc.cli", *args]


def start_server(cwd: Path, models: dict, *options) -> ServerProcess:
    return ServerProcess(models, *options, cwd=cwd)


def stop_server(server: ServerProcess) -> None:
    server.stop()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict:
    return write_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def reference(model_files):
    """{name: the in-process executable}, `graphc.compile` on the same files."""
    import graphc

    return {n: graphc.compile(graphc.load(p)) for n, p in model_files.items()}
