"""Train the digits CNN (examples/train_digits.py's network, scikit-learn's digits: nothing is
downloaded) data-parallel on Spark with graphc's SparkTrainer, then print the test accuracy and
where the time went.

    python examples/spark_train.py                            # local[*], gradient accumulation
    python examples/spark_train.py --mode average --averaging-frequency 4
    spark-submit --master spark://HOST:7077 examples/spark_train.py --epochs 5

Run with python it starts a quiet local[*] session; under spark-submit it uses spark-submit's
master. The training set is split into --partitions partitions of (x, y) batches, cached on the
executors; each iteration every partition works on --batch-size samples. --output writes the
trained weights (an .npz, one array per weight, in the model's order).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time

import numpy as np

import graphc
from graphc import optimizers


def _digits():
    """examples/train_digits.py as a module (its build_model and split), wherever this runs from."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_digits.py")
    spec = importlib.util.spec_from_file_location("train_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["accumulate", "average"], default="accumulate")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32, help="samples per partition per step")
    ap.add_argument("--averaging-frequency", type=int, default=2, help="average mode: local steps a round")
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--learning-rate", type=float, default=0.003)
    ap.add_argument("--output", help="write the trained weights to this .npz")
    args = ap.parse_args(argv)

    digits = _digits()
    (x, y), (xt, yt), _, _ = digits.split()
    model = digits.build_model()
    model.compile(optimizer=optimizers.Adam(learning_rate=args.learning_rate), loss="categorical_crossentropy")

    from pyspark.sql import SparkSession

    owned = SparkSession.getActiveSession() is None  # a session the caller holds stays up
    spark = graphc.spark.session(app_name="graphc-spark-train")
    chunks = np.array_split(np.arange(len(x)), args.partitions)  # one (x, y) batch per partition
    rdd = spark.sparkContext.parallelize([(x[c], y[c]) for c in chunks], args.partitions)
    trainer = graphc.spark.SparkTrainer(model, mode=args.mode, spark=spark, batch_size_per_worker=args.batch_size,
                                        averaging_frequency=args.averaging_frequency)
    t0 = time.perf_counter()
    history = trainer.fit(rdd, epochs=args.epochs, verbose=1)
    seconds = time.perf_counter() - t0

    accuracy = float(np.mean(np.argmax(model.predict(xt), -1) == np.argmax(yt, -1)))
    print(f"test accuracy {accuracy:.4f} after {args.epochs} epochs ({args.mode}, {args.partitions} partitions "
          f"x {args.batch_size} samples a step) in {seconds:.1f} s on {spark.sparkContext.master}")
    print(history.summary())
    if args.output:
        np.savez(args.output, *model.get_weights())
    if owned:
        spark.stop()
    return accuracy


if __name__ == "__main__":
    main()
