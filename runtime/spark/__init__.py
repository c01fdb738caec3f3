"""graphc on Spark (public as `graphc.spark`; needs the `graphc[spark]` extra: pyspark 4, pyarrow, pandas).

- `session()` / `get_or_create()`: a quiet `local[*]` on loopback by default, or the session given
  or already active (under spark-submit: spark-submit's master) (session.py);
- `predict_batch_udf(model_path, ...)` and `predict(df, model_path, ...)`: batch inference with
  graphc's compiled executable on each executor (inference.py), columns mapped onto the model's
  inputs and outputs onto a return type (columns.py);
- `StandaloneCluster`: a real standalone master and workers on loopback, started and stopped
  by their PIDs, for tests and trials of `spark://` sessions and spark-submit (cluster.py);
- `SparkTrainer(model, mode="accumulate" | "average", ...)`: data-parallel training, gradients summed
  (or parameters and updater state averaged) on the driver in partition order (trainer.py); what
  the executors compute (work.py); a Spark job per iteration for the full-batch step (jobs.py),
  one job spanning all iterations on a loopback driver socket for mini-batches (loop.py);
  injected faults for the tests (faults.py);
- the errors, all `graphc.GraphcError`s (errors.py);
- the trainer's plumbing: a graph broadcast once with its session built once per executor process
  (shipping.py), parameters as one flat float32 buffer (params.py), per-iteration time/bytes
  records and an Amdahl-style summary (timing.py).

Nothing here imports pyspark until it is used, so a missing pyspark is a `SparkUnavailableError`
that says how to install it.
"""
from graphc.runtime.spark.cluster import StandaloneCluster  # noqa: F401
from graphc.runtime.spark.errors import (ColumnError, ModelFileError, SparkError,  # noqa: F401
                                         SparkUnavailableError)
from graphc.runtime.spark.inference import (PredictUDF, cache_info, predict, predict_batch_udf,  # noqa: F401
                                            use_loader)
from graphc.runtime.spark.session import get_or_create, quiet_conf, session  # noqa: F401
from graphc.runtime.spark.trainer import SparkTrainer  # noqa: F401


__all__ = ["session", "get_or_create", "quiet_conf", "predict_batch_udf", "predict", "PredictUDF",
           "cache_info", "use_loader", "SparkTrainer", "StandaloneCluster", "SparkError", "SparkUnavailableError",
           "ColumnError", "ModelFileError"]
