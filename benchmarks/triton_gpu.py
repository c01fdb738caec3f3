#!/usr/bin/env python
"""The Triton backend on a GPU: correctness of every kernel family and of whole models against
ONNX Runtime, whole-model latency against torch eager, torch.compile and ONNX Runtime's CUDA
provider, and the achieved memory bandwidth of fused pointwise kernels.

    python benchmarks/triton_gpu.py                 # on a CUDA GPU (needs torch's CUDA build + triton)
    python benchmarks/triton_gpu.py --interpret     # smoke test on triton's CPU interpreter, small shapes
    python benchmarks/triton_gpu.py --results benchmarks/RESULTS.md   # also append the tables there

Installs nothing; everything it reads is in this repository (tests/fixtures/onnx and the torch
modules in tests/fixtures/onnx/make_torch_models.py, rebuilt with the fixtures' seeds so torch
and graphc run the same weights). Bounded: a few seconds per model, well under 8 minutes on a GPU.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "onnx"
MODELS = ("torch_mlp", "torch_resnet_block", "torch_transformer")
# nominal peak memory bandwidth (GB/s) of cards this may meet; others report against a device copy
PEAK_GBS = {"H200": 4800, "H100 SXM": 3350, "H100 PCIe": 2000, "H100": 3350, "A100-SXM4-80GB": 2039,
            "A100": 1555, "L40S": 864, "L4": 300, "A10": 600, "T4": 320, "V100": 900}


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--interpret", action="store_true", help="run on triton's CPU interpreter (smoke test)")
    p.add_argument("--results", metavar="RESULTS.md", help="append the tables to this file")
    p.add_argument("--repeats", type=int, default=50, help="timed runs per measurement on a GPU")
    return p.parse_args()


ARGS = parse()
if ARGS.interpret:
    os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported: it reads it when kernels are defined

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(ROOT))
import graphc  # noqa: E402
from graphc.ir import Graph  # noqa: E402
from graphc.types import TensorType  # noqa: E402

GPU = torch.cuda.is_available() and not ARGS.interpret
DEV = torch.device("cuda" if GPU else "cpu")
F32 = np.float32
LINES: list[str] = []


def say(line=""):
    print(line, flush=True)
    LINES.append(line)


def sync():
    if GPU:
        torch.cuda.synchronize()


def timed(fn, repeats):
    """Median seconds of `fn()` after two warm-up calls."""
    fn(), fn()
    sync()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-6))


def ort_exe(model):
    """ONNX Runtime on CUDA when it has the provider, else its CPU provider (the reference)."""
    try:
        return graphc.compile(model, target="cuda"), "ort-cuda"
    except graphc.GraphcError:
        return graphc.compile(model, target="cpu"), "ort-cpu"


# ---- kernel families -----------------------------------------------------------------------

def family_graphs(n):
    rng = np.random.default_rng(0)

    def new(*shapes):
        g = Graph("family")
        return g, [g.add_input(f"x{i}", TensorType(F32, s)) for i, s in enumerate(shapes)]

    def op(g, name, *ins, **attrs):
        return (g.add_node(name, list(ins), attrs), 0)

    out = {}
    g, (x, y) = new((n, 256), (n, 256))
    v = op(g, "Sigmoid", op(g, "Exp", op(g, "Mul", op(g, "Tanh", op(g, "Sub", x, y)), x)))
    g.add_output("y", v)
    out["pointwise chain (5 ops)"] = g
    g, (x, b) = new((n, 16, 64), (64,))
    t = op(g, "Transpose", op(g, "Add", x, b), perm=[1, 0, 2])
    g.add_output("y", op(g, "Relu", op(g, "Reshape", t, g.add_constant(np.array([16, -1], np.int64)))))
    out["broadcast + transpose + reshape"] = g
    g, (x,) = new((n, 384))
    g.add_output("y", op(g, "Mul", op(g, "Softmax", op(g, "Add", x, x), axis=-1), g.add_constant(np.float32(2))))
    out["softmax with prologue/epilogue"] = g
    g, (x, r) = new((n, 256), (n, 256))
    ln = op(g, "LayerNormalization", op(g, "Add", x, r), g.add_constant(rng.standard_normal(256).astype(F32)),
            g.add_constant(rng.standard_normal(256).astype(F32)), axis=-1)
    g.add_output("y", ln)
    out["layernorm + residual"] = g
    g, (x,) = new((n, 64, 49))
    g.add_output("y", op(g, "ReduceMean", op(g, "Relu", x), g.add_constant(np.array([2], np.int64)), keepdims=0))
    out["reduce-mean with prologue"] = g
    g, (x, res) = new((n, 256), (n, 128))
    w = g.add_constant(rng.standard_normal((256, 128)).astype(F32) * 0.05)
    bias = g.add_constant(rng.standard_normal(128).astype(F32))
    g.add_output("y", op(g, "Add", op(g, "Relu", op(g, "Add", op(g, "MatMul", x, w), bias)), res))
    out["matmul + bias + relu + residual"] = g
    g, (a, b2) = new((n // 8 or 1, 4, 64, 32), (4, 32, 64))
    g.add_output("y", op(g, "MatMul", a, b2))
    out["batched matmul"] = g
    heads = max(1, n // 512)
    g, (q, kt, v) = new((heads, 4, 128, 64), (heads, 4, 64, 128), (heads, 4, 128, 64))
    s = op(g, "Mul", op(g, "MatMul", q, kt), g.add_constant(np.float32(0.125)))
    g.add_output("y", op(g, "MatMul", op(g, "Softmax", s, axis=-1), v))
    out["attention (flash, scale)"] = g
    g, (x,) = new((max(1, n // 256), 16, 16, 32))
    nchw = op(g, "Transpose", x, perm=[0, 3, 1, 2])
    c = op(g, "Conv", nchw, g.add_constant(rng.standard_normal((32, 1, 3, 3)).astype(F32)),
           g.add_constant(rng.standard_normal(32).astype(F32)), group=32, pads=[1, 1, 1, 1])
    g.add_output("y", op(g, "Relu", op(g, "Transpose", c, perm=[0, 2, 3, 1])))
    out["depthwise conv NHWC in/out"] = g
    return out


def check_families():
    n = 16 if ARGS.interpret else 4096
    say(f"### Kernel families (float32, rows={n}) against ONNX Runtime")
    say("| family | kernels | fallbacks | rel. error | triton ms | ORT ms |")
    say("|---|---|---|---|---|---|")
    worst = 0.0
    rng = np.random.default_rng(1)
    for name, g in family_graphs(n).items():
        feeds = {i: rng.standard_normal(g.type_of((i, 0)).shape).astype(F32) for i in g.inputs}
        tri = graphc.compile(g, target="triton", interpret=ARGS.interpret or None)
        ref, _ = ort_exe(g)
        err = max(rel_err(a, b) for a, b in zip([tri.run(feeds)[k] for k in ref.output_names],
                                                 ref.run(feeds).values()))
        worst = max(worst, err)
        tfeeds = [torch.from_numpy(feeds[i]).to(DEV) for i in g.inputs]
        reps = 1 if ARGS.interpret else ARGS.repeats
        t_tri = timed(lambda: tri(*tfeeds), reps) * 1e3
        t_ort = timed(lambda: ref.run(feeds), reps) * 1e3
        say(f"| {name} | {tri.kernel_count} | {len(tri.fallbacks)} | {err:.1e} | {t_tri:.3f} | {t_ort:.3f} |")
    return worst


# ---- bandwidth of the fused pointwise kernel ---------------------------------------------------

def bandwidth():
    n = 1 << 12 if ARGS.interpret else 1 << 26
    g = Graph("bw")
    x = g.add_input("x", TensorType(F32, (n,)))
    y = g.add_input("y", TensorType(F32, (n,)))
    v = (g.add_node("Add", [x, y]), 0)
    for o in ("Relu", "Exp", "Neg", "Sigmoid"):
        v = (g.add_node(o, [v]), 0)
    g.add_output("z", v)
    exe = graphc.compile(g, target="triton", interpret=ARGS.interpret or None)
    a, b = torch.randn(n, device=DEV), torch.randn(n, device=DEV)
    reps = 1 if ARGS.interpret else ARGS.repeats
    t = timed(lambda: exe(a, b), reps)
    gbs = 3 * 4 * n / t / 1e9  # two reads and one write of float32
    copy = timed(lambda: a.clone(), reps)
    copy_gbs = 2 * 4 * n / copy / 1e9
    card = torch.cuda.get_device_name() if GPU else "cpu-interpreter"
    peak = next((v for k, v in PEAK_GBS.items() if k in card), None)
    say(f"### Fused pointwise bandwidth ({exe.kernel_count} kernel for 5 ops, {n:,} float32)")
    share = f"{100 * gbs / peak:.0f}% of the card's {peak} GB/s" if peak else "peak unknown for this card"
    say(f"{gbs:.0f} GB/s: {share}; {100 * gbs / copy_gbs:.0f}% of torch's own device copy ({copy_gbs:.0f} GB/s)")


# ---- whole models ------------------------------------------------------------------------------

def torch_model(name):
    spec = importlib.util.spec_from_file_location("make_torch_models", FIXTURES / "make_torch_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cls = {"torch_mlp": mod.MLP, "torch_resnet_block": mod.TinyResNet, "torch_transformer": mod.Transformer}[name]
    torch.backends.mha.set_fastpath_enabled(False)
    torch.manual_seed(0)  # the fixtures' seeds: the same weights as the .onnx files
    gen = torch.Generator().manual_seed(1)
    m = cls()
    mod.randomize_bn(m, gen)
    return m.eval().to(DEV)


def models():
    say("### Whole models against ONNX Runtime; latency (ms, median)")
    say("| model | batch | kernels | fallbacks | rel. error | graphc triton | torch eager | torch.compile | ORT | vs eager | vs compile |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for name in MODELS:
        model = graphc.load(FIXTURES / f"{name}.onnx")
        data = np.load(FIXTURES / f"{name}.npz")["input_0"]
        tri = graphc.compile(model, target="triton", interpret=ARGS.interpret or None)
        ref, ort_name = ort_exe(model)
        tm = torch_model(name)
        compiled = None
        if GPU:
            try:
                compiled = torch.compile(tm)
            except Exception as e:  # torch.compile needs a working inductor; report, do not stop
                say(f"torch.compile unavailable: {type(e).__name__}: {e}")
        for batch in ((2,) if ARGS.interpret else (1, 32)):
            x = np.resize(data, (batch,) + data.shape[1:]).astype(F32)
            got, want = tri(x), ref(x)
            err = rel_err(got, want)
            worst = max(worst, err)
            tx = torch.from_numpy(x).to(DEV)
            reps = 1 if ARGS.interpret else ARGS.repeats
            with torch.no_grad():
                t_tri = timed(lambda: tri(tx), reps) * 1e3
                t_eager = timed(lambda: tm(tx), reps) * 1e3
                t_comp = timed(lambda: compiled(tx), reps) * 1e3 if compiled is not None else float("nan")
            t_ort = timed(lambda: ref(x), reps) * 1e3
            say(f"| {name} | {batch} | {tri.kernel_count} | {len(tri.fallbacks)} | {err:.1e} | {t_tri:.3f} | "
                f"{t_eager:.3f} | {t_comp:.3f} | {t_ort:.3f} ({ort_name}) | {t_eager / t_tri:.2f}x | "
                f"{t_comp / t_tri:.2f}x |")
    return worst


def main():
    card = torch.cuda.get_device_name() if GPU else "none (triton CPU interpreter)"
    say(f"## Triton backend on a GPU ({datetime.date.today()}, card: {card}, torch {torch.__version__}, "
        f"triton {__import__('triton').__version__})")
    t0 = time.perf_counter()
    fam = check_families()
    bandwidth()
    mod = models()
    say(f"worst relative error: kernel families {fam:.1e} (goal 1e-5), models {mod:.1e} (goal 1e-4); "
        f"{time.perf_counter() - t0:.0f} s in all")
    if ARGS.results:
        with open(ARGS.results, "a") as f:
            f.write("\n" + "\n".join(LINES) + "\n")
    return 0 if fam <= 1e-5 and mod <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
