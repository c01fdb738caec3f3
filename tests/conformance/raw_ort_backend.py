"""Raw ONNX Runtime as an ONNX backend: the peer graphc's conformance is measured against.

Run with `python -m pytest tests/conformance/test_raw_ort.py` (see docs/CONFORMANCE.md).
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx.backend.base import Backend, BackendRep


class RawOrtRep(BackendRep):
    def __init__(self, model: onnx.ModelProto):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model.SerializeToString(), opts,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            feed = {k: np.asarray(v) for k, v in inputs.items()}
        elif isinstance(inputs, (list, tuple)):
            feed = {k: np.asarray(v) for k, v in zip(self.inputs, inputs)}
        else:
            feed = {self.inputs[0]: np.asarray(inputs)}
        return self.session.run(None, feed)


class RawOrtBackend(Backend):
    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return device == "CPU"

    @classmethod
    def supports_device(cls, device):
        return device == "CPU"

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return RawOrtRep(model)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        raise NotImplementedError
