"""graphc.spark.predict_batch_udf on a real local[2] Spark: the DataFrame's predictions equal
`graphc.compile` on the same rows (ONNX, .keras, .h5; several inputs and outputs; ML vectors,
stacked scalar columns, integer inputs, symbolic rows), the executable is built once per executor
process and file version, shipped files are found with SparkFiles, and bad columns or files fail
on the driver before the inference job."""
import os
import shutil
import sys
import uuid
from typing import Iterator

import numpy as np
import pytest

from tests.spark.conftest import FIXTURES, needs_spark

needs_spark()
import pandas as pd  # noqa: E402
from pyspark.ml.linalg import Vectors  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql import types as T  # noqa: E402
from pyspark.sql.functions import pandas_udf  # noqa: E402

import graphc  # noqa: E402
from graphc.runtime.spark import inference  # noqa: E402
from graphc.runtime.spark.errors import SparkError  # noqa: E402

MLP = os.path.join(FIXTURES, "onnx", "torch_mlp.onnx")
TWO = os.path.join(FIXTURES, "keras", "struct_two_in_two_out.keras")
CNN_H5 = os.path.join(FIXTURES, "keras", "struct_cnn_merge.h5")
SEQ_MLP = os.path.join(FIXTURES, "keras", "struct_sequential_mlp.keras")
TOKENS_H5 = os.path.join(FIXTURES, "keras", "struct_rnn_embed.h5")
VARLEN = os.path.join(FIXTURES, "keras", "varlen_lstm_seq.keras")

# Spark feeds the model batches of batch_size rows while the reference runs all rows at once:
# ONNX Runtime's kernels may block a GEMM differently for another row count, so rows agree to
# float32 rounding, not bit for bit.
TOL = dict(rtol=1e-5, atol=1e-6)


def reference(path, *inputs):
    return graphc.compile(graphc.load(path))(*inputs)


def frame(spark, rows: dict, partitions: int = 3):
    """A DataFrame with an `id` and one column per entry: arrays become array<float|int> rows."""
    n = len(next(iter(rows.values())))
    fields, cols = [T.StructField("id", T.LongType())], []
    for name, a in rows.items():
        flat = a.reshape(n, -1) if a.ndim > 1 else a
        elem = T.FloatType() if a.dtype == np.float32 else T.DoubleType() if a.dtype.kind == "f" else T.LongType()
        fields.append(T.StructField(name, T.ArrayType(elem) if a.ndim > 1 else elem))
        cols.append([r.tolist() if a.ndim > 1 else r.item() for r in flat])
    data = [(i, *(c[i] for c in cols)) for i in range(n)]
    return spark.createDataFrame(data, T.StructType(fields)).repartition(partitions)


def collect(df, column="prediction"):
    return [r[column] for r in df.orderBy("id").select(column).collect()]


@pytest.fixture
def job_group(spark):
    """A job group of its own, to see whether a call started any Spark job."""
    sc = spark.sparkContext
    group = f"graphc-check-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "graphc test: must not run")
    yield lambda: list(sc.statusTracker().getJobIdsForGroup(group))
    sc.setLocalProperty("spark.jobGroup.id", None)


def test_onnx_model_over_a_dataframe_equals_graphc_compile(spark):
    x = np.random.default_rng(0).standard_normal((50, 784)).astype(np.float32)
    udf = graphc.spark.predict_batch_udf(MLP, batch_size=16)
    assert udf.return_type == T.ArrayType(T.FloatType()) and udf.input_names == ["input_0"]
    got = np.array(collect(udf.apply(frame(spark, {"input_0": x}))))
    np.testing.assert_allclose(got, reference(MLP, x), **TOL)
    # the plain Column form, with an input_columns default and a DDL return type
    udf = graphc.spark.predict_batch_udf(MLP, batch_size=7, input_columns=["input_0"], return_type="array<double>")
    df = frame(spark, {"input_0": x}).withColumn("p", udf())
    got = np.array(collect(df, "p"))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, reference(MLP, x), **TOL)


