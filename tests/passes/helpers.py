"""Shared checks for the pass tests: run a pass, verify the IR, compare outputs with the
reference evaluator on random inputs, and check that a second run changes nothing."""
from __future__ import annotations

import numpy as np
from onnx.reference import ReferenceEvaluator

from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.passes import PassManager, optimize
from graphc.types import TensorType


def random_inputs(g: Graph, seed: int = 0, sym: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    feeds = {}
    for n in g.inputs:
        t = g.type_of((n, 0))
        shape = tuple(d if isinstance(d, int) else sym for d in (t.shape if t.shape is not None else (3,)))
        dt = np.dtype(t.dtype)
        if dt.kind == "f":
            feeds[n] = rng.standard_normal(shape).astype(dt)
        elif dt.kind == "b":
            feeds[n] = rng.random(shape) < 0.5
        else:
            feeds[n] = rng.integers(-5, 6, shape).astype(dt)
    return feeds


def evaluate(g: Graph, feeds: dict, backend: str = "reference") -> list:
    """Outputs of `g` under onnx's ReferenceEvaluator (or ONNX Runtime, for the few ops the
    reference gets wrong, e.g. grouped ConvTranspose)."""
    model = to_onnx(g, portable=True)
    names = [vi.name for vi in model.graph.input]
    feeds = {k: feeds[k] for k in names}
    if backend == "ort":
        from graphc.runtime.ort import OrtExecutable

        return OrtExecutable(model, threads=1, label=g.name).session.run(None, feeds)
    return ReferenceEvaluator(model).run(None, feeds)


def run_pass(g: Graph, p) -> int:
    """Run pass `p` (instance) on `g` in place, then verify."""
    n = p.run(g)
    g.verify()
    return n


def check(g: Graph, passes, *, rtol=1e-5, atol=1e-5, seeds=(0, 1), expect_change=True,
          backend: str = "reference") -> Graph:
    """Optimize a copy of `g` with `passes` (a list of pass instances, or a level name), check the
    IR, the outputs against the original on random inputs, and idempotence. Returns the copy."""
    g.verify()
    out = optimize(g, level=passes, verify=True) if isinstance(passes, str) else g.copy()
    if not isinstance(passes, str):
        stats = PassManager(passes, verify=True).run(out)
        if expect_change:
            assert stats.total_rewrites > 0, "the pass rewrote nothing"
    for seed in seeds:
        feeds = random_inputs(g, seed)
        want, got = evaluate(g, feeds, backend), evaluate(out, feeds, backend)
        assert len(want) == len(got)
        for w, h in zip(want, got):
            assert w.dtype == h.dtype and w.shape == h.shape, (w.dtype, w.shape, h.dtype, h.shape)
            np.testing.assert_allclose(h, w, rtol=rtol, atol=atol)
    again = out.copy()
    plist = passes if not isinstance(passes, str) else None
    if plist is None:
        from graphc.passes import pipeline
        plist = pipeline(passes)
    for p in plist:
        assert p.run(again) == 0, f"pass {p.name} is not idempotent"
    return out


def ops(g: Graph) -> list[str]:
    return sorted(d["op"] for _, d in g.nx.nodes(data=True) if d["op"] not in ("Input", "Constant", "Variable"))


def f32(*shape) -> TensorType:
    return TensorType(np.float32, shape)


def const(g: Graph, arr, dtype=np.float32):
    return g.add_constant(np.asarray(arr, dtype=dtype))


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
