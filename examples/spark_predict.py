"""Batch inference on Spark with graphc: a model file applied to a DataFrame, one column per input.

    python examples/spark_predict.py --model examples/mobilenetv2.keras --rows 256
    spark-submit --master spark://HOST:7077 examples/spark_predict.py --model /shared/model.onnx

Run with python it starts a quiet local[*] session; under spark-submit it uses spark-submit's
master. The model file must be readable on every executor (a shared path), or shipped with
--ship, which hands it to SparkContext.addFile. Without --input, it makes --rows random rows
(seeded) for the model's inputs; with --input it reads a Parquet file whose columns are named
like the model's inputs. --output writes the predictions, ordered by row, to a .npy file (a model
with several outputs: an .npz, one array per output).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import graphc


def random_rows(udf, rows: int, seed: int) -> dict:
    """{input name: array (rows, *row shape)} of seeded random values of each input's dtype."""
    rng = np.random.default_rng(seed)
    out = {}
    for p in udf.inputs:
        shape = (rows, *p.row_shape)
        if p.dtype.kind == "f":
            out[p.name] = rng.standard_normal(shape).astype(p.dtype)
        else:
            out[p.name] = rng.integers(0, 10, size=shape).astype(p.dtype)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "mobilenetv2.keras"))
    ap.add_argument("--input", help="a Parquet file with a column per model input (default: random rows)")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--ship", action="store_true", help="ship the model file with SparkContext.addFile")
    ap.add_argument("--output", help="write the predictions to this .npy (.npz for several outputs)")
    args = ap.parse_args(argv)

    spark = graphc.spark.session(app_name="graphc-spark-predict")
    model = args.model
    if args.ship:
        spark.sparkContext.addFile(os.path.abspath(model))
        model = os.path.basename(model)  # found with SparkFiles.get where the path does not exist
    udf = graphc.spark.predict_batch_udf(model, batch_size=args.batch_size)

    if args.input:
        df = spark.read.parquet(args.input)
        if "id" not in df.columns:
            from pyspark.sql import functions as F

            df = df.withColumn("id", F.monotonically_increasing_id())
    else:
        from pyspark.sql import types as T

        data = random_rows(udf, args.rows, args.seed)
        schema = T.StructType([T.StructField("id", T.LongType())] + [
            T.StructField(n, T.ArrayType(T.FloatType() if a.dtype == np.float32 else T.DoubleType()
                                         if a.dtype.kind == "f" else T.LongType())) for n, a in data.items()])
        flat = [a.reshape(args.rows, -1) for a in data.values()]
        df = spark.createDataFrame([(i, *(f[i].tolist() for f in flat)) for i in range(args.rows)], schema)
    df = df.repartition(args.partitions)

    t0 = time.perf_counter()
    rows = udf.apply(df, output_col="prediction").select("id", "prediction").orderBy("id").collect()
    seconds = time.perf_counter() - t0
    print(f"{len(rows)} rows through {os.path.basename(args.model)} ({udf.input_names} -> {udf.output_names}) "
          f"on {spark.sparkContext.master} in {seconds:.2f} s")
    if args.output:
        if len(udf.outputs) == 1:
            np.save(args.output, np.array([r.prediction for r in rows]))
        else:
            np.savez(args.output, **{o.name: np.array([r.prediction[o.name] for r in rows]) for o in udf.outputs})
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
