"""Batch inference on Spark: `predict_batch_udf(model_path, ...)` and `predict(df, model_path, ...)`.

Built on `pyspark.ml.functions.predict_batch_udf`: Spark hands each Python worker batches of
rows as numpy arrays, and graphc's compiled executable runs them. The model file is read on the
driver first (its inputs and outputs fix the column checks and the return type, and a file that
does not load fails there, before any job), then once more in each executor process, which loads
and compiles it once and keeps the executable for every later task and every later UDF on the
same file (keyed by the file's path, mtime and size and the compile options).

Executors read the file by the path given, so it must be readable there: on one machine or a
shared filesystem it is; otherwise ship it with `spark.sparkContext.addFile(path)` and pass its
path or file name: where the path does not exist, `SparkFiles.get(file name)` is used.

The runtime parses no model formats (docs/DESIGN.md's rooms): files are read with the loader the
facade hands in (`graphc.spark` passes `graphc.load`), or one passed as `load=`.
"""
from __future__ import annotations

import functools
import inspect
import os
import socket
from dataclasses import dataclass, field
from typing import Callable

from graphc import backends
from graphc.errors import GraphcError
from graphc.model import graph_of
from graphc.runtime.spark.columns import (InputPlan, OutputPlan, bind_columns, frame_columns, input_plans,
                                          output_plans, to_input, to_rows)
from graphc.runtime.spark.errors import ColumnError, ModelFileError, SparkError, require_inference_deps

_loader: Callable | None = None  # the facade's graphc.load, handed in by graphc.spark
_executables: dict = {}  # (file, mtime, size, compile options) -> executable, per process
_loads: dict[str, int] = {}  # real path of a file -> how many times this process loaded and compiled it


def use_loader(load: Callable) -> None:
    """Read model files with `load` (path -> graphc model); graphc.spark passes graphc.load."""
    global _loader
    _loader = load


def resolve_model_file(path, where: str = "driver") -> str:
    """`path` where it exists here, else the copy Spark shipped with addFile, else ModelFileError."""
    path = os.fspath(path)
    if os.path.exists(path):
        return path
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(path))
    except Exception:  # no SparkContext (driver) or no files shipped
        shipped = None
    if shipped and os.path.exists(shipped):
        return shipped
    raise ModelFileError(f"{path}: no such model file on the {where} ({socket.gethostname()}); give a path that "
                         f"the driver and every executor can read (a shared filesystem), or ship the file with "
                         f"spark.sparkContext.addFile({path!r}) and pass its path or file name")


@dataclass(frozen=True)
class ModelSpec:
    """What an executor needs to load and compile the model: pickled into the UDF."""

    path: str
    load: Callable
    backend: str | None = None
    target: str = "cpu"
    opt_level: str = "O2"
    options: tuple = field(default=())  # sorted (name, value) pairs of backend options

    @property
    def label(self) -> str:
        return os.path.basename(self.path)


def executable_for(spec: ModelSpec, where: str = "executor"):
    """The compiled model for `spec`, loaded and compiled once per process and file version."""
    path = resolve_model_file(spec.path, where)
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size, spec.backend, spec.target, spec.opt_level,
           spec.options)
    exe = _executables.get(key)
    if exe is None:
        model = spec.load(path)
        exe = backends.compile(graph_of(model), target=spec.target, backend=spec.backend,
                               opt_level=spec.opt_level, **dict(spec.options))
        _loads[key[0]] = _loads.get(key[0], 0) + 1
        _executables[key] = exe
    return exe


def cache_info() -> dict:
    """This process's cache: its pid, the executables it holds, and {real path of a model file:
    how many times this process loaded and compiled it}."""
    return {"pid": os.getpid(), "entries": len(_executables), "loads": dict(_loads)}


