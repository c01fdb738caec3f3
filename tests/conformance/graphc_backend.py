"""graphc as an ONNX backend: import -> IR -> verify() -> export -> ONNX Runtime.

Every model of ONNX's backend test suite goes the whole way through graphc, so a test passes
only if the IR holds the model faithfully and the exported model computes the same outputs.
"""
from __future__ import annotations

from onnx.backend.base import Backend, BackendRep

from graphc.importers.onnx import load
from graphc.lower.onnx import to_onnx
from graphc.runtime.ort import OrtExecutable
from tests.conformance.raw_ort_backend import as_feed


class GraphcRep(BackendRep):
    def __init__(self, model, opt_level: str):
        graph = load(model)
        graph.verify()
        if opt_level != "O0":
            from graphc.passes import optimize

            graph = optimize(graph, level=opt_level, verify=True)
        exported = to_onnx(graph)
        self.exe = OrtExecutable(exported, threads=1, label=graph.name)
        self.inputs = [s.name for s in self.exe.inputs]

    def run(self, inputs, **kwargs):
        return list(self.exe.run(as_feed(inputs, self.inputs)).values())


def make_backend(opt_level: str = "O0"):
    class GraphcBackend(Backend):
        @classmethod
        def is_compatible(cls, model, device="CPU", **kwargs):
            return device == "CPU"

        @classmethod
        def supports_device(cls, device):
            return device == "CPU"

        @classmethod
        def prepare(cls, model, device="CPU", **kwargs):
            super().prepare(model, device, **kwargs)
            return GraphcRep(model, opt_level)

        @classmethod
        def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
            raise NotImplementedError("the suite runs whole models through prepare()")

    GraphcBackend.__name__ = f"GraphcBackend{opt_level}"
    return GraphcBackend
