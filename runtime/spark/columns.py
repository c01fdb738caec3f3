"""How DataFrame columns feed a model's inputs, and how its outputs become a Spark return type.

An input's *row* is its shape without the batch axis: `(batch, 28, 28, 1)` has rows of 784
elements. A column feeds it as a flat array of that many elements (an `array<...>` column or an
ML vector, reshaped row-major to the row's shape), or as a scalar where a row holds one element;
a model with one input may also take that many scalar columns, stacked in order (as
`pyspark.ml.functions.predict_batch_udf` does). Rows whose shape has a symbolic axis (a sequence
length) need `input_tensor_shapes`.

The default return type follows the model's outputs: one output is a scalar type when its rows
hold one element, else an `array<...>` of its flattened rows; several are a struct with one field
per output, named by the output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from graphc.runtime.spark.errors import ColumnError
from graphc.types import TensorType

# numpy dtype of an output -> the Spark SQL type name (pyspark.sql.types class) it comes back as;
# predict_batch_udf has no boolean results, so masks come back as 0/1 bytes
SPARK_TYPES = {"float16": "FloatType", "float32": "FloatType", "float64": "DoubleType", "int8": "ByteType",
               "uint8": "ShortType", "int16": "ShortType", "uint16": "IntegerType", "int32": "IntegerType",
               "uint32": "LongType", "int64": "LongType", "bool": "ByteType"}
NUMPY_OF = {"FloatType": np.float32, "DoubleType": np.float64, "ByteType": np.int8, "ShortType": np.int16,
            "IntegerType": np.int32, "LongType": np.int64}


@dataclass(frozen=True)
class InputPlan:
    """One model input: its name, dtype and the concrete shape of one row."""

    name: str
    dtype: np.dtype
    row_shape: tuple[int, ...]

    @property
    def elements(self) -> int:
        return math.prod(self.row_shape)

    def describe(self) -> str:
        return f"{self.name!r} ({self.dtype.name}, rows of shape {list(self.row_shape)} = {self.elements} elements)"


@dataclass(frozen=True)
class OutputPlan:
    """One model output as a return value (a struct field of its name when there are several): the
    numpy dtype of its Spark type and whether it is an array (else one scalar a row)."""

    name: str
    dtype: np.dtype
    array: bool


def _shape_text(t) -> str:
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def input_plans(input_types: dict, shapes=None, label: str = "model") -> list[InputPlan]:
    """The plans of the model's inputs, in order. `shapes`: row shapes given by the caller, a list
    in input order (None where the model's own is used) or a dict by input name or index."""
    names = list(input_types)
    given = _given_shapes(names, shapes, label)
    plans = []
    for i, (name, t) in enumerate(input_types.items()):
        if not isinstance(t, TensorType) or t.shape is None or t.dtype is None:
            raise ColumnError(f"{label}: input {name!r} is {t}, not a tensor of known rank and dtype; "
                              f"batch inference feeds tensors only")
        if len(t.shape) == 0:
            raise ColumnError(f"{label}: input {name!r} is a scalar with no batch axis; batch inference feeds "
                              f"inputs whose first axis is the batch")
        row = tuple(t.shape[1:])
        want = given[i]
        fixed = all(isinstance(d, int) for d in row)
        if want is None:
            if not fixed:
                raise ColumnError(f"{label}: input {name!r} has shape {_shape_text(t)}, so its rows have no fixed "
                                  f"shape; give it with input_tensor_shapes={{{name!r}: [...]}} (the shape of "
                                  f"one row, without the batch axis)")
            plans.append(InputPlan(name, np.dtype(t.dtype), row))
            continue
        want = tuple(int(d) for d in want)
        if fixed:
            if math.prod(want) != math.prod(row):
                raise ColumnError(f"{label}: input_tensor_shapes gives input {name!r} rows of shape {list(want)} "
                                  f"({math.prod(want)} elements), but the model's input is {_shape_text(t)}: "
                                  f"{math.prod(row)} elements a row")
            plans.append(InputPlan(name, np.dtype(t.dtype), row))  # a flat row reshaped to the model's
            continue
        if len(want) != len(row) or any(isinstance(d, int) and d != w for d, w in zip(row, want)):
            raise ColumnError(f"{label}: input_tensor_shapes gives input {name!r} rows of shape {list(want)}, "
                              f"which does not fit the model's input {_shape_text(t)} (same rank, fixed axes "
                              f"equal)")
        plans.append(InputPlan(name, np.dtype(t.dtype), want))
    return plans


def _given_shapes(names: list[str], shapes, label: str) -> list:
    if shapes is None:
        return [None] * len(names)
    if isinstance(shapes, dict):
        out = [None] * len(names)
        for key, shape in shapes.items():
            index = key if isinstance(key, int) else names.index(key) if key in names else None
            if index is None or not 0 <= index < len(names):
                raise ColumnError(f"{label}: input_tensor_shapes names input {key!r}, but the model's inputs are "
                                  f"{names}")
            out[index] = shape
        return out
    shapes = list(shapes)
    if len(shapes) != len(names):
        raise ColumnError(f"{label}: input_tensor_shapes has {len(shapes)} shapes for the model's {len(names)} "
                          f"inputs {names}; give one per input (None: the model's own), or a dict by name")
    return shapes


def bind_columns(plans: list[InputPlan], args: tuple, kwargs: dict, label: str) -> list:
    """The columns (names or Column expressions) in model input order, from a call's positional
    columns (input order) or keyword columns (by input name)."""
    names = [p.name for p in plans]
    described = ", ".join(p.describe() for p in plans)
    if args and kwargs:
        raise ColumnError(f"{label}: give the columns by position (input order) or by input name, not both")
    if kwargs:
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise ColumnError(f"{label} has no input(s) {unknown}; its inputs are {described}")
        missing = [n for n in names if n not in kwargs]
        if missing:
            raise ColumnError(f"{label}: no column for input(s) {missing}; its inputs are {described}")
        return [kwargs[n] for n in names]
    if not args:
        raise ColumnError(f"{label}: no columns given; its inputs are {described}: pass one column per input "
                          f"(or input_columns=...)")
    if len(args) == len(plans):
        return list(args)
    if len(plans) == 1 and len(args) == plans[0].elements:
        return list(args)  # scalar columns stacked into the one input's rows
    extra = (f", or {plans[0].elements} scalar columns stacked into its rows" if len(plans) == 1 else "")
    raise ColumnError(f"{label} takes {len(plans)} input(s) ({described}); got {len(args)} columns: pass one "
                      f"column per input{extra}")


def spark_type_name(dtype) -> str:
    name = np.dtype(dtype).name
    if name not in SPARK_TYPES:
        raise ColumnError(f"outputs of dtype {name} have no Spark SQL type in batch inference; cast them in the "
                          f"model or select other outputs with outputs=[...]")
    return SPARK_TYPES[name]


def output_plans(output_types: dict, outputs=None, return_type=None, label: str = "model"):
    """(Spark return type, [OutputPlan], struct?) for the chosen outputs (default all) and an
    optional return type given by the caller (a pyspark DataType)."""
    from pyspark.sql import types as T

    names = list(output_types)
    chosen = list(outputs) if outputs is not None else None
    if chosen is not None:
        unknown = [n for n in chosen if n not in output_types]
        if unknown or not chosen:
            raise ColumnError(f"{label}: outputs={chosen} must name some of the model's outputs {names}")
    given_types = {}
    if isinstance(return_type, T.StructType):
        given_types = {f.name: f.dataType for f in return_type.fields}
        unknown = [f for f in given_types if f not in output_types]
        if unknown:
            raise ColumnError(f"{label}: return_type has field(s) {unknown}, but the model's outputs are {names}; "
                              f"name each field after an output")
        chosen = list(given_types)
    elif chosen is None:
        chosen = names
    struct = isinstance(return_type, T.StructType) or (return_type is None and len(chosen) > 1)
    if not struct and len(chosen) != 1:
        raise ColumnError(f"{label} has {len(chosen)} outputs {chosen}; a return type of {return_type} holds one: "
                          f"pass outputs=[name], or a StructType with a field per output")
    plans, fields = [], []
    for name in chosen:
        t = output_types[name]
        if not isinstance(t, TensorType) or t.dtype is None:
            raise ColumnError(f"{label}: output {name!r} is {t}, not a tensor; batch inference returns tensors only")
        row = tuple(t.shape[1:]) if t.shape else ()
        one = all(isinstance(d, int) for d in row) and math.prod(row) == 1
        given = given_types.get(name) if struct else return_type
        if given is None:
            elem = getattr(T, spark_type_name(t.dtype))()
            given = elem if one else T.ArrayType(elem)
        plan = _plan_for(name, given, one, label)
        plans.append(plan)
        fields.append(T.StructField(name, given))
    rtype = T.StructType(fields) if struct else fields[0].dataType
    return rtype, plans, struct


def _plan_for(name: str, dtype, one_element: bool, label: str) -> OutputPlan:
    from pyspark.sql import types as T

    array = isinstance(dtype, T.ArrayType)
    elem = dtype.elementType if array else dtype
    kind = type(elem).__name__
    if kind not in NUMPY_OF:
        raise ColumnError(f"{label}: output {name!r} cannot come back as {dtype}; use a numeric type "
                          f"({', '.join(NUMPY_OF)}) or an ArrayType of one")
    if not array and not one_element:
        raise ColumnError(f"{label}: output {name!r} has more than one element a row, so it cannot come back as "
                          f"the scalar {dtype}; use ArrayType({kind}()) (rows flattened)")
    return OutputPlan(name, np.dtype(NUMPY_OF[kind]), array)


def to_rows(arr: np.ndarray, plan: OutputPlan, n: int, label: str) -> np.ndarray:
    """An output batch as predict_batch_udf wants it: (n, k) for arrays, (n,) for scalars."""
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ColumnError(f"{label}: output {plan.name!r} has shape {list(arr.shape)} for a batch of {n} rows; "
                          f"batch inference needs outputs whose first axis is the batch")
    arr = arr.reshape(n, -1) if plan.array else arr.reshape(n)
    return arr.astype(plan.dtype, copy=False)


def to_input(arr, plan: InputPlan, n: int, column: str, label: str) -> np.ndarray:
    """A batch of column values (pyspark's (n, elements) or (n,) array) as the input's tensor."""
    arr = np.asarray(arr)
    if arr.size != n * plan.elements:
        raise ColumnError(f"{label}: column {column} gives {arr.size // max(n, 1)} elements a row for input "
                          f"{plan.describe()}; make each row hold {plan.elements}")
    arr = arr.reshape((n, *plan.row_shape))
    if arr.dtype != plan.dtype:
        if not np.can_cast(arr.dtype, plan.dtype, "same_kind"):
            raise ColumnError(f"{label}: column {column} holds {arr.dtype.name}, which does not convert to input "
                              f"{plan.describe()} without losing its kind; cast the column in Spark first")
        arr = arr.astype(plan.dtype)
    return arr


def _numpy_of_spark(dt):
    """The numpy dtype a numeric Spark SQL type arrives as, None for any other type."""
    name = type(dt).__name__
    return np.dtype(bool) if name == "BooleanType" else np.dtype(NUMPY_OF[name]) if name in NUMPY_OF else None


def frame_columns(df, columns: list, plans: list[InputPlan], label: str) -> list:
    """Column expressions for `columns` of `df` in input order, checked against the inputs before
    a job runs: that each named column exists, is numeric (a scalar, an array or an ML vector, which
    becomes an array), converts to its input's dtype, and, read from the DataFrame's first row (or
    an ML vector's size metadata), holds as many elements as a row of its input. Columns given as
    expressions are only checked where they run."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = {f.name: f for f in df.schema.fields}
    stacked = len(plans) == 1 and len(columns) > 1
    exprs, sized = [], []
    for i, column in enumerate(columns):
        plan = plans[0] if stacked else plans[i]
        if not isinstance(column, str):
            exprs.append(column)
            continue
        where = f"{label}: column {column!r} (for input {plan.describe()})"
        if column not in fields:
            raise ColumnError(f"{where}: the DataFrame has no such column; its columns are {list(fields)}")
        field = fields[column]
        dt = field.dataType
        if isinstance(dt, VectorUDT):
            expr = vector_to_array(F.col(column), "float32" if plan.dtype == np.float32 else "float64")
            have = np.dtype(np.float32 if plan.dtype == np.float32 else np.float64)
            size = field.metadata.get("ml_attr", {}).get("num_attrs")
            if size is not None and int(size) != plan.elements:
                raise ColumnError(f"{where}: its vectors hold {size} elements, a row of the input {plan.elements}")
        elif isinstance(dt, T.ArrayType):
            expr, have, size = F.col(column), _numpy_of_spark(dt.elementType), None
            if have is None:
                raise ColumnError(f"{where}: its elements are {dt.elementType.simpleString()}, not numbers")
        else:
            have = _numpy_of_spark(dt)
            if have is None:
                raise ColumnError(f"{where}: it holds {dt.simpleString()}, not numbers, arrays or ML vectors")
            if not stacked and plan.elements != 1:
                raise ColumnError(f"{where}: it holds one number a row, a row of the input {plan.elements}; "
                                  f"give an array or vector column (pyspark.sql.functions.array(...)), or "
                                  f"{plan.elements} scalar columns for a model's one input")
            exprs.append(F.col(column))
            if not np.can_cast(have, plan.dtype, "same_kind"):
                raise ColumnError(f"{where}: it holds {have.name}, which does not convert to {plan.dtype.name}")
            continue
        if stacked:
            raise ColumnError(f"{where}: several columns for one input must each hold one number a row")
        if not np.can_cast(have, plan.dtype, "same_kind"):
            raise ColumnError(f"{where}: it holds {have.name} elements, which do not convert to {plan.dtype.name}; "
                              f"cast the column in Spark first")
        exprs.append(expr)
        if size is None:
            sized.append((column, plan, F.size(expr)))
    if sized:  # one row read to check the element counts (an empty DataFrame has nothing to check)
        first = df.select(*[e.alias(f"n{i}") for i, (_, _, e) in enumerate(sized)]).head()
        for (column, plan, _), n in zip(sized, first or ()):
            if n is None or n < 0:
                raise ColumnError(f"{label}: column {column!r} is null in the DataFrame's first row; drop or "
                                  f"fill null rows before batch inference")
            if n != plan.elements:
                raise ColumnError(f"{label}: column {column!r} holds {n} elements in the DataFrame's first row, "
                                  f"but a row of input {plan.describe()}; reshape or select the right column")
    return exprs
