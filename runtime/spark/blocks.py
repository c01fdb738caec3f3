"""A DataFrame's training rows as numpy blocks on the executors: `mapInArrow` hands each task its
partition as Arrow record batches (Spark's `maxRecordsPerBatch` rows each, 10k by default), and
each becomes one `(inputs, label)` batch by flattening its list columns with Arrow and reshaping
the values once: no Python call per row. Each block travels back to the Python RDD as one
pickled binary value; the partitioning stays the DataFrame's (mapInArrow and `.rdd` are narrow),
so `SparkTrainer` stacks the blocks of a partition as it stacks an RDD's batches.

The columns are checked on the driver first (columns.frame_columns: they exist, are numeric, and
the first row holds as many elements as a row of the input); a later row of another length is
only seen on its executor and raised there, naming the column."""
from __future__ import annotations

import pickle

import numpy as np

from graphc.runtime.spark.columns import InputPlan
from graphc.runtime.spark.errors import ColumnError


def _values(column, n: int, name: str) -> np.ndarray:
    """An Arrow column (scalars or lists of lists ... of numbers) as its flat numpy values."""
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    while pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        if arr.null_count:
            raise ColumnError(f"SparkTrainer.fit: column {name!r} has null rows; drop or fill them first")
        arr = arr.flatten()
    if arr.null_count:
        raise ColumnError(f"SparkTrainer.fit: column {name!r} has null values; drop or fill them first")
    return arr.to_numpy(zero_copy_only=False)


def to_blocks(plans: list[InputPlan], columns: list[str], label: str):
    """The mapInArrow function: record batches of the feature columns `f0..` and the label `y` ->
    one-row batches holding the pickled `(inputs, label)` numpy block."""
    import pyarrow as pa

    def run(batches):
        for rb in batches:
            n = rb.num_rows
            if not n:
                continue
            xs = []
            for i, (plan, column) in enumerate(zip(plans, columns)):
                v = _values(rb.column(f"f{i}"), n, column)
                if v.size != n * plan.elements:  # the driver checked the first row only
                    raise ColumnError(f"SparkTrainer.fit: column {column!r} holds {v.size} values over {n} rows, "
                                      f"rows of input {plan.describe()} take {plan.elements} each; give every row "
                                      f"that many")
                xs.append(v.reshape((n, *plan.row_shape)).astype(plan.dtype, copy=False))
            y = _values(rb.column("y"), n, label)
            y = y.astype(np.int64 if np.issubdtype(y.dtype, np.integer) else np.float32, copy=False)
            y = y.reshape(n) if y.size == n else y.reshape(n, -1)
            yield pa.record_batch([pa.array([pickle.dumps((xs, y), protocol=5)], pa.binary())], names=["block"])
    return run


def frame_blocks(df, plans: list[InputPlan], columns: list[str], label: str, what: str):
    """An RDD of `(inputs, label)` numpy batches per partition of `df` (checked first, on the driver)."""
    from pyspark.sql import functions as F

    from graphc.runtime.spark.columns import frame_columns

    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT

    exprs = frame_columns(df, columns, plans, what)
    y = F.col(label)
    if isinstance(df.schema[label].dataType, VectorUDT):  # one-hot or regression targets as ML vectors
        y = vector_to_array(y, "float32")
    frame = df.select(*[e.alias(f"f{i}") for i, e in enumerate(exprs)], y.alias("y"))
    return frame.mapInArrow(to_blocks(plans, columns, label), "block binary").rdd.map(lambda r: pickle.loads(r[0]))
