"""The `graphc` command line, run as a user runs it (a subprocess), with its exit codes."""
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from tests.core.onnx_models import mlp


def graphc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "graphc.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture
def model_path(tmp_path):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp(), p)
    return p


def test_inspect_text_and_json(model_path):
    r = graphc("inspect", model_path)
    assert r.returncode == 0, r.stderr
    assert "input  x: float32[N,4]" in r.stdout and "MatMul×2" in r.stdout
    info = json.loads(graphc("inspect", model_path, "--json").stdout)
    assert info["inputs"] == {"x": {"dtype": "float32", "shape": ["N", 4]}}
    assert info["outputs"]["probs"]["shape"] == ["N", 3]
    assert info["parameters"] == 4 * 8 + 8 + 8 * 3 and info["parameter_bytes"] == 4 * info["parameters"]
    assert info["ops"]["MatMul"] == 2 and info["opset"][""] >= 21


def test_run_with_random_and_given_inputs(model_path, tmp_path):
    out = tmp_path / "out.npz"
    r = graphc("run", model_path, "--seed", 3, "-o", out, "-O0")
    assert r.returncode == 0, r.stderr
    assert "probs: float32[1, 3]" in r.stdout
    probs = np.load(out)["probs"]
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)
    x = np.ones((2, 4), np.float32)
    np.save(tmp_path / "x.npy", x)
    r = graphc("run", model_path, "--input", f"x={tmp_path / 'x.npy'}", "-o", out, "-O0")
    assert r.returncode == 0 and np.load(out)["probs"].shape == (2, 3)


def test_convert_writes_plain_onnx(model_path, tmp_path):
    out = tmp_path / "conv.onnx"
    r = graphc("convert", model_path, "-o", out)
    assert r.returncode == 0, r.stderr
    onnx.checker.check_model(onnx.load(out), full_check=True)


def test_model_errors_exit_1_with_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    r = graphc("inspect", bad)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("graphc: error:") and "bad.onnx" in r.stderr
    r = graphc("--debug", "inspect", bad)
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_input_errors_exit_1(model_path, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 9), np.float32))
    r = graphc("run", model_path, "--input", f"x={tmp_path / 'x.npy'}", "-O0")
    assert r.returncode == 1 and "dimension 1 must be 4" in r.stderr
    r = graphc("run", model_path, "--input", f"nope={tmp_path / 'x.npy'}", "-O0")
    assert r.returncode == 1 and "no input(s) ['nope']" in r.stderr


def test_usage_errors_exit_2(model_path):
    assert graphc("frobnicate").returncode == 2
    assert graphc("convert", model_path).returncode == 2  # -o is required
    assert graphc().returncode == 2


def test_info_reports_provider():
    r = graphc("info", "--json")
    assert r.returncode == 0 and "CPUExecutionProvider" in json.loads(r.stdout)["available_providers"]


def test_compile_prints_pass_statistics_and_writes_dot(model_path, tmp_path):
    out = tmp_path / "opt.onnx"
    r = graphc("compile", model_path, "-O2", "-o", out, "--dot", tmp_path / "g.dot")
    assert r.returncode == 0, r.stderr
    assert "pipeline O2" in r.stdout and "matmul-add-to-gemm" in r.stdout
    optimized = onnx.load(out)
    onnx.checker.check_model(optimized, full_check=True)
    ops = {n.op_type for n in optimized.graph.node}
    assert "FusedGemm" in ops and not ops & {"Add", "Relu"}  # MatMul + Add + Relu became one kernel
    before, after = (tmp_path / "g.before.dot").read_text(), (tmp_path / "g.after.dot").read_text()
    assert before.startswith("digraph") and "Relu" in before and "FusedGemm" in after


def test_bench_json_has_every_variant(model_path):
    r = graphc("bench", model_path, "--batch", "1,4", "--runs", "3", "--warmup", "1", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["baseline"] == "onnxruntime (raw)"
    assert report["check"]["O2 vs O0 max rel diff"].endswith("ok")
    rows = {(row["variant"], row["batch"]) for row in report["results"]}
    assert rows == {(v, b) for v in ("graphc O2", "graphc O0", "onnxruntime (raw)") for b in (1, 4)}
    assert all(row["p50_ms"] > 0 and row["runs"] == 3 for row in report["results"])


def test_bench_rejects_a_bad_batch_list(model_path):
    assert graphc("bench", model_path, "--batch", "one").returncode == 2


def test_run_asks_for_inputs_it_cannot_make_up(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["words"], ["same"])], "strings",
                              [helper.make_tensor_value_info("words", TensorProto.STRING, [2])],
                              [helper.make_tensor_value_info("same", TensorProto.STRING, [2])])
    path = tmp_path / "strings.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)
    r = graphc("run", path, "-O0")
    assert r.returncode == 1
    assert "cannot make random data of dtype object for input 'words'; give it with --input" in r.stderr
