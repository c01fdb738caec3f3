"""graphc as an ONNX backend: import -> IR -> verify() -> export -> ONNX Runtime.

Every model of ONNX's backend test suite goes the whole way through graphc, so a test passes
only if the IR holds the model faithfully and the exported model computes the same outputs.
"""
from __future__ import annotations

from onnx.backend.base import BackendRep

from graphc.importers.onnx import load
from graphc.lower.onnx import to_onnx
from graphc.runtime.ort import OrtExecutable
from tests.conformance.raw_ort_backend import CpuModelBackend, as_feed


class GraphcRep(BackendRep):
    def __init__(self, model, opt_level: str):
        graph = load(model)
        graph.verify()
        if opt_level != "O0":
            from graphc.passes import optimize

            graph = optimize(graph, level=opt_level, verify=True)
        exported = to_onnx(graph)
        self.exe = OrtExecutable(exported, threads=1, label=graph.name)
        self.inputs = self.exe.input_names

    def run(self, inputs, **kwargs):
        return list(self.exe.run(as_feed(inputs, self.inputs)).values())


def make_backend(opt_level: str = "O0"):
    """A backend class running the suite through graphc at pass pipeline `opt_level`."""
    return type(f"GraphcBackend{opt_level}", (CpuModelBackend,),
                {"make_rep": staticmethod(lambda model: GraphcRep(model, opt_level))})
