"""The errors of `graphc.spark`, and the one place that imports pyspark for the rest of it.

Each is raised on the driver before a job starts where the fault can be seen there (a missing
pyspark, columns that do not fit the model, a model file that does not load); what only an
executor can see (a file missing on its host, a row of the wrong length) is raised there in the
same words, and Spark carries it back inside its own exception.
"""
from __future__ import annotations

import re

from graphc.errors import GraphcError, InputError, ModelFormatError

INSTALL = 'pip install "graphc[spark]"'


class SparkError(GraphcError):
    """A Spark session, cluster or job that graphc cannot set up as asked."""


class SparkUnavailableError(SparkError):
    """pyspark (or the pandas/pyarrow that batch inference needs) is not installed."""


class ColumnError(SparkError, InputError):
    """DataFrame columns that do not fit the model's inputs: count, names, types, element counts."""


class ModelFileError(SparkError, ModelFormatError):
    """A model file that an executor (or the driver) cannot find or read."""


def job_failed(e: BaseException, what: str) -> SparkError:
    """The error for a training job that failed for good: Spark's reason, and what the model holds."""
    lines = [ln.strip() for ln in str(e).strip().splitlines()]
    # a Python traceback's last line ("module.Name: message") says most; else Spark's first line
    raised = [ln for ln in lines if re.match(r"[\w.]+: \S", ln) and not ln.startswith(("at ", "org.apache", "java."))]
    reason = raised[-1] if raised else (lines[0] if lines else type(e).__name__)
    return SparkError(f"{what} failed ({reason.strip()[:400]}); the model keeps the parameters of the last complete "
                      f"iteration. Spark retries a failed task up to spark.task.maxFailures times (in local mode: a "
                      f"master like local[2,4])")


def require_pyspark(what: str = "graphc.spark"):
    """The pyspark package, or SparkUnavailableError saying how to install it."""
    try:
        import pyspark
    except ImportError as e:
        raise SparkUnavailableError(f"{what} needs pyspark, which is not installed ({e}); install it with "
                                    f"{INSTALL} (pyspark 4, pyarrow, pandas; Spark needs Java 17 or newer)") from None
    return pyspark


def require_inference_deps(what: str = "graphc.spark.predict_batch_udf") -> None:
    """pyspark plus the pandas and pyarrow that pandas UDFs move batches with."""
    require_pyspark(what)
    missing = []
    for name in ("pandas", "pyarrow"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SparkUnavailableError(f"{what} needs {' and '.join(missing)} next to pyspark (pandas UDFs move "
                                    f"batches with them); install them with {INSTALL}")
