"""The program around the kernels: the disk cache, one specialization per batch size, buffer
reuse, the emitted module run on its own, the CLI, and the errors that say what to install."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import graphc
import graphc.api
from graphc.errors import BackendError, GraphcError, UnsupportedOpError
from graphc.ir import Graph
from graphc.lower.triton.cache import cache_dir
from graphc.types import TensorType

from .conftest import assert_close

F32 = np.float32


def mlp_graph():
    g = Graph("mlp")
    x = g.add_input("x", TensorType(F32, ("batch", 6)))
    rng = np.random.default_rng(0)
    h = (g.add_node("MatMul", [x, g.add_constant(rng.standard_normal((6, 8)).astype(F32))]), 0)
    h = (g.add_node("Relu", [(g.add_node("Add", [h, g.add_constant(rng.standard_normal(8).astype(F32))]), 0)]), 0)
    h = (g.add_node("MatMul", [h, g.add_constant(rng.standard_normal((8, 3)).astype(F32))]), 0)
    g.add_output("y", (g.add_node("Softmax", [h], {"axis": -1}), 0))
    return g


def test_a_specialization_per_batch_size_each_cached_on_disk():
    g = mlp_graph()
    exe, ref = graphc.compile(g, target="triton", interpret=True), graphc.compile(g)
    assert exe.programs == {}  # symbolic batch: nothing is written before a size is seen...
    assert exe.fallbacks == [] and exe.kernel_count == 3  # ...but asking describes the one at size 1
    for b in (1, 5, 1, 3):
        x = np.random.default_rng(b).standard_normal((b, 6)).astype(F32)
        assert_close(exe(x), ref(x), 1e-5)
    assert sorted(exe.programs) == [(("batch", 1),), (("batch", 3),), (("batch", 5),)]  # 1 built once
    files = sorted(p.name for p in cache_dir().glob("graphc_triton_*.py"))
    keys = {f"graphc_triton_{p.key}.py" for p, _, _ in exe.programs.values()}
    assert keys <= set(files) and len(keys) == 3
    # a second executable of the same graph imports the cached module rather than writing anew
    again = graphc.compile(g, target="triton", interpret=True)
    again(np.ones((5, 6), F32))
    prog = again.program({"batch": 5})
    assert prog.key in {p.key for p, _, _ in exe.programs.values()}


def test_cache_dir_follows_graphc_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    g = Graph("one")
    x = g.add_input("x", TensorType(F32, (4,)))
    g.add_output("y", (g.add_node("Exp", [x]), 0))
    graphc.compile(g, target="triton", interpret=True)
    assert len(list((tmp_path / "triton").glob("graphc_triton_*.py"))) == 1


def test_dead_buffers_are_reused():
    g = Graph("chain")
    x = g.add_input("x", TensorType(F32, (4, 16)))
    v = x
    for i in range(4):  # each Softmax reads a realized buffer: a kernel each, buffers recycled
        v = (g.add_node("Softmax", [(g.add_node("Exp", [v]), 0)] if i % 2 else [v], {"axis": -1}), 0)
    g.add_output("y", v)
    exe = graphc.compile(g, target="triton", interpret=True, opt_level="O0")
    assert "reuses the buffer" in exe.source
    a = np.random.default_rng(0).standard_normal((4, 16)).astype(F32)
    assert_close(exe(a), graphc.compile(g)(a), 1e-5)


def test_emitted_module_runs_on_its_own(tmp_path):
    env = dict(os.environ, TRITON_INTERPRET="1", GRAPHC_CACHE_DIR=str(tmp_path / "cache"))
    model = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx", "torch_mlp.onnx")
    r = subprocess.run([sys.executable, "-m", "graphc.cli", "compile", model, "--target", "triton",
                        "--emit-source", str(tmp_path / "out"), "--interpret", "--batch", "3"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Triton kernels" in r.stdout
    src = (tmp_path / "out" / "program.py").read_text()
    assert src.count("@triton.jit") == 4 and "# IR nodes:" in src
    r = subprocess.run([sys.executable, "program.py"], cwd=tmp_path / "out", env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "output 0: (3, 10)" in r.stdout


def test_cli_triton_needs_emit_source(tmp_path):
    model = os.path.join(os.path.dirname(__file__), "..", "fixtures", "onnx", "torch_mlp.onnx")
    r = subprocess.run([sys.executable, "-m", "graphc.cli", "compile", model, "--target", "triton"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "--emit-source" in r.stderr


def test_no_gpu_and_no_interpreter_is_one_error(monkeypatch):
    import torch

    from graphc.runtime.triton import choose_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    monkeypatch.delenv("TRITON_INTERPRET")
    with pytest.raises(BackendError, match="interpret=True"):
        choose_device("auto", None)
    with pytest.raises(BackendError, match="needs a CUDA GPU"):
        choose_device("cuda", None)


def test_an_op_with_neither_lowering_nor_fallback_is_refused_by_name():
    g = Graph("nz")
    x = g.add_input("x", TensorType(F32, (3, 4)))
    g.add_output("y", (g.add_node("TopK", [x, g.add_constant(np.array([2], np.int64))], {"axis": 1}, n_outputs=2), 0))
    with pytest.raises(UnsupportedOpError, match=r"'TopK'.*neither a Triton lowering"):
        graphc.compile(g, target="triton", interpret=True)


def test_unknown_option_and_target_are_refused():
    g = mlp_graph()
    with pytest.raises(GraphcError, match="no option"):
        graphc.compile(g, target="triton", threads=2)
    with pytest.raises(GraphcError, match="unknown target"):
        graphc.compile(g, backend="triton", target="cpu")


def test_backend_reports_what_is_installed():
    from graphc import backends

    assert "triton" in backends.available()
    info = graphc.api.runtime_info("triton")
    assert info["triton"].startswith("3.") and info["TRITON_INTERPRET"] == "1"


def test_autotuned_templates_pick_their_blocks_and_compute_the_same():
    """autotune=True under the interpreter: the matmul, conv and attention templates carry a
    `triton.autotune` space timed on the host clock; the chosen blocks give ONNX Runtime's result."""
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "onnx" / "torch_transformer"
    model, x = graphc.load(f"{fixture}.onnx"), np.load(f"{fixture}.npz")["input_0"]
    tuned = graphc.compile(model, target="triton", interpret=True, autotune=True)
    fixed = graphc.compile(model, target="triton", interpret=True)
    assert_close(tuned(x), graphc.compile(model, threads=1)(x), 1e-4)
    assert tuned.kernel_count == fixed.program({"batch": x.shape[0]}).kernel_count
    src = tuned.source
    templates = [k for k in tuned.program({"batch": x.shape[0]}).schedule.kernels
                 if k.kind in ("matmul", "conv", "attention")]
    assert src.count("@triton.autotune(") == len(templates) >= 4 and "do_bench=_host_bench" in src
    assert "@triton.autotune(" not in fixed.program({"batch": x.shape[0]}).source  # fixed sizes under the interpreter by default
    # each template's autotuner timed its space and keeps the config it chose
    forward = next(iter(tuned.programs.values()))[1]
    tuners = [v for name, v in forward.__globals__.items() if name.startswith("k") and hasattr(v, "configs")]
    assert len(tuners) == len(templates) and all(len(t.cache) == 1 for t in tuners)
    assert all(next(iter(t.cache.values())) in t.configs for t in tuners)


def test_gpu_programs_autotune_their_templates_by_default():
    import ast

    from graphc.lower.triton import lower

    g = mlp_graph()
    prog, _ = lower(g, interpret=False, sizes={"batch": 4})
    ast.parse(prog.source)
    assert prog.source.count("@triton.autotune(") == 2  # the two matmuls; the softmax keeps fixed blocks
    assert "_host_bench" not in prog.source and 'META["BM"]' in prog.source
    prog, _ = lower(g, interpret=False, sizes={"batch": 4}, autotune=False)
    assert "@triton.autotune(" not in prog.source
