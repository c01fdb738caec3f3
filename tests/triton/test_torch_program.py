"""The torch program (every node one torch call, the torch-eager and torch.compile peers of
`graphc bench --target triton`) against ONNX Runtime: each op the Triton lowering knows, whole
models, and the bench command that measures the Triton program against it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.lower.triton import fallback
from graphc.lower.triton.lowering import POINTWISE, REDUCTIONS
from graphc.passes import optimize_for_inference
from graphc.runtime.triton import torch_program

from .conftest import assert_close
from .test_kernels import feeds, graph, op

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def check(g, feed, rtol=1e-5, compiled=False):
    exe = torch_program(optimize_for_inference(g, "O0"), compiled=compiled)
    want = graphc.compile(g, threads=1, opt_level="O0").run(feed)
    got = exe.run(feed)
    for k in want:
        assert_close(got[k], want[k], rtol)
    assert exe.kernel_count == 0 and "import triton" not in exe.source
    return exe


def test_every_op_the_lowering_fuses_has_a_torch_form():
    assert set(POINTWISE) - set(fallback.TORCH) == set()
    assert set(REDUCTIONS) - set(fallback.TORCH) == set()


@pytest.mark.parametrize("name,attrs,inputs", [
    ("Relu", {}, 1), ("LeakyRelu", {"alpha": 0.2}, 1), ("Elu", {"alpha": 0.7}, 1), ("Selu", {}, 1),
    ("Celu", {"alpha": 0.5}, 1), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, 1), ("HardSwish", {}, 1),
    ("Softplus", {}, 1), ("Softsign", {}, 1), ("Erf", {}, 1), ("Gelu", {}, 1), ("Gelu", {"approximate": "tanh"}, 1),
    ("Mish", {}, 1), ("Sign", {}, 1), ("Floor", {}, 1), ("Ceil", {}, 1), ("Sin", {}, 1), ("Cos", {}, 1),
    ("Reciprocal", {}, 1), ("Neg", {}, 1), ("Abs", {}, 1), ("Exp", {}, 1), ("Sigmoid", {}, 1), ("Tanh", {}, 1),
    ("Shrink", {"lambd": 0.3, "bias": 0.1}, 1), ("ThresholdedRelu", {"alpha": 0.2}, 1),
    ("Sub", {}, 2), ("Div", {}, 2), ("Pow", {}, 2), ("Min", {}, 2), ("Max", {}, 3), ("Sum", {}, 3), ("Mean", {}, 2),
    ("PRelu", {}, 2),
])
def test_pointwise_ops(name, attrs, inputs):
    g, xs = graph(*[(3, 17)] * inputs)
    g.add_output("y", op(g, name, *xs, **attrs))
    feed = feeds(g, positive=name == "Pow")
    if name == "Div":
        feed["x1"] = np.abs(feed["x1"]) + 0.5
    check(g, feed)


def test_comparisons_logic_where_clip_and_integer_division():
    g, (x, y) = graph((4, 9), (4, 9))
    gt, le = op(g, "Greater", x, y), op(g, "LessOrEqual", x, g.add_constant(np.float32(0.1)))
    w = op(g, "Where", op(g, "Xor", op(g, "And", gt, op(g, "Not", le)), op(g, "Or", gt, le)), x, y)
    c = op(g, "Clip", w, g.add_constant(np.float32(-0.5)), g.add_constant(np.float32(0.7)))
    q = op(g, "Div", op(g, "Cast", op(g, "Mul", x, g.add_constant(np.float32(10))), to=7),
           g.add_constant(np.int64(3)))  # ONNX integer Div truncates toward zero
    g.add_output("c", c)
    g.add_output("q", q)
    check(g, feeds(g))


@pytest.mark.parametrize("name,attrs", [
    ("ReduceL1", {"keepdims": 1}), ("ReduceL2", {"keepdims": 0}), ("ReduceSumSquare", {"keepdims": 1}),
    ("ReduceLogSumExp", {"keepdims": 0}), ("ReduceSum", {"keepdims": 1}), ("ReduceMax", {"keepdims": 0}),
])
def test_reductions(name, attrs):
    g, (x,) = graph((3, 5, 7))
    g.add_output("y", op(g, name, x, g.add_constant(np.array([1, -1], np.int64)), **attrs))
    check(g, feeds(g))


def test_global_pools_argmax_batchnorm_softmax_layernorm():
    g, (x,) = graph((2, 4, 5, 5))
    rng = np.random.default_rng(1)
    p = [g.add_constant(rng.standard_normal(4).astype(np.float32)) for _ in range(3)]
    var = g.add_constant((np.abs(rng.standard_normal(4)) + 0.5).astype(np.float32))
    bn = op(g, "BatchNormalization", x, p[0], p[1], p[2], var, epsilon=1e-3)
    g.add_output("avg", op(g, "GlobalAveragePool", bn))
    g.add_output("max", op(g, "GlobalMaxPool", bn))
    g.add_output("arg", op(g, "ArgMax", bn, axis=1, keepdims=0))
    g.add_output("sm", op(g, "Softmax", bn, axis=1))
    ln = op(g, "LayerNormalization", bn, g.add_constant(np.ones(5, np.float32)), g.add_constant(np.zeros(5, np.float32)),
            axis=-1)
    g.add_output("ln", ln)
    check(g, feeds(g))


@pytest.mark.parametrize("name", ["torch_mlp", "torch_resnet_block", "torch_transformer"])
def test_whole_models(name):
    model = graphc.load(FIXTURES / "onnx" / f"{name}.onnx")
    data = np.load(FIXTURES / "onnx" / f"{name}.npz")
    exe = torch_program(optimize_for_inference(model.graph, "O2"))
    want = graphc.compile(model, threads=1)(data["input_0"])
    assert_close(exe(data["input_0"]), want, 1e-5)
    assert exe.provider == "torch-eager-cpu"


@pytest.mark.slow
def test_torch_compile_of_the_program_matches():
    model = graphc.load(FIXTURES / "onnx" / "torch_resnet_block.onnx")
    data = np.load(FIXTURES / "onnx" / "torch_resnet_block.npz")
    exe = torch_program(optimize_for_inference(model.graph, "O2"), compiled=True)
    assert_close(exe(data["input_0"]), graphc.compile(model, threads=1)(data["input_0"]), 1e-5)
    assert exe.provider == "torch-compile-cpu"


@pytest.mark.slow
def test_bench_target_triton_measures_the_program_against_torch(tmp_path):
    env = {"TRITON_INTERPRET": "1", "GRAPHC_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "graphc.cli", "bench", str(FIXTURES / "onnx" / "torch_mlp.onnx"),
                        "--target", "triton", "--interpret", "--runs", "3", "--warmup", "1", "--batch", "1,4",
                        "--threads", "1", "--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["baseline"] == "torch eager" and report["check"]["kernels"] == 4
    for peer in ("torch eager", "torch.compile"):
        assert report["check"][f"{peer} vs triton"].endswith(" ok")
    rows = {(row["variant"], row["batch"]): row for row in report["results"]}
    for variant in ("graphc triton (interpreter)", "torch eager", "torch.compile"):
        for batch in (1, 4):
            assert rows[(variant, batch)]["runs"] >= 3 and rows[(variant, batch)]["p50_ms"] > 0
    assert rows[("torch eager", 1)]["vs_baseline"] == 1.0
    assert any("CUDAExecutionProvider" in n for n in report["notes"])  # the CPU build here: said, not hidden


def test_bench_refuses_an_unknown_target():
    with pytest.raises(graphc.GraphcError, match="unknown target"):
        graphc.api.bench(FIXTURES / "onnx" / "torch_mlp.onnx", target="tpu")
