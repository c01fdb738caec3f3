"""Latency benchmarking of a model against its peers, measured in one process, one run.

Variants: graphc O2, graphc O0, raw ONNX Runtime (ORT_ENABLE_ALL) on the input ONNX file or
on Keras's own ONNX export, and Keras's own `predict` when Keras is importable. Keras's export
is read from beside the model (`m.keras` -> `m.keras-export.onnx`, as examples/ ships it), so
the raw ONNX Runtime peer runs without Keras; without that file it is made with Keras. Each
variant is timed after a warm-up, batch by batch; the table gives p50/p90/p99, throughput and
the speed-up relative to the baseline (raw ONNX Runtime when it ran, else graphc O0, said so).
The caller hands the model in (`graphc.api.bench` loads and times it): the runtime never reads
a model file itself.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from graphc import backends
from graphc.errors import InputError
from graphc.passes import optimize_for_inference
from graphc.sample_inputs import random_feed

KERAS_EXPORT_SUFFIX = ".keras-export.onnx"
ADD_KERAS = "`pip install \"graphc[keras]\"` (./dev installs it from the lock)"
_NO_KERAS = "Keras not importable"


@dataclass
class Result:
    variant: str
    batch: int
    times: np.ndarray | None = None
    note: str = ""

    def pct(self, q) -> float:
        return float(np.percentile(self.times, q)) * 1e3

    def row(self) -> dict:
        if self.times is None:
            return {"variant": self.variant, "batch": self.batch, "note": self.note}
        p50 = self.pct(50)
        return {"variant": self.variant, "batch": self.batch, "p50_ms": p50, "p90_ms": self.pct(90),
                "p99_ms": self.pct(99), "throughput": self.batch / (p50 / 1e3), "runs": len(self.times),
                "note": self.note}


@dataclass
class Report:
    model: str
    setup: dict = field(default_factory=dict)  # import/compile seconds
    check: dict = field(default_factory=dict)
    results: list = field(default_factory=list)
    transposes: dict = field(default_factory=dict)
    baseline: str = ""
    notes: list = field(default_factory=list)  # one line each: what is missing and how to add it

    def rows(self) -> list[dict]:
        out = []
        for r in self.results:
            row = r.row()
            base = next((b for b in self.results if b.variant == self.baseline and b.batch == r.batch
                         and b.times is not None), None)
            if base is not None and r.times is not None:
                row["vs_baseline"] = base.pct(50) / r.pct(50)
            out.append(row)
        return out

    def table(self) -> str:
        lines = [f"model: {self.model}"]
        lines.append("setup: " + ", ".join(f"{k} {v:.3f} s" for k, v in self.setup.items()))
        if self.check:
            lines.append("check: " + ", ".join(f"{k} {v}" for k, v in self.check.items()))
        if self.transposes:
            lines.append("transposes: " + ", ".join(f"{k} {v}" for k, v in self.transposes.items()))
        head = f"{'batch':>5}  {'variant':<28} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'samples/s':>10} " \
               f"{'vs ' + self.baseline:>18}"
        lines += [head, "-" * len(head)]
        for row in self.rows():
            if "p50_ms" not in row:
                lines.append(f"{row['batch']:>5}  {row['variant']:<28} {'—':>9} {'':>9} {'':>9} {'':>10} "
                             f"{'':>18}  {row['note']}")
                continue
            ratio = f"{row['vs_baseline']:.2f}x" if "vs_baseline" in row else "—"
            lines.append(f"{row['batch']:>5}  {row['variant']:<28} {row['p50_ms']:>9.3f} {row['p90_ms']:>9.3f} "
                         f"{row['p99_ms']:>9.3f} {row['throughput']:>10.1f} {ratio:>18}"
                         + (f"  {row['note']}" if row["note"] else ""))
        lines.append(f"(vs {self.baseline}: its p50 / this p50; above 1.00x is faster)")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def random_inputs(graph, batch: int, seed: int = 0, ranges=None) -> tuple[list | None, str]:
    """(random arrays in input order with symbolic leading dims set to `batch`, "") or (None, why)."""
    try:
        feed = random_feed(graph, batch=batch, seed=seed, ranges=ranges)
    except InputError as e:
        return None, str(e)
    return [feed[n] for n in graph.inputs], ""


def batch_inputs(report, graph, batch: int, variants, ranges=None) -> list | None:
    """Random inputs at `batch`, or None after a row per variant saying why there are none."""
    x, why = random_inputs(graph, batch, ranges=ranges)
    if x is None:
        for name in variants:
            report.results.append(Result(name, batch, note=f"no random inputs: {why}"))
    return x


def time_fn(fn, runs: int, warmup: int, budget_s: float = 30.0, progress=None) -> np.ndarray:
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if progress:
            progress(i + 1, runs)
        if time.perf_counter() - start > budget_s and len(times) >= 5:
            break  # keep long models from taking forever; the row says how many runs
    return np.array(times)


def _progress(label: str):
    if not sys.stderr.isatty():
        return None

    def show(i, n):
        width = 24
        done = int(width * i / n)
        sys.stderr.write(f"\r  {label:<32} [{'#' * done}{'.' * (width - done)}] {i}/{n}")
        if i == n:
            sys.stderr.write("\r" + " " * (width + 50) + "\r")
        sys.stderr.flush()

    return show


def _keras_model(path: str):
    """Keras's own model for `path` when Keras is importable, else (None, reason)."""
    if not path.endswith((".keras", ".h5")):
        return None, "not a Keras file"
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras  # noqa: F401
    except Exception as e:
        return None, f"{_NO_KERAS} ({type(e).__name__})"
    try:
        return keras.saving.load_model(path, compile=False), ""
    except Exception as e:
        return None, f"Keras cannot load it ({type(e).__name__}: {str(e)[:80]})"


