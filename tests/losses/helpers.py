"""Build a graph with Inputs for labels, predictions (and weights/mask), emit a loss, run it on ONNX Runtime."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.nn.base import Emitter
from graphc.types import TensorType


def _symbolic(shape):
    return ("batch",) + tuple(shape[1:]) if shape else ()


def run_loss(loss, y_true, y_pred, sample_weight=None, mask=None, class_weight=None, symbolic=True):
    g = Graph("loss")
    feeds, values = {}, {}
    for name, arr in (("y_true", y_true), ("y_pred", y_pred), ("sample_weight", sample_weight), ("mask", mask)):
        if arr is None:
            continue
        arr = np.asarray(arr)
        values[name] = g.add_input(name, TensorType(arr.dtype, _symbolic(arr.shape) if symbolic else arr.shape))
        feeds[name] = arr
    em = Emitter(g)
    out = loss(em, values["y_true"], values["y_pred"], sample_weight=values.get("sample_weight"),
               mask=values.get("mask"), class_weight=class_weight)
    g.add_output("loss", out)
    g.verify()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0], g
