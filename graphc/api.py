"""The public front door: `graphc.load`, `graphc.compile`, `graphc.export`.

The one place in `graphc` that reaches the importers and the runtime (lazily), so that the
compiler core never depends on a file format or an execution back end.
"""
from __future__ import annotations

import os
from pathlib import Path

from graphc.errors import ModelFormatError
from graphc.ir import Graph

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5", ".json")


def detect_format(path) -> str:
    """'onnx' or 'keras', from the file's first bytes (then its suffix)."""
    p = Path(path)
    if not p.exists():
        raise ModelFormatError(f"{p}: no such file")
    if p.is_dir():
        raise ModelFormatError(f"{p}: is a folder; give the model file (.onnx, .keras, .h5)")
    with open(p, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        return "keras"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "keras"
    if p.suffix.lower() == ".json" or head.lstrip()[:1] == b"{":
        return "keras"
    if p.suffix.lower() in KERAS_SUFFIXES:
        return "keras"
    return "onnx"


def load(src, **options):
    """Read a model (ONNX: path, bytes or ModelProto; Keras: .keras, .h5, .json) into a model object."""
    from graphc.model import GraphModel

    if isinstance(src, (str, os.PathLike)) and detect_format(src) == "keras":
        from graphc.importers.keras import load as load_keras

        return load_keras(src, **options)
    from graphc.importers.onnx import load as load_onnx

    graph = load_onnx(src, **options)
    return GraphModel(graph, name=Path(src).stem if isinstance(src, (str, os.PathLike)) else graph.name)


def _graph_of(model) -> Graph:
    if isinstance(model, Graph):
        return model
    graph = getattr(model, "graph", None)
    if isinstance(graph, Graph):
        return graph
    raise TypeError(f"expected a graphc model or Graph, got {type(model).__name__}")


def optimize(graph: Graph, opt_level: str = "O2", stats=None) -> Graph:
    """The graph for inference after the pass pipeline `opt_level` (O0 returns it unchanged).

    Above O0 the weights are frozen (Variables become Constants), so weight layout changes,
    BatchNormalization and bias folding can be computed once at compile time.
    """
    if opt_level in (None, "O0", 0):
        return graph
    from graphc.passes import optimize as run_pipeline

    return run_pipeline(graph.frozen(), level=opt_level, stats=stats)


def compile(model, target: str = "cpu", opt_level: str = "O2", threads: int | None = None,
            ort_level: str = "all", fallback: bool = False):
    """Optimize `model` and load it into ONNX Runtime; returns a callable `OrtExecutable`.

    `target` is "cpu" or "cuda" (needs onnxruntime-gpu and a GPU; no silent fallback unless
    `fallback=True`), `threads` ONNX Runtime's intra-op threads, `ort_level` ONNX Runtime's own
    optimization level ("disable", "basic", "extended", "all").
    """
    from graphc.runtime.ort import compile_graph

    graph = optimize(_graph_of(model), opt_level)
    return compile_graph(graph, target=target, threads=threads, ort_level=ort_level, fallback=fallback)


def export(model, path, opt_level: str = "O2") -> None:
    """Write `model` as a portable ONNX file (plain ONNX ops: runs in any onnxruntime)."""
    from graphc.lower.onnx import save

    save(optimize(_graph_of(model), opt_level), path, portable=True)
