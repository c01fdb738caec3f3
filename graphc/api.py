"""The public front door: `graphc.load`, `graphc.compile`, `graphc.export`, `graphc.optimize`,
and the reports the CLI prints (`bench`, `runtime_info`).

The one place in `graphc` that reaches the importers and the runtime bench (lazily), so that the
compiler core never depends on a file format; execution goes through the backend registry
(graphc/backends.py), which is how the core reaches a backend too.
"""
from __future__ import annotations

import os
from pathlib import Path

from graphc import backends
from graphc.backends import DEFAULT as DEFAULT_BACKEND  # noqa: F401 (the CLI names it)
from graphc.errors import InputError, ModelFormatError
from graphc.ir import Graph
from graphc.model import GraphModel, export, graph_of  # noqa: F401 (export: graphc.export)
from graphc.passes import optimize_for_inference

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
    if isinstance(src, (str, os.PathLike)) and detect_format(src) == "keras":
        from graphc.importers.keras import load as load_keras

        return load_keras(src, **options)
    from graphc.importers.onnx import load as load_onnx

    graph = load_onnx(src, **options)
    return GraphModel(graph, name=Path(src).stem if isinstance(src, (str, os.PathLike)) else graph.name)


def optimize(model, opt_level: str = "O2", stats=None) -> Graph:
    """The graph for inference after the pass pipeline `opt_level` (O0: the model's graph itself).

    Above O0 the weights are frozen (Variables become Constants), so weight layout changes,
    BatchNormalization and bias folding can be computed once at compile time.
    """
    return optimize_for_inference(graph_of(model), opt_level, stats=stats)


def compile(model, target: str = "cpu", opt_level: str = "O2", backend: str | None = None, **backend_options):
    """Optimize `model` (a model or a Graph) and compile it with `backend` for `target`: a new
    callable `Executable` (graphc/executable.py; `model.executable` keeps one per setting).

    `backend` is a name from `graphc.backends.available()` (default "ort", ONNX Runtime, whose
    targets are "cpu" and "cuda"); `backend_options` go to it, and it refuses names it does not
    know. ONNX Runtime's are `threads` (intra-op threads), `ort_level` (its own optimization:
    "disable", "basic", "extended", "all"), `fallback` (run on the CPU when CUDA is missing
    instead of failing) and `portable`.
    """
    return backends.compile(graph_of(model), target=target, backend=backend, opt_level=opt_level,
                            **backend_options)


def bench(path, target: str = "cpu", **options):
    """Load the model at `path` (timed) and benchmark it against its peers: a
    `graphc.runtime.bench.Report`. `target="cpu"`: graphc on ONNX Runtime against raw ONNX
    Runtime and Keras (`graphc.runtime.bench.bench`); `target="triton"`: the Triton program against
    torch eager, torch.compile and ONNX Runtime CUDA (`graphc.runtime.bench_triton.bench_triton`)."""
    import time

    if target == "triton":
        from graphc.runtime.bench_triton import bench_triton as run_bench
    elif target == "cpu":
        from graphc.runtime.bench import bench as run_bench
    else:
        raise InputError(f"bench: unknown target {target!r}: use 'cpu' (ONNX Runtime) or 'triton'")
    t0 = time.perf_counter()
    model = load(path)
    return run_bench(model, str(path), import_seconds=time.perf_counter() - t0, **options)


def runtime_info(backend: str | None = None) -> dict:
    """What the execution backend found installed (ONNX Runtime: package, version, providers)."""
    return backends.get(backend).report()


def serve(models, **options) -> None:
    """Serve `models` (paths, `name=path` strings, a {name: path or model} dict) on the Open
    Inference Protocol v2, REST and gRPC, until interrupted (needs the `serve` extra); options as
    `graphc serve`: host, http_port, grpc_port, max_batch_size, max_queue_delay_ms, instances,
    threads, target, opt_level, max_request_bytes (see graphc/runtime/serving/server.py)."""
    from graphc.runtime.serving import serve as run

    run(_load_all(models), **options)


def export_triton_repo(models, directory, **options) -> list:
    """Write `models` as a Triton model repository (DIR/NAME/1/model.onnx + config.pbtxt)."""
    from graphc.runtime.serving.triton_repo import write_triton_repo

    return write_triton_repo(_load_all(models), directory, **options)


def _load_all(models) -> dict:
    """{name: model} for `serve`'s and `export_triton_repo`'s models, each file loaded here."""
    from graphc.runtime.serving.sources import model_sources

    return {name: load(src) if isinstance(src, (str, os.PathLike)) else src
            for name, src in model_sources(models).items()}
