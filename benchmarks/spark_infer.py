"""Spark batch inference (graphc.spark.predict_batch_udf) against the same model in one process.

    python benchmarks/spark_infer.py [--rows 512] [--partitions 2] [--batch-size 32] [--repeat 3]

For each model: a cached DataFrame of `--rows` random rows on `local[2]` (2 executor slots, one
ONNX Runtime thread a task), the first job (each Python worker loads and compiles the file) and
the median of `--repeat` warm jobs, next to graphc's compiled executable in this process over the
same rows in the same batches at 1 and 2 threads. Spark's numbers include moving rows through
Arrow to the workers and back; the driver, the JVM and the workers share the machine's cores.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import graphc

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"mobilenetv2 (96x96x3)": ROOT / "examples" / "mobilenetv2.keras",
          "torch_mlp (784)": ROOT / "tests" / "fixtures" / "onnx" / "torch_mlp.onnx"}


def in_process(path, x, batch_size: int, threads: int, repeat: int) -> float:
    exe = graphc.compile(graphc.load(path), threads=threads)
    exe(x[:batch_size])
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for i in range(0, len(x), batch_size):
            exe(x[i:i + batch_size])
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def on_spark(spark, path, x, partitions: int, batch_size: int, repeat: int) -> tuple[float, float]:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    flat = x.reshape(len(x), -1)
    schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("x", T.ArrayType(T.FloatType()))])
    df = spark.createDataFrame([(i, flat[i].tolist()) for i in range(len(x))], schema).repartition(partitions).cache()
    df.count()
    udf = graphc.spark.predict_batch_udf(str(path), batch_size=batch_size)
    job = df.select(udf("x").alias("p")).agg(F.count("p"))  # every row predicted, one number back

    def timed() -> float:
        t0 = time.perf_counter()
        assert job.first()[0] == len(x)
        return time.perf_counter() - t0

    first = timed()
    warm = statistics.median(timed() for _ in range(repeat))
    df.unpersist()
    return first, warm


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    spark = graphc.spark.session(master="local[2]", app_name="graphc-bench-spark-infer")
    print(f"{args.rows} rows, {args.partitions} partitions, batch {args.batch_size}; rows/s (seconds)")
    print("| model | Spark local[2], first job | Spark local[2], warm | in process, 1 thread | in process, 2 threads |")
    print("|---|---|---|---|---|")
    for name, path in MODELS.items():
        model = graphc.load(path)
        (inp, t), = model.input_types().items()
        x = np.random.default_rng(0).standard_normal((args.rows, *t.shape[1:])).astype(np.float32)
        first, warm = on_spark(spark, path, x, args.partitions, args.batch_size, args.repeat)
        one = in_process(path, x, args.batch_size, 1, args.repeat)
        two = in_process(path, x, args.batch_size, 2, args.repeat)
        cells = [f"{args.rows / s:,.0f} ({s:.2f} s)" for s in (first, warm, one, two)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    spark.stop()


if __name__ == "__main__":
    main()
