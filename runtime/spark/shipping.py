"""A graph shipped to the executors once, and its ONNX Runtime session built once per executor
process: the plumbing the Spark trainer will use for its gradient graph (issue 11, item 4).

`ship_graph(spark, graph)` exports the graph to ONNX bytes on the driver and broadcasts them (Spark
sends a broadcast to each executor once, however many tasks and jobs read it). The returned
`ShippedGraph` is small and pickles into task closures; on an executor `executable()` builds an
`OrtExecutable` from the bytes the first time and returns the same one to every later task and
iteration in that Python worker (keyed by the bytes' SHA-256 and the session options).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from graphc.model import graph_of

_sessions: dict = {}  # (sha256, options) -> OrtExecutable, per process
_builds: dict[str, int] = {}  # sha256 -> how many sessions this process built for it


@dataclass(frozen=True)
class ShippedGraph:
    """A broadcast ONNX graph: `executable()` on an executor gives its cached session."""

    broadcast: object  # pyspark Broadcast of the model bytes
    sha256: str
    nbytes: int
    input_types: dict
    output_types: dict
    threads: int = 1
    ort_level: str = "all"

    def executable(self):
        key = (self.sha256, self.threads, self.ort_level)
        exe = _sessions.get(key)
        if exe is None:
            import onnx

            from graphc.runtime.ort import OrtExecutable

            exe = OrtExecutable(onnx.load_from_string(self.broadcast.value), threads=self.threads,
                                ort_level=self.ort_level, input_types=self.input_types,
                                output_types=self.output_types, label=f"shipped graph {self.sha256[:12]}")
            _sessions[key] = exe
            _builds[self.sha256] = _builds.get(self.sha256, 0) + 1
        return exe

    def unpersist(self) -> None:
        """Drop the executors' copies of the bytes (their sessions stay until the process ends)."""
        self.broadcast.unpersist()


def ship_graph(spark, graph, *, threads: int = 1, ort_level: str = "all", portable: bool = True) -> ShippedGraph:
    """Broadcast `graph` (a Graph or model, e.g. the gradient graph) as ONNX bytes, once."""
    from graphc.lower.onnx import to_onnx

    g = graph_of(graph)
    data = to_onnx(g, portable=portable).SerializeToString()
    return ShippedGraph(spark.sparkContext.broadcast(data), hashlib.sha256(data).hexdigest(), len(data),
                        {n: g.type_of((n, 0)) for n in g.inputs}, {n: g.type_of(v) for n, v in g.outputs},
                        threads, ort_level)


def session_info() -> dict:
    """This process's shipped-graph sessions: its pid and {sha256: sessions built}."""
    return {"pid": os.getpid(), "builds": dict(_builds)}