def _make_predict_fn(spec: ModelSpec, plans: list[InputPlan], outputs: list[OutputPlan], struct: bool):
    """Runs on an executor (pyspark calls it once per UDF and Python worker): the batch function,
    taking one numpy array per input as predict_batch_udf counts them by its signature."""
    exe = executable_for(spec)
    label = spec.label

    def predict(*columns):  # one array per input (several scalar columns for one input: stacked)
        n = len(columns[0])
        feed = {p.name: to_input(c, p, n, f"#{i + 1}", label) for i, (p, c) in enumerate(zip(plans, columns))}
        results = exe.run(feed)
        rows = {o.name: to_rows(results[o.name], o, n, label) for o in outputs}
        return rows if struct else rows[outputs[0].name]

    predict.__signature__ = inspect.Signature(
        [inspect.Parameter(f"x{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(len(plans))])
    return predict


class PredictUDF:
    """A batch-inference UDF. Call it with one column per model input (by position in input order,
    or by input name) for a Column; `apply(df)` checks the DataFrame's columns first and also
    takes ML vector columns. `inputs` (name, dtype, row shape of each) and `outputs`, with
    `return_type`, say what it expects and gives."""

    def __init__(self, udf, inputs: list[InputPlan], outputs: list[OutputPlan], return_type, input_columns,
                 label: str):
        self._udf, self.inputs, self.outputs = udf, inputs, outputs
        self.return_type, self.input_columns, self.label = return_type, input_columns, label

    @property
    def input_names(self) -> list[str]:
        return [p.name for p in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    def _columns(self, args, kwargs) -> list:
        if not args and not kwargs and self.input_columns is not None:
            given = self.input_columns
            args, kwargs = ((), dict(given)) if isinstance(given, dict) else (tuple(given), {})
        return bind_columns(self.inputs, tuple(args), dict(kwargs), self.label)

    def _apply_udf(self, cols: list):
        if len(self.inputs) == 1 and len(cols) > 1:  # scalar columns for one input: its rows, as an array
            from pyspark.sql import functions as F

            cols = [F.array(*cols)]
        return self._udf(*cols)

    def __call__(self, *columns, **by_input):
        return self._apply_udf(self._columns(columns, by_input))

    def apply(self, df, *columns, output_col: str = "prediction", **by_input):
        """`df` with the predictions in `output_col`. Columns as for a call; none given: the
        UDF's input_columns, else the DataFrame's columns named like the model's inputs."""
        if not columns and not by_input and self.input_columns is None:
            missing = [n for n in self.input_names if n not in df.columns]
            if missing:
                raise ColumnError(f"{self.label}: name the columns that feed inputs {self.input_names} (the "
                                 f"DataFrame has no columns {missing}; its columns are {df.columns})")
            by_input = {n: n for n in self.input_names}
        cols = frame_columns(df, self._columns(columns, by_input), self.inputs, self.label)
        return df.withColumn(output_col, self._apply_udf(cols))


def _default_threads(spark) -> int:
    """One ONNX Runtime thread per core a Spark task holds (spark.task.cpus, default 1)."""
    try:
        return max(1, int(spark.conf.get("spark.task.cpus", "1"))) if spark is not None else 1
    except Exception:
        return 1


def predict_batch_udf(model_path, *, return_type=None, batch_size: int = 64, input_columns=None,
                      input_tensor_shapes=None, outputs=None, target: str = "cpu", opt_level: str = "O2",
                      backend: str | None = None, load: Callable | None = None, **backend_options) -> PredictUDF:
    """A `PredictUDF` running the model at `model_path` (.onnx, .keras, .h5: any file graphc loads).

    return_type: a pyspark DataType (or DDL string) for the result; default from the outputs
        (one output: a scalar type for one element a row, else an array of its flattened rows;
        several: a struct with a field per output named after it, e.g. `pred.cls`).
    batch_size: rows per model call. input_columns: the columns a call with none uses (a list in
        input order, or a dict {input name: column}). input_tensor_shapes: row shapes (no batch
        axis) for inputs whose rows are not fixed by the model, or to state a fixed one: a list
        in input order or a dict by input name. outputs: the output names to return (default all).
    target, opt_level, backend, backend options: as `graphc.compile`; ONNX Runtime's `threads`
        defaults to the cores a task holds (spark.task.cpus).
    """
    require_inference_deps()
    from pyspark.ml.functions import predict_batch_udf as spark_predict_batch_udf
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType, _parse_datatype_string

    load = load or _loader
    if load is None:
        raise SparkError("graphc.runtime.spark reads model files through graphc.load: call it as "
                         "graphc.spark.predict_batch_udf, or pass load=graphc.load")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SparkError(f"batch_size must be a positive integer, got {batch_size!r}")
    path = resolve_model_file(model_path, "driver")
    label = os.path.basename(os.fspath(model_path))
    try:
        model = load(path)
    except GraphcError as e:
        raise ModelFileError(f"{label}: cannot be loaded for batch inference: {e}") from e
    graph = graph_of(model)
    plans = input_plans({n: graph.type_of((n, 0)) for n in graph.inputs}, input_tensor_shapes, label)
    spark = SparkSession.getActiveSession()
    if isinstance(return_type, str):
        if spark is None:
            raise SparkError(f"return_type {return_type!r} is a DDL string, which needs an active SparkSession "
                             f"to parse; start one first (graphc.spark.session()) or pass a DataType")
        return_type = _parse_datatype_string(return_type)
    elif return_type is not None and not isinstance(return_type, DataType):
        raise SparkError(f"return_type must be a pyspark.sql.types.DataType or a DDL string, got {return_type!r}")
    rtype, outs, struct = output_plans({n: graph.type_of(v) for n, v in graph.outputs}, outputs, return_type, label)
    if backend in (None, "ort") and "threads" not in backend_options:
        backend_options["threads"] = _default_threads(spark)
    backends.check_request(backends.get(backend), target, backend_options)
    spec = ModelSpec(os.fspath(model_path), load, backend, target, opt_level, tuple(sorted(backend_options.items())))
    if input_columns is not None and not isinstance(input_columns, dict):
        input_columns = list(input_columns)
    if input_columns is not None:
        bind_columns(plans, () if isinstance(input_columns, dict) else tuple(input_columns),
                     input_columns if isinstance(input_columns, dict) else {}, label)
    udf = spark_predict_batch_udf(functools.partial(_make_predict_fn, spec, plans, outs, struct),
                                  return_type=rtype, batch_size=batch_size,
                                  input_tensor_shapes=[[p.elements] for p in plans])
    return PredictUDF(udf, plans, outs, rtype, input_columns, label)


def predict(df, model_path, *columns, output_col: str = "prediction", input_columns=None, **options):
    """`df` with the predictions of the model at `model_path` in `output_col` (see
    `predict_batch_udf` for the options); the columns are checked against the model first."""
    udf = predict_batch_udf(model_path, input_columns=input_columns, **options)
    return udf.apply(df, *columns, output_col=output_col)
