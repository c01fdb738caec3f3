"""`GraphModel`: a model held as an IR graph, with Keras-like `predict` and `summary`.

`graphc.load` returns one; the Keras layer library's `Model` extends it with layers.
Compiled executables are cached per (target, opt_level, threads, ort_level).
"""
from __future__ import annotations

import numpy as np

from graphc.errors import InputError
from graphc.ir import Graph
from graphc.types import TensorType


class GraphModel:
    def __init__(self, graph: Graph, name: str | None = None):
        self.graph = graph
        self.name = name or graph.name
        self._compiled: dict = {}

    # ---- signature ----------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return list(self.graph.inputs)

    @property
    def output_names(self) -> list[str]:
        return [n for n, _ in self.graph.outputs]

    def input_types(self) -> dict:
        return {n: self.graph.type_of((n, 0)) for n in self.graph.inputs}

    def output_types(self) -> dict:
        return {n: self.graph.type_of(v) for n, v in self.graph.outputs}

    # ---- execution ----------------------------------------------------------------------
    def compile(self, target: str = "cpu", opt_level: str = "O2", threads: int | None = None,
                ort_level: str = "all", fallback: bool = False):
        """An executable for this model (see `graphc.compile`), cached."""
        from graphc.api import compile as compile_model

        key = (target, opt_level, threads, ort_level, fallback)
        if key not in self._compiled:
            self._compiled[key] = compile_model(self, target=target, opt_level=opt_level, threads=threads,
                                                ort_level=ort_level, fallback=fallback)
        return self._compiled[key]

    def _normalize_inputs(self, x) -> list[np.ndarray]:
        names = self.input_names
        if isinstance(x, dict):
            unknown = set(x) - set(names)
            if unknown:
                raise InputError(f"model {self.name!r} has no input(s) {sorted(unknown)}; inputs are {names}")
            x = [x[n] if n in x else None for n in names]
            missing = [n for n, a in zip(names, x) if a is None]
            if missing:
                raise InputError(f"model {self.name!r} is missing input(s) {missing}")
        elif not isinstance(x, (list, tuple)):
            x = [x]
        if len(x) != len(names):
            raise InputError(f"model {self.name!r} takes {len(names)} input(s) {names}, got {len(x)}")
        out = []
        for n, a in zip(names, x):
            t = self.graph.type_of((n, 0))
            a = np.asarray(a)
            if isinstance(t, TensorType) and t.dtype is not None and a.dtype != t.dtype \
                    and np.can_cast(a.dtype, t.dtype, "same_kind"):
                a = a.astype(t.dtype)  # as Keras does: float64 data into a float32 model
            out.append(a)
        return out

    def predict(self, x, batch_size: int | None = None, **compile_options):
        """Outputs for `x` (an array, a list of arrays in input order, or a dict by name).

        With `batch_size`, the inputs are cut into batches along axis 0 and the outputs joined.
        One output comes back as an array, several as a list.
        """
        exe = self.compile(**compile_options)
        arrays = self._normalize_inputs(x)
        if batch_size is None or not arrays or arrays[0].ndim == 0:
            return exe(*arrays)
        n = arrays[0].shape[0]
        parts = []
        for start in range(0, n, batch_size):
            res = exe(*[a[start:start + batch_size] for a in arrays])
            parts.append(res if isinstance(res, list) else [res])
        joined = [np.concatenate([p[i] for p in parts], axis=0) for i in range(len(parts[0]))]
        return joined[0] if len(joined) == 1 else joined

    __call__ = predict

    # ---- inspection ---------------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        text = self.graph.summary()
        if print_fn is not None:
            print_fn(text)
        return text

    def export(self, path, opt_level: str = "O2") -> None:
        """Write the model as a portable ONNX file (runs in plain onnxruntime)."""
        from graphc.api import export

        export(self, path, opt_level=opt_level)