def test_keras_model_with_two_inputs_and_two_outputs_returns_a_struct(spark):
    rng = np.random.default_rng(1)
    vec = rng.standard_normal((23, 5)).astype(np.float32)
    seq = rng.standard_normal((23, 3, 4)).astype(np.float32)
    udf = graphc.spark.predict_batch_udf(TWO, batch_size=5)
    assert udf.input_names == ["vec", "seq"] and udf.output_names == ["cls", "per_step"]
    assert [f.name for f in udf.return_type.fields] == ["cls", "per_step"]
    df = frame(spark, {"a": vec, "b": seq})
    rows = collect(df.withColumn("prediction", udf(seq="b", vec="a")))  # by input name
    want = graphc.compile(graphc.load(TWO)).run(vec=vec, seq=seq)
    np.testing.assert_allclose(np.array([r.cls for r in rows]), want["cls"], **TOL)
    np.testing.assert_allclose(np.array([r.per_step for r in rows]), want["per_step"].reshape(23, 3), **TOL)
    # one output alone: a plain array column
    udf = graphc.spark.predict_batch_udf(TWO, batch_size=5, outputs=["per_step"])
    got = np.array(collect(udf.apply(df, "a", "b", output_col="prediction")))
    np.testing.assert_allclose(got, want["per_step"].reshape(23, 3), **TOL)


def test_h5_model_takes_ml_vectors_reshaped_to_its_input(spark):
    x = np.random.default_rng(2).standard_normal((17, 8, 8, 3)).astype(np.float32)
    df = spark.createDataFrame([(i, Vectors.dense(x[i].ravel().tolist())) for i in range(17)], ["id", "pixels"])
    udf = graphc.spark.predict_batch_udf(CNN_H5, batch_size=4)
    got = np.array(collect(udf.apply(df.repartition(2), "pixels")))
    np.testing.assert_allclose(got, reference(CNN_H5, x), **TOL)


def test_scalar_columns_stack_into_one_input(spark):
    x = np.random.default_rng(3).standard_normal((21, 8))  # float64 columns into a float32 model
    pdf = pd.DataFrame({f"f{j}": x[:, j] for j in range(8)}).assign(id=np.arange(21))
    df = spark.createDataFrame(pdf).repartition(2)
    got = np.array(collect(graphc.spark.predict(df, SEQ_MLP, *[f"f{j}" for j in range(8)], batch_size=6)))
    np.testing.assert_allclose(got, reference(SEQ_MLP, x.astype(np.float32)), **TOL)


def test_integer_inputs_and_symbolic_rows(spark):
    rng = np.random.default_rng(4)
    tokens = rng.integers(0, 10, size=(13, 7))  # long columns into an int32 input
    got = np.array(collect(graphc.spark.predict(frame(spark, {"tokens": tokens}), TOKENS_H5, batch_size=4)))
    np.testing.assert_allclose(got, reference(TOKENS_H5, tokens.astype(np.int32)), **TOL)
    frames = rng.standard_normal((11, 5, 3)).astype(np.float32)
    udf = graphc.spark.predict_batch_udf(VARLEN, batch_size=4, input_tensor_shapes={"input_layer": [5, 3]})
    got = np.array(collect(udf.apply(frame(spark, {"x": frames}), "x")))
    np.testing.assert_allclose(got, reference(VARLEN, frames).reshape(11, -1), **TOL)


@pandas_udf(T.StringType())
def _cache_report(ids: Iterator[pd.Series]) -> Iterator[pd.Series]:
    from graphc.runtime.spark.inference import cache_info

    for s in ids:
        info = cache_info()
        yield pd.Series([f"{info['pid']}:{info['loads'].get(os.path.realpath(MLP), 0)}"] * len(s))


def test_each_executor_process_loads_and_compiles_the_file_once(spark):
    x = np.random.default_rng(5).standard_normal((40, 784)).astype(np.float32)
    df = frame(spark, {"input_0": x}, partitions=4).cache()
    for _ in range(2):  # two UDFs (pyspark's own cache is per UDF), two jobs each
        udf = graphc.spark.predict_batch_udf(MLP, batch_size=8)
        for _ in range(2):
            assert len(collect(udf.apply(df))) == 40
    reports = {r.r for r in df.select(_cache_report("id").alias("r")).collect()}
    loads = [int(r.split(":")[1]) for r in reports]
    # workers that ran the model hold it once; a worker started for the report alone holds none
    assert max(loads) == 1, reports
    df.unpersist()


def test_the_process_cache_is_keyed_by_file_version_and_options(tmp_path):
    path = tmp_path / "m.onnx"
    shutil.copy(MLP, path)
    spec = inference.ModelSpec(str(path), graphc.load, options=(("threads", 1),))
    loads = lambda: inference.cache_info()["loads"].get(str(path.resolve()), 0)  # noqa: E731
    assert loads() == 0
    a = inference.executable_for(spec, "driver")
    assert inference.executable_for(spec, "driver") is a
    assert loads() == 1
    other = inference.ModelSpec(str(path), graphc.load, options=(("threads", 2),))
    assert inference.executable_for(other, "driver") is not a
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file was rewritten
    assert inference.executable_for(spec, "driver") is not a
    assert loads() == 3