def keras_export_path(path: str) -> str | None:
    """Where Keras's own ONNX export of a Keras file is kept beside it (None for other files)."""
    root, ext = os.path.splitext(path)
    return root + KERAS_EXPORT_SUFFIX if ext in (".keras", ".h5") else None


def bench(model, path: str, import_seconds: float | None = None, batches=(1, 32), runs: int = 50,
          warmup: int = 5, threads: int | None = None, show_progress: bool = True, log=print,
          int_ranges=None) -> Report:
    """Time `model` (loaded from `path` by the caller, in `import_seconds`) beside its peers."""
    threads = threads or os.cpu_count()
    report = Report(model=path)
    if import_seconds is not None:
        report.setup["import"] = import_seconds
    graph = model.graph
    t0 = time.perf_counter()
    g2 = optimize_for_inference(graph, "O2")
    exe2 = backends.compile(g2, backend="ort", opt_level="O0", threads=threads)
    report.setup["compile O2"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    exe0 = backends.compile(graph, backend="ort", opt_level="O0", threads=threads)
    report.setup["compile O0"] = time.perf_counter() - t0
    report.transposes = {"O0": graph.op_counts().get("Transpose", 0),
                         "O2": g2.op_counts().get("Transpose", 0)}

    variants = {"graphc O2": exe2, "graphc O0": exe0}
    raw = None
    if path.endswith(".onnx"):
        raw = _session_callable(path, threads)
    keras_model, keras_note = _keras_model(path)
    shipped = keras_export_path(path)
    if shipped and os.path.exists(shipped):
        raw = _session_callable(shipped, threads)
        report.check["raw ORT on"] = f"Keras's ONNX export {os.path.relpath(shipped)}"
    elif keras_model is not None:
        raw, raw_note = _keras_onnx(path, threads)
        report.check["raw ORT on"] = raw_note or "Keras's ONNX export, made now"
    fix = f"; to add it, install Keras with {ADD_KERAS}" if keras_note.startswith(_NO_KERAS) else ""
    if shipped and raw is None:
        report.notes.append(f"no raw ONNX Runtime row: there is no Keras ONNX export at {shipped}, and Keras "
                            f"cannot make one here: {keras_note or report.check.get('raw ORT on')}{fix} "
                            f"(until then the ratios are to graphc O0)")
    if keras_model is not None:
        import torch

        torch.set_num_threads(threads)
    elif shipped:
        report.notes.append(f"no keras predict row: {keras_note}{fix}")
    if raw is not None:
        variants["onnxruntime (raw)"] = raw
    report.baseline = "onnxruntime (raw)" if raw is not None else "graphc O0"

    # check: the optimized graph computes what the unoptimized one does
    x, _ = random_inputs(graph, batches[0], ranges=int_ranges)
    if x is not None:
        a, b = _as_list(exe2(*x)), _as_list(exe0(*x))
        err = max(float(np.max(np.abs(p - q)) / (np.max(np.abs(q)) or 1.0)) for p, q in zip(a, b))
        report.check["O2 vs O0 max rel diff"] = f"{err:.2e}" + (" ok" if err <= 1e-4 else " MISMATCH")
        if raw is not None:
            try:
                c = _as_list(raw(*x))
                err = max(float(np.max(np.abs(p - q)) / (np.max(np.abs(q)) or 1.0)) for p, q in zip(a, c))
                report.check["O2 vs raw ORT"] = f"{err:.2e}" + (" ok" if err <= 1e-4 else " MISMATCH")
            except Exception as e:
                report.check["O2 vs raw ORT"] = f"not comparable ({type(e).__name__})"

    for batch in batches:
        x = batch_inputs(report, graph, batch, variants, int_ranges)
        if x is None:
            continue
        for name, fn in variants.items():
            prog = _progress(f"{name}, batch {batch}") if show_progress else None
            try:
                times = time_fn(lambda: fn(*x), runs, warmup, progress=prog)
                report.results.append(Result(name, batch, times))
            except Exception as e:
                report.results.append(Result(name, batch, note=f"failed: {type(e).__name__}: {str(e)[:60]}"))
        if keras_model is not None:
            prog = _progress(f"keras predict, batch {batch}") if show_progress else None
            kx = x if len(x) > 1 else x[0]
            times = time_fn(lambda: keras_model.predict(kx, batch_size=batch, verbose=0), runs, warmup,
                            progress=prog)
            report.results.append(Result("keras predict", batch, times))
        elif shipped:
            report.results.append(Result("keras predict", batch, note=keras_note))
    return report


def _as_list(x):
    return x if isinstance(x, list) else [x]


def _session_callable(model_bytes_or_path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model_bytes_or_path, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]

    def run(*arrays):
        outs = sess.run(None, dict(zip(names, arrays)))
        return outs[0] if len(outs) == 1 else outs

    return run


def export_keras_onnx(path: str, out: str) -> str:
    """Write Keras's own ONNX export of the Keras file `path` to `out`, in a clean subprocess;
    returns "" or why it failed.

    The export traces the model with torch; doing it in this process would leave tracing state
    behind that slows Keras's own `predict` measured afterwards.
    """
    import subprocess

    code = ("import sys, numpy as np, keras; m = keras.saving.load_model(sys.argv[1], compile=False); "
            "xs = [np.zeros([d or 1 for d in t.shape], t.dtype) for t in m.inputs]; "
            "m.predict(xs if len(xs) > 1 else xs[0], verbose=0); "  # export needs a model that has run
            "m.export(sys.argv[2], format='onnx')")
    env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "torch"))
    r = subprocess.run([sys.executable, "-c", code, path, out], capture_output=True, text=True, env=env,
                       timeout=600)
    if r.returncode != 0 or not os.path.exists(out):
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return f"Keras's ONNX export failed: {last[:100]}"
    return ""


def _keras_onnx(path: str, threads: int):
    """Raw ONNX Runtime on Keras's own ONNX export of `path`, made now. Returns (callable or None, note)."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "keras_export.onnx")
        failed = export_keras_onnx(path, out)
        if failed:
            return None, failed
        with open(out, "rb") as f:
            data = f.read()
    try:
        return _session_callable(data, threads), ""
    except Exception as e:
        return None, f"onnxruntime cannot load Keras's ONNX export: {type(e).__name__}"
