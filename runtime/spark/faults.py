"""Injected faults for proving that training on Spark survives them (issue 11: a failed task
attempt, a killed Python worker). `SparkTrainer(fault=FailOnce(...))` calls the object on the
executor before each partition's work of each iteration.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from graphc.runtime.spark.errors import SparkError

KINDS = ("raise", "kill")


class InjectedFault(RuntimeError):
    """The failure `FailOnce(kind="raise")` raises inside a task."""


@dataclass(frozen=True)
class FailOnce:
    """Fail the FIRST attempt of the task that reaches `partition` at `iteration`: `kind="raise"`
    raises in the task, `kind="kill"` kills the task's Python worker (SIGKILL to its own process).
    Spark's retry (attempt 1 or later) passes; `always=True` fails every attempt (a job that
    fails for good). `record`: a file path to append one line to at each injected failure (the
    proof that it happened; local and single-machine clusters only)."""

    iteration: int
    partition: int
    kind: str = "raise"
    always: bool = False
    record: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise SparkError(f"FailOnce kind {self.kind!r}: choose one of {KINDS}")

    def __call__(self, iteration: int, partition: int, attempt: int) -> None:
        if iteration != self.iteration or partition != self.partition or (attempt > 0 and not self.always):
            return
        if self.record is not None:
            with open(self.record, "a") as f:
                f.write(f"{self.kind} iteration {iteration} partition {partition} attempt {attempt}\n")
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise InjectedFault(f"injected failure: iteration {iteration}, partition {partition}, attempt {attempt}")
