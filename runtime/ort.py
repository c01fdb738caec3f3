"""ONNX Runtime execution: the backend "ort", an exported graph as an `OrtExecutable`.

`OrtBackend` is the first backend of the registry (graphc/backends.py; declared as an entry
point in pyproject.toml). CPUExecutionProvider by default; `target="cuda"` asks for the CUDA provider and fails clearly
when the installed ONNX Runtime (or the machine) does not have it, unless `fallback=True` (the
error words that opt-in as the caller's `fallback_hint`: the CLI's is a flag, not a keyword).
Inputs are bound and checked by `graphc.executable.Executable` before ONNX Runtime sees them.
"""
from __future__ import annotations

import importlib.metadata
import re
import numpy as np
import onnx

from graphc.errors import BackendError
from graphc.executable import Executable, Signature
from graphc.types import OpaqueType, TensorType

_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
_LEVELS = ("disable", "basic", "extended", "layout", "all")


def _ort():
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # onnxruntime-gpu logs an error line on GPU-less machines
    return ort


def installed_package() -> str:
    """Which ONNX Runtime distribution is installed: 'onnxruntime', 'onnxruntime-gpu', ..."""
    found = []
    for dist in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino"):
        try:
            found.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(found) or "none"


def provider_report() -> dict:
    ort = _ort()
    return {"package": installed_package(), "version": ort.__version__,
            "available_providers": ort.get_available_providers(), "device": ort.get_device()}


class OrtExecutable(Executable):
    """A compiled model on ONNX Runtime (see `Executable` for how it is called)."""

    def __init__(self, model: onnx.ModelProto, *, target: str = "cpu", threads: int | None = None,
                 ort_level: str = "all", fallback: bool = False, input_types=None, output_types=None,
                 label: str = "model", session_options=None, fallback_hint: str = "pass fallback=True"):
        ort = _ort()
        if target not in _PROVIDERS:
            raise BackendError(f"unknown target {target!r}: choose one of {sorted(_PROVIDERS)}")
        if ort_level not in _LEVELS:
            raise BackendError(f"unknown ONNX Runtime optimization level {ort_level!r}: choose one of {_LEVELS}")
        self.model = model
        wanted = _PROVIDERS[target]
        available = ort.get_available_providers()
        if wanted not in available and not fallback:
            raise BackendError(
                f"target {target!r} needs ONNX Runtime's {wanted}, but the installed package ({installed_package()}) "
                f"offers {available}. Install `onnxruntime-gpu` instead of `onnxruntime` (see README, GPU install) "
                f"or {fallback_hint} to run on the CPU")
        opts = session_options
        if opts is None:
            opts = ort.SessionOptions()
            opts.log_severity_level = 4  # a failing node is raised as one BackendError, not also logged
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "layout": getattr(ort.GraphOptimizationLevel, "ORT_ENABLE_LAYOUT",
                              ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[ort_level]
        providers = [wanted, "CPUExecutionProvider"] if wanted != "CPUExecutionProvider" else [wanted]
        if wanted not in available:
            providers = ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), opts, providers=providers)
        except Exception as e:
            raise BackendError(f"{label}: ONNX Runtime cannot load the model: {_first_line(e)}") from None
        self.providers = self.session.get_providers()
        if wanted not in self.providers and not fallback:
            raise BackendError(f"{label}: ONNX Runtime did not give the {wanted} (got {self.providers}); "
                               f"is a GPU visible? Or {fallback_hint} to accept the CPU")
        ins, outs = input_types or {}, output_types or {}
        signature = Signature(tuple((i.name, ins.get(i.name) or _ort_type(i)) for i in self.session.get_inputs()),
                              tuple((o.name, outs.get(o.name) or _ort_type(o)) for o in self.session.get_outputs()))
        super().__init__(signature, device="cuda" if self.providers[0] == _PROVIDERS["cuda"] else "cpu",
                         backend="ort", label=label, slow_dtypes=_ML_DTYPES)
        self._ml_outputs = {}  # outputs onnxruntime hands back as raw uint8/uint16
        for o in model.graph.output:
            et = o.type.tensor_type.elem_type if o.type.HasField("tensor_type") else 0
            dt = onnx.helper.tensor_dtype_to_np_dtype(et) if et else None
            if dt is not None and dt.name in _ML_DTYPES:
                self._ml_outputs[o.name] = dt

    @property
    def provider(self) -> str:
        return self.providers[0]

    def _execute_plain(self, feed: dict) -> list:
        if self._ml_outputs:
            return self._execute(feed)
        try:
            return self.session.run(None, feed)
        except Exception as e:
            raise _run_error(self.label, e) from None

    def _execute(self, feed: dict) -> list:
        try:
            # numpy's binding can neither take nor (from a plain input) give these element types
            if self._ml_outputs or any(isinstance(a, np.ndarray) and a.dtype.name in _ML_DTYPES
                                       for a in feed.values()):
                outs = self._run_ort_values(feed)
            else:
                return self.session.run(None, feed)
        except Exception as e:
            raise _run_error(self.label, e) from None
        for i, name in enumerate(self.output_names):
            dt, a = self._ml_outputs.get(name), outs[i]
            if dt is not None and isinstance(a, np.ndarray) and a.dtype != dt and a.dtype.itemsize == dt.itemsize \
                    and _bits(dt) >= 8:
                outs[i] = a.view(dt)
        return outs

    def _run_ort_values(self, feed: dict) -> list:
        """Run with bfloat16/float8/4-bit arrays, which onnxruntime's numpy binding refuses."""
        ort = _ort()
        values = {}
        for name, a in feed.items():
            if isinstance(a, np.ndarray) and _bits(a.dtype) < 8:
                values[name] = _subbyte_ort_value(ort, a)
            elif isinstance(a, np.ndarray) and a.dtype.name in _ML_DTYPES:
                values[name] = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                    _to_raw(a), onnx.helper.np_dtype_to_tensor_dtype(a.dtype))
            else:
                values[name] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(a))
        return [_from_ort_value(v) for v in self.session.run_with_ort_values(self.output_names, values)]


