"""`GraphModel`: a model held as an IR graph, with Keras-like `predict` and `summary`.

`graphc.load` returns one; the Keras layer library's `Model` extends it with layers. It runs
through the backend registry (graphc/backends.py), keeping one executable per (backend, target,
opt_level, backend options) for the current `weights_version`: a weight write bumps the version,
and the next call compiles again. Executables are not pickled; an unpickled model rebuilds them.
"""
from __future__ import annotations

import copy

import numpy as np

from graphc import backends
from graphc.errors import InputError
from graphc.ir import Graph
from graphc.passes import optimize_for_inference
from graphc.types import TensorType


def graph_of(model) -> Graph:
    """The IR graph of a model, or the Graph itself."""
    if isinstance(model, Graph):
        return model
    graph = getattr(model, "graph", None)
    if isinstance(graph, Graph):
        return graph
    raise TypeError(f"expected a graphc model or Graph, got {type(model).__name__}")


def export(model, path, opt_level: str = "O2", portable: bool = True) -> None:
    """Write `model` (or a Graph) as an ONNX file after the pipeline `opt_level`; `portable` (the
    default): plain ONNX ops only, so that it runs in any onnxruntime, else with ONNX Runtime's
    fused kernels where they apply."""
    from graphc.lower.onnx import save  # onnx's own modules load only when a file is written

    save(optimize_for_inference(graph_of(model), opt_level), path, portable=portable)


class GraphModel:
    def __init__(self, graph: Graph, name: str | None = None, weights=()):
        """`weights`: objects with a `version` counter that their writes bump (the layer
        library's `Weight`s, whose arrays the graph's Variables hold)."""
        self.graph = graph
        self.name = name or graph.name
        self._weight_sources = list(weights)
        self._own_writes = 0
        self._compiled: dict = {}  # cache key -> executable, all built at _compiled_version
        self._compiled_version = None

    # ---- weights ------------------------------------------------------------------------
    def weights_changed(self) -> None:
        """Say that weight arrays of the graph were written in place (by anything but a
        `Weight.assign`, which counts itself): the next call compiles again."""
        self._own_writes += 1

    @property
    def weights_version(self) -> int:
        """A number that every weight write makes larger (a sum of counters that only grow)."""
        return self._own_writes + sum(w.version for w in self._weight_sources)

    def __getstate__(self):
        state = dict(self.__dict__)
        self.sync_weights()
        state["_compiled"], state["_compiled_version"] = {}, None  # sessions do not pickle; rebuilt on use
        state.pop("_eval_exe", None)
        if state.get("_training") is not None:  # the configuration pickles, its trainer does not
            state["_training"] = copy.copy(state["_training"])
            state["_training"].trainer = None
        return state

    def sync_weights(self) -> None:
        """Write the parameters a trainer holds resident back into the model's weights."""
        if self.__dict__.get("_training") is not None:
            from graphc.training.front import sync

            sync(self)

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
    def executable(self, target: str = "cpu", opt_level: str = "O2", backend: str | None = None, **backend_options):
        """An executable for this model (see `graphc.compile`), kept until the weights change."""
        self.sync_weights()
        version = self.weights_version
        if version != self._compiled_version:
            self._compiled, self._compiled_version = {}, version
        key = (backend or backends.DEFAULT, target, opt_level, tuple(sorted(backend_options.items())))
        exe = self._compiled.get(key)
        if exe is None:
            exe = self._compiled[key] = backends.compile(self.graph, target=target, backend=backend,
                                                         opt_level=opt_level, **backend_options)
        return exe

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
        exe = self.executable(**compile_options)
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

    # ---- training (Keras's API; graphc/training/front.py) ---------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs) -> None:
        """Configure training as Keras's `compile` does. Executables: `graphc.compile(model, ...)` or
        `model.executable(...)`."""
        from graphc.training import front

        front.compile(self, optimizer, loss, metrics, loss_weights, **kwargs)

    def fit(self, x=None, y=None, **kwargs):
        """Keras's `fit` (graphc/training/front.py): a `History`."""
        from graphc.training import front

        return front.fit(self, x, y, **kwargs)

    def save_checkpoint(self, path, normalizers=None) -> None:
        """Weights, optimizer state, step, epoch, RNG state and normalizers in one file
        (graphc/training/checkpoint.py; `graphc.training.load_checkpoint` resumes)."""
        from graphc.training.checkpoint import save_checkpoint

        save_checkpoint(self, path, normalizers)

    def evaluate(self, x=None, y=None, **kwargs):
        from graphc.training import front

        return front.evaluate(self, x, y, **kwargs)

    def train_on_batch(self, x, y=None, **kwargs):
        from graphc.training import front

        return front.train_on_batch(self, x, y, **kwargs)

    def test_on_batch(self, x, y=None, **kwargs):
        from graphc.training import front

        return front.test_on_batch(self, x, y, **kwargs)

    @property
    def learning_rate(self) -> float:
        """The learning rate the next train step uses (callbacks adjust it)."""
        from graphc.training import front

        cfg = front._config(self)
        if cfg.trainer is not None and cfg.trainer.learning_rate is not None:
            return cfg.trainer.learning_rate
        lr = cfg.optimizer.learning_rate
        return lr if front.is_schedule(cfg.optimizer) else float(lr)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        from graphc.training import front

        cfg = front._config(self)
        if front.is_schedule(cfg.optimizer):
            raise front.TrainingError(f"model {self.name!r}: the learning rate follows the optimizer's schedule "
                                      f"{cfg.optimizer.learning_rate!r}; compile with a float rate to set it")
        if cfg.trainer is not None:
            cfg.trainer.learning_rate = float(value)
        cfg.optimizer.learning_rate = float(value)

    # ---- inspection ---------------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        text = self.graph.summary()
        if print_fn is not None:
            print_fn(text)
        return text

    def export(self, path, opt_level: str = "O2", portable: bool = True) -> None:
        """Write the model as an ONNX file (see `graphc.export`)."""
        export(self, path, opt_level=opt_level, portable=portable)
