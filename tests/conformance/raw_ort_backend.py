"""Raw ONNX Runtime as an ONNX backend: the peer graphc's conformance is measured against.

Run with `python -m pytest tests/conformance/test_raw_ort.py` (see docs/CONFORMANCE.md).
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx.backend.base import Backend, BackendRep


def as_feed(inputs, names: list[str]) -> dict:
    """The suite's inputs (a list in input order, a dict or one array) as {name: value}; numpy
    scalars become 0-d arrays, which onnxruntime accepts, and sequences pass through."""
    if isinstance(inputs, dict):
        feed = dict(inputs)
    elif isinstance(inputs, (list, tuple)):
        feed = dict(zip(names, inputs))
    else:
        feed = {names[0]: inputs}
    return {k: np.asarray(v) if isinstance(v, (np.generic, np.ndarray)) or np.isscalar(v) else v
            for k, v in feed.items()}


class RawOrtRep(BackendRep):
    def __init__(self, model: onnx.ModelProto):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model.SerializeToString(), opts,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def run(self, inputs, **kwargs):
        return self.session.run(None, as_feed(inputs, self.inputs))


class CpuModelBackend(Backend):
    """An ONNX backend that runs whole models on the CPU; subclasses say how with `make_rep`."""

    make_rep = None

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return device == "CPU"

    @classmethod
    def supports_device(cls, device):
        return device == "CPU"

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return cls.make_rep(model)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        raise NotImplementedError("the suite runs whole models through prepare()")


class RawOrtBackend(CpuModelBackend):
    make_rep = RawOrtRep
