"""Where the time of a distributed iteration goes: per-iteration records and an Amdahl-style
summary, the plumbing the Spark trainer will fill (issue 11, item 5).

An `IterationRecord` holds the wall time of one iteration on the driver, the compute seconds each
worker reported, the driver's own phases (serialize, broadcast, aggregate, update: whatever the
caller timed with `Stopwatch`) and the bytes moved. What is neither compute nor a timed phase is
`other` (Spark's scheduling, task launch, waiting for the slowest worker's result).

`summary(records)` says, over the records: the share of each part, the speed-up reached against
one process doing the same compute (sum of worker compute / wall), and Amdahl's bound for the
same work with the serial part as measured, naming the serial part that limits it most.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

PHASES = ("serialize", "broadcast", "aggregate", "update")


@dataclass
class IterationRecord:
    iteration: int
    wall: float = 0.0
    compute: list[float] = field(default_factory=list)  # seconds, one per worker contribution
    phases: dict[str, float] = field(default_factory=dict)  # driver-side seconds by phase name
    bytes_out: int = 0  # driver -> workers (broadcasts)
    bytes_in: int = 0  # workers -> driver (results)

    @property
    def critical_compute(self) -> float:
        """The slowest worker's compute: the part of the wall time the workers spend in parallel."""
        return max(self.compute, default=0.0)

    @property
    def other(self) -> float:
        return max(0.0, self.wall - self.critical_compute - sum(self.phases.values()))


class Stopwatch:
    """Times named phases into a record: `with watch.phase("broadcast"): ...`."""

    def __init__(self, record: IterationRecord):
        self.record = record

    @contextmanager
    def phase(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.record.phases[name] = self.record.phases.get(name, 0.0) + time.perf_counter() - t0


def summary(records: list[IterationRecord], workers: int | None = None) -> str:
    """One screen: the parts of the wall time, bytes per iteration, speed-up reached and Amdahl's
    bound on `workers` workers (default: the contributions per iteration)."""
    if not records:
        return "no iterations recorded"
    n = len(records)
    wall = sum(r.wall for r in records)
    compute = sum(r.critical_compute for r in records)
    total_compute = sum(sum(r.compute) for r in records)
    parts = {"compute (slowest worker)": compute}
    names = sorted({p for r in records for p in r.phases}, key=lambda p: (PHASES.index(p) if p in PHASES else 99, p))
    for p in names:
        parts[p] = sum(r.phases.get(p, 0.0) for r in records)
    parts["other (scheduling, waiting)"] = sum(r.other for r in records)
    workers = workers or max(len(r.compute) for r in records) or 1
    serial = wall - compute
    lines = [f"{n} iterations, {wall:.3f} s wall ({1e3 * wall / n:.2f} ms each), {workers} workers"]
    for name, seconds in parts.items():
        share = 100 * seconds / wall if wall else 0.0
        lines.append(f"  {name:<28} {seconds:9.3f} s  {share:5.1f} %")
    lines.append(f"  bytes a iteration: {sum(r.bytes_out for r in records) / n:,.0f} out, "
                 f"{sum(r.bytes_in for r in records) / n:,.0f} in")
    reached = total_compute / wall if wall else 0.0
    bound = total_compute / (serial + total_compute / workers) if total_compute else 0.0
    lines.append(f"  speed-up against one process doing the same compute: {reached:.2f}x of {workers}")
    serial_parts = {k: v for k, v in parts.items() if not k.startswith("compute")}
    limit = max(serial_parts, key=serial_parts.get)
    lines.append(f"  Amdahl: with {serial:.3f} s serial ({100 * serial / wall if wall else 0:.1f} % of the wall) "
                 f"the bound on {workers} workers is {bound:.2f}x; the largest serial part is {limit}")
    return "\n".join(lines)
