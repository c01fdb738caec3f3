"""A Spark job per iteration: the trainer's transport for the seed's full-batch step.

Each round broadcasts its payload (the flat parameters) once and runs the mode's work (work.py)
over the cached partitions with `mapPartitions`. At one iteration per job over whole partitions,
the job's ~110 ms is small against the compute it carries; for mini-batches the socket loop
(loop.py) spans many iterations with one job. A failed task is retried by Spark
(`spark.task.maxFailures`), so the round's result is the fault-free one; a job that fails for good
raises before any update.

Accumulate mode adds the partitions' gradients on the executors in a tree (`tree=True`), as
`treeAggregate` does, but in a FIXED order, which Spark's own `treeAggregate`/`treeReduce` do
not promise (they merge a shuffle's values in the order they arrive): level d adds, for each k,
the sums of partitions [2k*2^(d-1), (2k+1)*2^(d-1)) and [(2k+1)*2^(d-1), (2k+2)*2^(d-1)), keyed
by `index >> d`, so every add has exactly two operands, and float addition is commutative (only
its association changes bits, and the tree fixes that): the sum of partitions 0..3 is always
(g0 + g1) + (g2 + g3), whichever task ends first. Up to 3 partitions this is the left-to-right
sum the socket loop's driver computes, bit for bit. The driver receives one buffer. Average mode
collects every partition's parameters: their weights n/N are applied before adding, on the driver.
"""
from __future__ import annotations

import numpy as np

from graphc.runtime.spark.errors import job_failed


def _job_task(work, header: dict, bc):
    def run(parts):
        return work(list(parts), header, bc.value)
    return run


def _leaf(result):
    index, meta, buf = result
    return index, (index, {**meta, "compute": [meta["compute"]]}, buf)


def _pair(a, b):
    """Two neighbouring partial sums: exactly two operands, so a + b is the same bits whichever
    Spark hands first; the metadata follows the partition order."""
    (ia, ma, ba), (ib, mb, bb) = (a, b) if a[0] < b[0] else (b, a)
    return ia, {"n": ma["n"] + mb["n"], "loss": ma["loss"] + mb["loss"], "compute": ma["compute"] + mb["compute"]}, \
        ba + bb


def tree_sum(results, partitions: int) -> list:
    """[(lowest index, meta with the partitions' compute times as a list, summed buffer)] (none when
    no partition had samples), added pairwise by partition index on the executors."""
    level, width, depth = results.map(_leaf), partitions, 0
    while width > 1:
        depth += 1
        width = -(-width // 2)
        level = level.map(lambda kv, d=depth: (kv[1][0] >> d, kv[1])).reduceByKey(_pair, numPartitions=width)
    return level.values().collect()


class JobRounds:
    """`round(header, payload)` = one Spark job; same interface as `SocketLoop`. `tree`: sum the
    results on the executors (accumulate), else collect them all (average)."""

    def __init__(self, spark, parts, work, tree: bool = False):
        self.spark, self.parts, self.work, self.tree = spark, parts, work, tree
        self.bytes_out = self.bytes_in = 0
        self.hellos: list[dict] = []

    def open(self) -> "JobRounds":
        return self

    def round(self, header: dict, payload: np.ndarray, watch) -> list:
        with watch.phase("broadcast"):
            bc = self.spark.sparkContext.broadcast(payload)
        self.bytes_out += payload.nbytes
        try:
            results = self.parts.mapPartitions(_job_task(self.work, header, bc))
            out = tree_sum(results, self.parts.getNumPartitions()) if self.tree else results.collect()
        except Exception as e:
            raise job_failed(e, f"iteration {header['iteration']}: the Spark job") from None
        finally:
            bc.unpersist()
        self.bytes_in += sum(buf.nbytes for _, _, buf in out)
        return sorted(out, key=lambda r: r[0])

    def close(self) -> None:
        pass
