"""The pass manager: runs a pipeline of passes to a fixed point and keeps per-pass statistics."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from graphc.errors import GraphcError
from graphc.ir import Graph
from graphc.passes.base import Pass


@dataclass
class PassRecord:
    name: str
    runs: int = 0
    rewrites: int = 0
    nodes_before: int = 0  # at the pass's first run
    nodes_after: int = 0  # after its last run
    removed: int = 0  # nodes this pass took out, summed over its runs (net per run)
    added: int = 0  # nodes it put in (a rewrite that grows the graph, e.g. a split)
    seconds: float = 0.0


@dataclass
class PassStats:
    """Per-pass statistics of one `optimize` call; `str()` gives a table."""

    level: str = ""
    rounds: int = 0
    records: dict[str, PassRecord] = field(default_factory=dict)
    nodes_start: int = 0  # before the first pass ran
    nodes_end: int = 0  # after the last

    def record(self, name: str, before: int, after: int, rewrites: int, seconds: float) -> None:
        r = self.records.get(name)
        if not self.records:
            self.nodes_start = before
        self.nodes_end = after
        if r is None:
            r = self.records[name] = PassRecord(name, nodes_before=before)
        r.runs += 1
        r.rewrites += rewrites
        r.nodes_after = after
        r.removed += max(before - after, 0)
        r.added += max(after - before, 0)
        r.seconds += seconds

    @property
    def total_rewrites(self) -> int:
        return sum(r.rewrites for r in self.records.values())

    @property
    def total_seconds(self) -> float:
        return sum(r.seconds for r in self.records.values())

    def __str__(self) -> str:
        # per pass, what it changed itself (summed over its runs): the graph's size after a pass
        # is the same for every pass once the pipeline's last round has run
        head = f"{'pass':<36}{'runs':>5}{'rewrites':>10}{'nodes removed':>15}{'nodes added':>13}{'time (s)':>10}"
        lines = [f"pipeline {self.level}: {self.rounds} round(s), {self.nodes_start} -> {self.nodes_end} nodes",
                 head, "-" * len(head)]
        for r in self.records.values():
            lines.append(f"{r.name:<36}{r.runs:>5}{r.rewrites:>10}{r.removed:>15}{r.added:>13}{r.seconds:>10.3f}")
        lines.append(f"{'total':<36}{'':>5}{self.total_rewrites:>10}{sum(r.removed for r in self.records.values()):>15}"
                     f"{sum(r.added for r in self.records.values()):>13}{self.total_seconds:>10.3f}")
        return "\n".join(lines)


class PassManager:
    """Runs `passes` in order, round after round, until every pass has run once since the last
    rewrite (a fixed point: each pass is idempotent there) or `max_rounds` rounds have started.

    With `verify=True` the graph's invariants are checked after every pass, and a failure names
    the pass that broke them."""

    def __init__(self, passes: list[Pass], *, max_rounds: int = 8, verify: bool = False, name: str = ""):
        self.passes = list(passes)
        self.max_rounds = max_rounds
        self.verify = verify
        self.name = name

    def run(self, graph: Graph, stats: PassStats | None = None) -> PassStats:
        stats = stats if stats is not None else PassStats()
        stats.level = stats.level or self.name
        clean = 0  # passes run in a row without a rewrite; the fixed point is reached at len(passes)
        while clean < len(self.passes) and stats.rounds < self.max_rounds:
            stats.rounds += 1
            for p in self.passes:
                before = len(graph)
                t0 = time.perf_counter()
                n = p.run(graph)
                stats.record(p.name, before, len(graph), n, time.perf_counter() - t0)
                clean = 0 if n else clean + 1
                if self.verify:
                    try:
                        graph.verify()
                    except GraphcError as e:
                        raise type(e)(f"after pass {p.name!r}: {e}") from e
                if clean == len(self.passes):
                    break
        return stats