def test_a_file_shipped_with_addfile_is_found_by_its_name(spark, tmp_path):
    name = f"shipped_{uuid.uuid4().hex}.onnx"
    shutil.copy(MLP, tmp_path / name)
    assert not os.path.exists(name)  # not in the working directory of driver or executors
    spark.sparkContext.addFile(str(tmp_path / name))
    x = np.random.default_rng(6).standard_normal((9, 784)).astype(np.float32)
    got = np.array(collect(graphc.spark.predict(frame(spark, {"input_0": x}), name, batch_size=4)))
    np.testing.assert_allclose(got, reference(MLP, x), **TOL)


def test_columns_that_do_not_fit_fail_on_the_driver_before_any_job(spark, job_group):
    rng = np.random.default_rng(7)
    df = frame(spark, {"a": rng.standard_normal((6, 5)).astype(np.float32),
                       "b": rng.standard_normal((6, 3, 4)).astype(np.float32)})
    df = df.withColumn("name", F.lit("x")).withColumn("f", F.lit(1.5))
    udf = graphc.spark.predict_batch_udf(TWO)
    cases = [
        ((df, "a"), r"takes 2 input\(s\) \('vec' \(float32, rows of shape \[5\] = 5 elements\), 'seq'.*got 1 columns"),
        ((df, "a", "missing"), r"column 'missing' .*no such column; its columns are \['id', 'a', 'b', 'name', 'f'\]"),
        ((df,), r"name the columns that feed inputs \['vec', 'seq'\]"),
        ((df, "a", "name"), r"column 'name' .*holds string, not numbers"),
        ((df, "a", "f"), r"column 'f' .*holds one number a row, a row of the input 12"),
    ]
    for args, pattern in cases:
        with pytest.raises(graphc.spark.ColumnError, match=pattern):
            udf.apply(*args)
    with pytest.raises(graphc.spark.ColumnError, match=r"has no input\(s\) \['image'\]"):
        udf(image="a", seq="b")
    tokens = graphc.spark.predict_batch_udf(TOKENS_H5)
    with pytest.raises(graphc.spark.ColumnError, match="float32 elements, which do not convert to int32"):
        tokens.apply(frame(spark, {"t": rng.standard_normal((3, 7)).astype(np.float32)}), "t")
    assert job_group() == []


def test_rows_of_the_wrong_length_fail_on_the_driver(spark):
    x = np.zeros((4, 10), np.float32)
    with pytest.raises(graphc.spark.ColumnError,
                       match=r"'input_0' holds 10 elements in the DataFrame's first row, but a row of input "
                             r"'input_0' \(float32, rows of shape \[784\] = 784 elements\)"):
        graphc.spark.predict(frame(spark, {"input_0": x}), MLP)


def test_model_files_that_are_missing_or_do_not_load(tmp_path, job_group):
    with pytest.raises(graphc.spark.ModelFileError, match=r"nowhere\.onnx: no such model file on the driver.*addFile"):
        graphc.spark.predict_batch_udf(str(tmp_path / "nowhere.onnx"))
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07 this is not a model")
    with pytest.raises(graphc.ModelFormatError, match=r"broken\.onnx: cannot be loaded for batch inference"):
        graphc.spark.predict_batch_udf(str(bad))
    keras_bad = tmp_path / "broken.keras"
    keras_bad.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(graphc.spark.ModelFileError, match=r"broken\.keras"):
        graphc.spark.predict_batch_udf(str(keras_bad))
    with pytest.raises(graphc.spark.SparkError, match="batch_size must be a positive integer"):
        graphc.spark.predict_batch_udf(MLP, batch_size=0)
    with pytest.raises(graphc.BackendError, match="has no option"):
        graphc.spark.predict_batch_udf(MLP, no_such_option=1)
    assert job_group() == []


def test_without_pyspark_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # `import pyspark` now fails as if absent
    for call in (graphc.spark.session, lambda: graphc.spark.predict_batch_udf(MLP)):
        with pytest.raises(graphc.spark.SparkUnavailableError, match=r'pip install "graphc\[spark\]"'):
            call()
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(graphc.spark.SparkUnavailableError, match=r"needs pyarrow next to pyspark.*graphc\[spark\]"):
        graphc.spark.predict_batch_udf(MLP)


def test_the_runtime_alone_asks_for_the_facade_loader(monkeypatch):
    monkeypatch.setattr(inference, "_loader", None)  # as if graphc.spark (the facade) was never reached
    with pytest.raises(SparkError, match="call it as graphc.spark.predict_batch_udf, or pass load="):
        inference.predict_batch_udf(MLP)
    assert inference.predict_batch_udf(MLP, load=graphc.load).input_names == ["input_0"]
