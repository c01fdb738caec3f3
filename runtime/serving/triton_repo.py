"""A Triton Inference Server model repository from graphc models, for Triton's ONNX Runtime backend.

    DIR/NAME/config.pbtxt      ModelConfig in protobuf text format
    DIR/NAME/1/model.onnx      the portable ONNX export (`graphc.export`)

A batchable model (every input and output led by the same open dimension, see `signature.py`)
gets `max_batch_size` and a `dynamic_batching` block, and its dims leave the batch dimension
out, as Triton wants; any other model gets `max_batch_size: 0` and its full dims. Open
dimensions are -1. Only files under DIR/NAME are written.
"""
from __future__ import annotations

from pathlib import Path

from graphc.runtime.serving.datatypes import triton_datatype
from graphc.runtime.serving.signature import signature_of
from graphc.runtime.serving.sources import ServeError, load_models


def _quote(text: str) -> str:
    """A protobuf text-format string literal."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


def config_text(name: str, signature, *, max_batch_size: int = 8, max_queue_delay_ms: float = 0.0,
                instances: int = 1, kind: str = "KIND_CPU") -> str:
    """The config.pbtxt of one model."""
    batched = signature.batchable and max_batch_size > 1

    def tensors(field: str, specs) -> list:
        lines = [f"{field} ["]
        for i, s in enumerate(specs):
            dims = s.shape[1:] if batched else s.shape
            comma = "," if i < len(specs) - 1 else ""
            lines.append(f"  {{ name: {_quote(s.name)} data_type: {triton_datatype(s.dtype, f'{field} {s.name!r}')} "
                         f"dims: [ {', '.join(str(d) for d in dims)} ] }}{comma}")
        lines.append("]")
        return lines

    lines = [f"name: {_quote(name)}", 'backend: "onnxruntime"', 'platform: "onnxruntime_onnx"',
             f"max_batch_size: {max_batch_size if batched else 0}"]
    lines += tensors("input", signature.inputs) + tensors("output", signature.outputs)
    if batched:
        lines.append(f"dynamic_batching {{ max_queue_delay_microseconds: {int(round(max_queue_delay_ms * 1000))} }}")
    lines.append(f"instance_group [ {{ count: {int(instances)} kind: {kind} }} ]")
    return "\n".join(lines) + "\n"


def write_triton_repo(models, directory, *, max_batch_size: int = 8, max_queue_delay_ms: float = 0.0,
                      instances: int = 1, kind: str = "KIND_CPU", opt_level: str = "O2") -> list:
    """Write each of `models` (see `sources.model_sources`) into the repository `directory`;
    returns the model folders written."""
    from graphc.model import export

    if kind not in ("KIND_CPU", "KIND_GPU", "KIND_AUTO"):
        raise ServeError(f"instance kind {kind!r}: choose KIND_CPU, KIND_GPU or KIND_AUTO")
    if max_batch_size < 0 or instances < 1 or max_queue_delay_ms < 0:
        raise ServeError("max_batch_size must be 0 or more, instances 1 or more, max_queue_delay_ms 0 or more")
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise ServeError(f"{root}: exists and is not a folder; give a folder for the Triton repository")
    loaded = load_models(models)
    written = []
    for name, model in loaded.items():
        text = config_text(name, signature_of(model), max_batch_size=max_batch_size,
                           max_queue_delay_ms=max_queue_delay_ms, instances=instances, kind=kind)
        folder = root / name
        (folder / "1").mkdir(parents=True, exist_ok=True)
        export(model, folder / "1" / "model.onnx", opt_level=opt_level)
        (folder / "config.pbtxt").write_text(text, encoding="utf-8")
        written.append(folder)
    return written
