"""The `graphc` command line, run as a user runs it (a subprocess), with its exit codes."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.core.onnx_models import lookup, mlp

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mobilenetv2.keras"


def graphc(*args, cwd=None, env=None, prelude=None):
    """The CLI in a fresh process, as a user runs it; `prelude` is Python run there first."""
    cmd = [sys.executable, "-m", "graphc.cli"] if prelude is None else \
        [sys.executable, "-c", prelude + "\nimport sys\nfrom graphc.cli import main\nsys.exit(main())"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


@pytest.fixture
def model_path(tmp_path):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp(), p)
    return p


def test_inspect_text_and_json(model_path):
    r = graphc("inspect", model_path)
    assert r.returncode == 0, r.stderr
    assert "input  x: float32[N,4]" in r.stdout and "MatMul×2" in r.stdout
    assert "the file declares ai.onnx 21; graphc exports ai.onnx 24" in r.stdout  # the file's opset, not the IR's
    info = json.loads(graphc("inspect", model_path, "--json").stdout)
    assert info["inputs"] == {"x": {"dtype": "float32", "shape": ["N", 4]}}
    assert info["outputs"]["probs"]["shape"] == ["N", 3]
    params = 4 * 8 + 8 + 8 * 3
    assert info["parameters"]["constants"] == {"values": params, "bytes": 4 * params}
    assert info["imported"]["ops"]["MatMul"] == 2 and info["opset"]["file"] == {"": 21}
    for stage in ("imported", "optimized"):  # every node is counted once, under one label
        f = info[stage]
        assert sum(f["ops"].values()) == f["operators"]
        assert f["nodes"] == f["operators"] + f["inputs"] + f["constants"] + f["variables"]
        assert f"{f['nodes']:,} nodes = {f['operators']:,} operators" in r.stdout


def test_inspect_keras_numbers_agree_with_each_other():
    """The Keras table, the text below it and the JSON give one number per fact, labelled."""
    r = graphc("inspect", EXAMPLE)
    assert r.returncode == 0, r.stderr
    info = json.loads(graphc("inspect", EXAMPLE, "--json").stdout)
    k, imported = info["parameters"]["keras_layers"], info["imported"]
    assert f"Total params: {k['total']:,}" in r.stdout
    assert f"Keras layer weights (the table's Total params): {k['total']:,} = {k['trainable']:,} trainable" in r.stdout
    assert info["parameters"]["variables"]["values"] == k["total"]  # the IR's Variables are the layer weights
    t = imported["transposes"]
    assert t["total"] == imported["ops"]["Transpose"] == t["on_data"] + t["on_weights"]
    assert f"Transposes on data, before optimization: {t['on_data']}" in r.stdout
    assert f"Transpose: {t['total']} ({t['on_data']} on data, {t['on_weights']} on weights)" in r.stdout
    assert info["optimized"]["transposes"]["total"] <= 2
    assert info["opset"]["file"] is None and "the file is not ONNX and declares none" in r.stdout


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
    r = graphc("info", "--backend", "tensorrt")
    assert r.returncode == 1 and "unknown backend 'tensorrt': the registered backends are [" in r.stderr and "'ort'" in r.stderr


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


def _gather_model(path, ids_type=onnx.TensorProto.INT64):
    onnx.save(lookup(ids_type), path)
    return path


def test_run_draws_index_inputs_inside_what_they_index(tmp_path):
    path = _gather_model(tmp_path / "lookup.onnx", onnx.TensorProto.INT32)  # through a Cast, too
    out = tmp_path / "y.npz"
    for seed in range(3):
        r = graphc("run", path, "--seed", seed, "-o", out)
        assert r.returncode == 0, r.stderr
        assert set(np.unique(np.load(out)["y"][..., 0])) <= {0.0, 4.0, 8.0}
    r = graphc("run", path, "--int-range", "ids=1,2", "-o", out, "--debug")  # per input, after the sub-command
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out)["y"], np.broadcast_to([4, 5, 6, 7], (1, 5, 4)))


def test_run_time_failure_is_one_line_naming_the_node(tmp_path):
    path = _gather_model(tmp_path / "lookup.onnx")
    r = graphc("run", path, "--int-range", "40,50", "-O0")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1, r.stderr  # also: ONNX Runtime's own log line is not printed
    assert "node 'lookup' (Gather) failed in ONNX Runtime: indices element out of data bounds" in r.stderr
    assert "were random" in r.stderr and "--int-range" in r.stderr
    r = graphc("run", path, "--int-range", "nope=0,2")
    assert r.returncode == 1 and "'nope'" in r.stderr and "integer inputs: ['ids']" in r.stderr


@pytest.mark.parametrize("args, says", [
    (("bench", "{m}", "--batch", "0"), "argument --batch: '0': expected positive batch sizes"),
    (("bench", "{m}", "--batch", "-1"), "argument --batch: '-1'"),
    (("bench", "{m}", "--batch", "one"), "argument --batch: 'one'"),
    (("bench", "{m}", "--runs", "0"), "argument --runs: 0 is too small; it must be 1 or more"),
    (("bench", "{m}", "--warmup", "-1"), "argument --warmup: -1 is too small; it must be 0 or more"),
    (("run", "{m}", "--input", "x.npy"), "argument --input: 'x.npy': expected NAME=FILE.npy"),
    (("run", "{m}", "--int-range", "5,3"), "HI must be above LO"),
    (("run", "{m}", "--int-range", "a,b"), "expected LO,HI or NAME=LO,HI"),
    (("run", "{m}", "--threads", "0"), "argument --threads"),
])
def test_usage_errors_name_the_option_and_exit_2(model_path, args, says):
    r = graphc(*[a.format(m=model_path) for a in args])
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and "internal error" not in r.stderr


def test_unwritable_outputs_exit_1_naming_the_path(model_path, tmp_path):
    for cmd in (("convert", model_path, "-o", "/no/such/dir/x.onnx"),
                ("compile", model_path, "-o", "/no/such/dir/x.onnx"),
                ("compile", model_path, "-o", tmp_path / "ok.onnx", "--dot", "/no/such/dir/g"),
                ("run", model_path, "-o", "/no/such/dir/y.npz")):
        r = graphc(*cmd)
        assert r.returncode == 1, r.stderr
        assert "/no/such/dir" in r.stderr and "does not exist" in r.stderr and "internal error" not in r.stderr
    r = graphc("convert", model_path, "-o", tmp_path)
    assert r.returncode == 1 and "is a folder" in r.stderr


def test_files_that_are_not_what_their_name_says(model_path, tmp_path):
    (tmp_path / "m.keras").write_text("hello")
    (tmp_path / "m.h5").write_text("hello")
    (tmp_path / "x.npy").write_text("hello")
    np.savez(tmp_path / "x.npz", x=np.ones((1, 4), np.float32))
    r = graphc("inspect", tmp_path / "m.keras")
    assert r.returncode == 1 and "m.keras: not a zip file" in r.stderr and "JSON" not in r.stderr
    r = graphc("inspect", tmp_path / "m.h5")
    assert r.returncode == 1 and "m.h5: not an HDF5 file" in r.stderr and "JSON" not in r.stderr
    r = graphc("run", model_path, "--input", f"x={tmp_path / 'x.npy'}")
    assert r.returncode == 1 and "is not a .npy array file" in r.stderr and "allow_pickle" not in r.stderr
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    r = graphc("run", model_path, "--input", f"x={tmp_path / 'objects.npy'}")
    assert r.returncode == 1 and "holds Python objects, which graphc never unpickles" in r.stderr
    r = graphc("run", model_path, "--input", f"x={tmp_path / 'x.npz'}")
    assert r.returncode == 1 and "is a .npz archive, not a .npy array file" in r.stderr


def test_debug_works_before_and_after_the_sub_command(tmp_path):
    missing = tmp_path / "missing.onnx"
    for args in (("--debug", "inspect", missing), ("inspect", missing, "--debug")):
        r = graphc(*args)
        assert r.returncode == 1 and "Traceback" in r.stderr and "missing.onnx: no such file" in r.stderr
    assert "Traceback" not in graphc("inspect", missing).stderr


def test_compile_pass_table_counts_what_each_pass_changed(model_path, tmp_path):
    r = graphc("compile", EXAMPLE, "-o", tmp_path / "m.onnx")
    assert r.returncode == 0, r.stderr
    start, end = map(int, re.search(r"pipeline O2: \d+ round\(s\), (\d+) -> (\d+) nodes", r.stdout).groups())
    rows = re.findall(r"^([a-z-]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+$", r.stdout, re.M)
    removed = {name: int(rem) for name, _, _, rem, _ in rows}
    added = sum(int(a) for *_, a in rows)
    assert start - end == sum(removed.values()) - added  # the columns add up to the change
    assert removed["dead-code-elimination"] > 0 and removed["common-subexpression-elimination"] > 0
    assert len(set(removed.values())) > 2  # not one number repeated down the table


def test_dot_writes_the_files_it_names(model_path, tmp_path):
    r = graphc("compile", model_path, "-o", tmp_path / "o.onnx", "--dot", tmp_path / "g.dot",
               env=dict(os.environ, PATH=os.path.dirname(sys.executable)))  # no Graphviz on this PATH
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.before.dot").exists() and (tmp_path / "g.after.dot").exists()
    assert not list(tmp_path.glob("*.svg")) and r.stdout.count("no SVG: Graphviz's `dot` is not on PATH") == 2
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed: the SVG half is not checked")
    r = graphc("compile", model_path, "-o", tmp_path / "o.onnx", "--dot", tmp_path / "g")
    assert r.returncode == 0, r.stderr
    for stage in ("before", "after"):
        svg = tmp_path / f"g.{stage}.svg"
        assert svg.read_text().lstrip().startswith("<?xml") and str(svg) in r.stdout


def test_cuda_without_cuda_tells_cli_users_their_flag(model_path):
    from graphc.runtime.ort import provider_report

    if "CUDAExecutionProvider" in provider_report()["available_providers"]:
        pytest.skip("this machine has the CUDA provider")
    for cmd in ("run", "compile"):
        extra = ("-o", model_path.with_suffix(".out.onnx")) if cmd == "compile" else ()
        r = graphc(cmd, model_path, "--target", "cuda", *extra)
        assert r.returncode == 1 and "add --fallback" in r.stderr and "fallback=True" not in r.stderr
    r = graphc("run", model_path, "--target", "cuda", "--fallback")
    assert r.returncode == 0 and "provider: CPUExecutionProvider" in r.stderr


def test_demo_without_keras_still_has_the_raw_onnxruntime_peer():
    """`./dev demo` on a machine without Keras: raw ONNX Runtime runs Keras's shipped export."""
    r = graphc("bench", EXAMPLE, "--batch", "1", "--runs", "2", "--warmup", "0", "--threads", "1",
               prelude="import sys; sys.modules['keras'] = None  # as if Keras were not installed")
    assert r.returncode == 0, r.stderr
    assert "onnxruntime (raw)" in r.stdout and "vs onnxruntime (raw)" in r.stdout
    assert "mobilenetv2.keras-export.onnx" in r.stdout and "O2 vs raw ORT" in r.stdout
    assert "MISMATCH" not in r.stdout
    notes = [line for line in r.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "keras predict" in notes[0] and "graphc[keras]" in notes[0]


def test_bench_says_why_a_peer_is_missing(tmp_path):
    """A Keras file with no export beside it and no Keras: the notes say what is missing and how to add it."""
    model = tmp_path / "alone.keras"
    shutil.copyfile(ROOT / "tests" / "fixtures" / "keras" / "embedding.keras", model)
    r = graphc("bench", model, "--batch", "1", "--runs", "2", "--warmup", "0", "--threads", "1", "--json",
               prelude="import sys; sys.modules['keras'] = None")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["baseline"] == "graphc O0"
    assert {row["variant"] for row in report["results"]} == {"graphc O2", "graphc O0", "keras predict"}
    raw_note, keras_note = report["notes"]
    assert "no raw ONNX Runtime row" in raw_note and "alone.keras-export.onnx" in raw_note
    assert "ratios are to graphc O0" in raw_note and "graphc[keras]" in raw_note
    assert "no keras predict row: Keras not importable" in keras_note


def test_python_summary_of_an_onnx_model_adds_up(model_path):
    import graphc

    text = graphc.load(model_path).summary(print_fn=None)
    nodes, operators, sources = map(int, re.search(r"(\d+) nodes \((\d+) operators \+ (\d+) inputs", text).groups())
    ops = sum(int(n) for n in re.findall(r"×(\d+)", text))
    assert nodes == operators + sources and ops == operators and "IR opset 24" in text