# numpy dtypes from ml_dtypes that onnxruntime's numpy binding cannot take or give
_ML_DTYPES = {"bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
              "int4", "uint4", "float4_e2m1fn", "int2", "uint2"}


def _bits(dtype) -> int:
    return {"int4": 4, "uint4": 4, "float4_e2m1fn": 4, "int2": 2, "uint2": 2}.get(np.dtype(dtype).name, 8 * np.dtype(dtype).itemsize)


def _to_raw(a: np.ndarray) -> np.ndarray:
    """The bytes ONNX Runtime expects: sub-byte types packed low bits first, as ONNX stores them."""
    bits = _bits(a.dtype)
    raw = np.ascontiguousarray(a).view(np.uint8 if a.dtype.itemsize == 1 else f"u{a.dtype.itemsize}")
    if bits >= 8:
        return raw
    per = 8 // bits
    flat = raw.reshape(-1) & ((1 << bits) - 1)
    flat = np.concatenate([flat, np.zeros((-len(flat)) % per, np.uint8)]).reshape(-1, per)
    packed = np.zeros(len(flat), np.uint8)
    for i in range(per):
        packed |= (flat[:, i] << (i * bits)).astype(np.uint8)
    return packed


def _subbyte_ort_value(ort, a: np.ndarray):
    """A 2- or 4-bit tensor of `a`'s shape: from a packed numpy array onnxruntime would take the
    packed length for the shape, so the bytes are copied into a tensor made with the shape."""
    import ctypes

    v = ort.OrtValue.ortvalue_from_shape_and_type(list(a.shape), onnx.helper.np_dtype_to_tensor_dtype(a.dtype))
    raw = _to_raw(a)
    ctypes.memmove(v.data_ptr(), raw.ctypes.data, min(raw.nbytes, v.tensor_size_in_bytes()))
    return v


