"""`graphc bench --target triton`: the Triton program against torch eager, `torch.compile` and
ONNX Runtime's CUDA provider, measured in one process, one run.

The torch peers are graphc's own torch program of the same optimized graph (every node one
torch call, `graphc.runtime.triton.torch_program`), so any model graphc loads has them, whether
or not a torch module of it exists. On a GPU every variant but ONNX Runtime takes CUDA tensors
made before timing and each run ends with `torch.cuda.synchronize()`; ONNX Runtime takes numpy
arrays, so its row includes the copies (said in its note). Under the interpreter the Triton row
measures triton's CPU emulation, not a GPU: the report says so, and the ratios mean nothing
about GPU speed. The baseline is torch eager.
"""
from __future__ import annotations

import os

import numpy as np

from graphc import backends
from graphc.passes import optimize_for_inference
from graphc.runtime.bench import Report, Result, _progress, batch_inputs, time_fn

BASELINE = "torch eager"


def _max_rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / (np.abs(b).max() or 1.0)) if b.size else 0.0


def _ort_cuda(graph, threads):
    """ONNX Runtime on the CUDA provider, or (None, why not)."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return None, ("no onnxruntime CUDA row: this onnxruntime has no CUDAExecutionProvider (the CPU build; "
                      "onnxruntime-gpu in an environment of its own adds it)")
    return backends.compile(graph, backend="ort", target="cuda", opt_level="O0", threads=threads), ""


def bench_triton(model, path: str, import_seconds: float | None = None, batches=(1, 32), runs: int = 50,
                 warmup: int = 5, threads: int | None = None, show_progress: bool = True, int_ranges=None,
                 interpret: bool | None = None, torch_compile: bool = True) -> Report:
    """Time the Triton program of `model` (loaded from `path` by the caller) beside its peers."""
    import time

    import torch

    from graphc.runtime.triton import choose_device, torch_program

    threads = threads or os.cpu_count()
    torch.set_num_threads(threads)
    report = Report(model=path, baseline=BASELINE)
    if import_seconds is not None:
        report.setup["import"] = import_seconds
    t0 = time.perf_counter()
    graph = optimize_for_inference(model.graph, "O2")
    report.setup["optimize O2"] = time.perf_counter() - t0
    mode = choose_device("auto", interpret)
    gpu = mode == "cuda"
    device = "cuda" if gpu else "cpu"
    t0 = time.perf_counter()
    tri = backends.compile(graph, backend="triton", target=mode, opt_level="O0")
    report.setup["compile triton"] = time.perf_counter() - t0
    variants = {f"graphc triton ({'cuda' if gpu else 'interpreter'})": tri,
                BASELINE: torch_program(graph, device=device)}
    if torch_compile:
        variants["torch.compile"] = torch_program(graph, device=device, compiled=True)
    else:
        report.notes.append("no torch.compile row: --no-torch-compile")
    ort_cuda, why = _ort_cuda(graph, threads)
    if ort_cuda is not None:
        variants["onnxruntime CUDA"] = ort_cuda
    else:
        report.notes.append(why)
    if not gpu:
        report.notes.append("no GPU: the Triton row is triton's CPU interpreter, which checks the kernels but "
                            "says nothing about their GPU speed; the torch rows ran on the CPU")
    if tri.fallbacks:
        report.notes.append(f"{len(tri.fallbacks)} node(s) ran as torch fallbacks: "
                            + ", ".join(f"{n} ({op})" for n, op, _ in tri.fallbacks[:8]))
    report.check["kernels"] = tri.kernel_count

    sync = torch.cuda.synchronize if gpu else (lambda: None)
    for batch in batches:
        x = batch_inputs(report, graph, batch, variants, int_ranges)
        if x is None:
            continue
        xt = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in x]
        reference = None
        for name, exe in variants.items():
            args = x if name == "onnxruntime CUDA" else xt

            def run(exe=exe, args=args):
                out = exe(*args)
                sync()
                return out
            try:
                t0 = time.perf_counter()
                first = run()  # torch.compile compiles here: its setup, not a timed run
                if name == "torch.compile":
                    report.setup[f"torch.compile, batch {batch}"] = time.perf_counter() - t0
                first = first[0] if isinstance(first, list) else first
                first = first.detach().cpu().numpy() if isinstance(first, torch.Tensor) else np.asarray(first)
                if reference is None:
                    reference = first
                elif batch == batches[0]:
                    err = _max_rel(first, reference)
                    report.check[f"{name} vs triton"] = f"{err:.2e}" + (" ok" if err <= 1e-4 else " MISMATCH")
                prog = _progress(f"{name}, batch {batch}") if show_progress else None
                times = time_fn(run, runs, warmup, progress=prog)
                note = "numpy in and out (host copies timed)" if name == "onnxruntime CUDA" else ""
                report.results.append(Result(name, batch, times, note=note))
            except Exception as e:
                report.results.append(Result(name, batch, note=f"failed: {type(e).__name__}: {str(e)[:80]}"))
    return report
