"""A Spark job per iteration: the trainer's transport for the seed's full-batch step.

Each round broadcasts its payload (the flat parameters) once, runs the mode's work (work.py) over
the cached partitions with `mapPartitions`, and collects one `(index, meta, buffer)` per partition,
ordered by partition index. At one iteration per job over whole partitions, the job's ~110 ms is
small against the compute it carries; for mini-batches the socket loop (loop.py) spans many
iterations with one job. A failed task is retried by Spark inside `collect` (`spark.task.maxFailures`),
so the round's result is the fault-free one; a job that fails for good raises before any update.
"""
from __future__ import annotations

import numpy as np

from graphc.runtime.spark.errors import job_failed


def _job_task(work, header: dict, bc):
    def run(parts):
        return work(list(parts), header, bc.value)
    return run


class JobRounds:
    """`round(header, payload)` = one Spark job; same interface as `SocketLoop`."""

    def __init__(self, spark, parts, work):
        self.spark, self.parts, self.work = spark, parts, work
        self.bytes_out = self.bytes_in = 0
        self.hellos: list[dict] = []

    def open(self) -> "JobRounds":
        return self

    def round(self, header: dict, payload: np.ndarray, watch) -> list:
        with watch.phase("broadcast"):
            bc = self.spark.sparkContext.broadcast(payload)
        self.bytes_out += payload.nbytes
        try:
            out = self.parts.mapPartitions(_job_task(self.work, header, bc)).collect()
        except Exception as e:
            raise job_failed(e, f"iteration {header['iteration']}: the Spark job") from None
        finally:
            bc.unpersist()
        self.bytes_in += sum(buf.nbytes for _, _, buf in out)
        return sorted(out, key=lambda r: r[0])

    def close(self) -> None:
        pass