def _from_ort_value(v):
    try:
        return v.numpy()
    except Exception:  # an ml_dtypes element type: copy the raw bytes out
        import ctypes

        elem = onnx.helper.tensor_dtype_to_np_dtype(
            getattr(onnx.TensorProto, v.data_type()[len("tensor("):-1].upper()))
        shape = tuple(v.shape())
        raw = np.frombuffer(ctypes.string_at(v.data_ptr(), v.tensor_size_in_bytes()), np.uint8)
        bits = _bits(elem)
        if bits < 8:
            n = int(np.prod(shape))
            per = 8 // bits
            unpacked = np.stack([(raw >> (i * bits)) & ((1 << bits) - 1) for i in range(per)], axis=1).reshape(-1)[:n]
            if np.dtype(elem).name in ("int4", "int2"):  # sign-extend
                unpacked = ((unpacked.astype(np.int8) << (8 - bits)) >> (8 - bits)).astype(np.uint8)
            return unpacked.view(elem).reshape(shape)
        return raw.view(elem).reshape(shape).copy()


# how onnxruntime words a kernel's failure: "... while running Gather node. Name:'g1' Status Message: ..."
_NODE_FAILURE = re.compile(r"while running (\S+) node\. Name:'([^']*)' Status Message: (.*)", re.S)


def _run_error(label: str, e: Exception) -> BackendError:
    """One line for a failure inside a running session, naming the node when ONNX Runtime does."""
    m = _NODE_FAILURE.search(str(e))
    if m is None:
        return BackendError(f"{label}: ONNX Runtime failed while running: {_first_line(e)}")
    op, node, message = m.groups()
    return BackendError(f"{label}: node {node!r} ({op}) failed in ONNX Runtime: "
                        f"{(message.strip().splitlines() or [''])[0][:300]}")


def _first_line(e: Exception) -> str:
    s = str(e).strip()
    return s.splitlines()[0][:500] if s else type(e).__name__


_ORT_DTYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int8)": np.int8, "tensor(int16)": np.int16, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}


def _ort_type(node_arg):
    dt = _ORT_DTYPES.get(node_arg.type)
    if dt is None:
        return OpaqueType(b"")
    shape = None if node_arg.shape is None else tuple(d if isinstance(d, int) else (d or None)
                                                      for d in node_arg.shape)
    return TensorType(dt, shape)


def compile_graph(graph, *, target: str = "cpu", threads: int | None = None, ort_level: str = "all",
                  fallback: bool = False, portable: bool = False,
                  fallback_hint: str = "pass fallback=True") -> OrtExecutable:
    """Export `graph` to ONNX and load it into an ONNX Runtime session."""
    from graphc.lower.onnx import to_onnx

    model = to_onnx(graph, portable=portable)
    return OrtExecutable(model, target=target, threads=threads, ort_level=ort_level, fallback=fallback,
                         input_types={n: graph.type_of((n, 0)) for n in graph.inputs},
                         output_types={n: graph.type_of(v) for n, v in graph.outputs},
                         label=graph.meta.get("source") or f"graph {graph.name!r}", fallback_hint=fallback_hint)


class OrtBackend:
    """The registry's "ort" backend: `compile_graph` behind the backend protocol."""

    name = "ort"
    targets = tuple(_PROVIDERS)
    options = {
        "threads": "ONNX Runtime's intra-op threads (default: its own choice)",
        "ort_level": f"ONNX Runtime's own graph optimization, one of {', '.join(_LEVELS)} (default all)",
        "fallback": "with target cuda, run on the CPU when CUDA is not there instead of failing",
        "fallback_hint": "how the CUDA error words that opt-in (the CLI's is a flag)",
        "portable": "standard ONNX ops only, no com.microsoft fused kernels",
    }

    def compile(self, graph, target: str = "cpu", **options) -> OrtExecutable:
        return compile_graph(graph, target=target, **options)

    def report(self) -> dict:
        """Which ONNX Runtime is installed and what it offers."""
        return provider_report()
