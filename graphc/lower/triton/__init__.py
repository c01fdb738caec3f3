"""Lowering to Triton: partition a graph into kernels, write them as one readable Python module.

The split follows TorchInductor's: `lowering.py` is the table of how each op lowers (pointwise
expression, injective index arithmetic, reduction, matmul template; everything else a torch
fallback from `fallback.py`), `schedule.py` groups nodes into kernels, `codegen.py` writes the
module, `specialize.py` gives symbolic dims their run-time sizes, and `cache.py` keeps the
modules on disk by a hash of the graph, its shapes and dtypes. Running the module is
`graphc.runtime.triton`'s job: nothing here imports triton or torch.
"""
from __future__ import annotations

from dataclasses import dataclass

from graphc.lower.triton.cache import graph_key
from graphc.lower.triton.codegen import emit_module
from graphc.lower.triton.schedule import Schedule, schedule
from graphc.lower.triton.specialize import specialize


@dataclass
class Program:
    """One specialization: the module's source, the weights it reads, and how it was cut."""

    key: str
    source: str
    weights: list
    schedule: Schedule
    graph: object  # the specialized graph it was written for

    @property
    def kernel_count(self) -> int:
        return len(self.schedule.kernels)

    @property
    def fallbacks(self) -> list:
        return list(self.schedule.fallbacks)


def lower(graph, *, interpret: bool, sizes: dict | None = None, kernels: bool = True,
          autotune: bool | None = None) -> tuple[Program, object]:
    """(the program for `graph` at `sizes` (symbol -> size), the specialized graph it was written for);
    `kernels=False` writes every node as a torch call instead (the torch peer of a benchmark);
    `autotune` (default: on a GPU, not under the interpreter) lets triton pick the templates' blocks."""
    autotune = (not interpret) if autotune is None else bool(autotune)
    g = specialize(graph, sizes or {})
    sched = schedule(g, kernels=kernels)
    source, weights = emit_module(g, sched, interpret=interpret, autotune=autotune)
    key = (graph_key(g, interpret) + ("_tuned" if autotune else "")) if kernels else "torch_" + graph_key(g, False)
    return Program(key, source, weights, sched, g), g


__all__ = ["Program", "lower", "schedule", "specialize", "emit_module", "graph_key"]
