"""The gradient graph of a small MLP and a small CNN against PyTorch autograd with the same weights
and batch (float32, ONNX Runtime): categorical cross-entropy over LogSoftmax."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F

from graphc.autodiff import gradient_graph
from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.types import TensorType

F32 = np.float32
RNG = np.random.default_rng(0)


def _cross_entropy(g: Graph, logits, labels):
    """mean over the batch of -sum(labels * log_softmax(logits))."""
    logp = (g.add_node("LogSoftmax", [logits], {"axis": 1}), 0)
    picked = (g.add_node("ReduceSum", [(g.add_node("Mul", [logp, labels]), 0), g.add_constant(np.array([1]))],
                         {"keepdims": 0}), 0)
    return (g.add_node("Neg", [(g.add_node("ReduceMean", [picked], {"keepdims": 0}), 0)], name="loss"), 0)


def _run(gg: Graph, feeds):
    sess = ort.InferenceSession(to_onnx(gg).SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([n for n, _ in gg.outputs], sess.run(None, feeds)))


def _weights(**shapes):
    return {k: (RNG.standard_normal(s) * 0.5).astype(F32) for k, s in shapes.items()}


def _compare(got, loss, params):
    loss.backward()
    np.testing.assert_allclose(got["loss"], loss.item(), rtol=1e-5)
    for name, t in params.items():
        np.testing.assert_allclose(got[f"grad/{name}"], t.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_mlp_matches_torch_autograd():
    w = _weights(w1=(6, 8), b1=(8,), w2=(8, 8), b2=(8,), w3=(8, 3), b3=(3,))
    x = RNG.standard_normal((5, 6)).astype(F32)
    labels = np.eye(3, dtype=F32)[RNG.integers(0, 3, 5)]
    g = Graph("mlp")
    h = g.add_input("x", TensorType(F32, ("batch", 6)))
    y = g.add_input("labels", TensorType(F32, ("batch", 3)))
    v = {k: g.add_variable(a, k) for k, a in w.items()}
    for i, act in ((1, "Relu"), (2, "Tanh"), (3, None)):
        h = (g.add_node("Add", [(g.add_node("MatMul", [h, v[f"w{i}"]]), 0), v[f"b{i}"]]), 0)
        h = (g.add_node(act, [h]), 0) if act else h
    loss = _cross_entropy(g, h, y)
    got = _run(gradient_graph(g, loss), {"x": x, "labels": labels})

    p = {k: torch.tensor(a, requires_grad=True) for k, a in w.items()}
    t = torch.relu(torch.tensor(x) @ p["w1"] + p["b1"])
    t = torch.tanh(t @ p["w2"] + p["b2"])
    t = t @ p["w3"] + p["b3"]
    _compare(got, -(F.log_softmax(t, 1) * torch.tensor(labels)).sum(1).mean(), p)


def test_cnn_matches_torch_autograd():
    w = _weights(k1=(4, 2, 3, 3), c1=(4,), k2=(6, 2, 3, 3), c2=(6,), wd=(6 * 2 * 2, 3), bd=(3,))
    x = RNG.standard_normal((3, 2, 9, 9)).astype(F32)
    labels = np.eye(3, dtype=F32)[RNG.integers(0, 3, 3)]
    g = Graph("cnn")
    h = g.add_input("x", TensorType(F32, ("batch", 2, 9, 9)))
    y = g.add_input("labels", TensorType(F32, ("batch", 3)))
    v = {k: g.add_variable(a, k) for k, a in w.items()}
    h = (g.add_node("Conv", [h, v["k1"], v["c1"]], {"pads": [1, 1, 1, 1]}), 0)
    h = (g.add_node("Relu", [h]), 0)
    h = (g.add_node("MaxPool", [h], {"kernel_shape": [2, 2], "strides": [2, 2]}), 0)  # 4x4
    h = (g.add_node("Conv", [h, v["k2"], v["c2"]], {"group": 2, "strides": [2, 2], "pads": [1, 1, 1, 1]}), 0)
    h = (g.add_node("Relu", [h]), 0)  # 6 x 2 x 2
    h = (g.add_node("AveragePool", [h], {"kernel_shape": [1, 1]}), 0)
    h = (g.add_node("Flatten", [h], {"axis": 1}), 0)
    h = (g.add_node("Gemm", [h, v["wd"], v["bd"]]), 0)
    loss = _cross_entropy(g, h, y)
    got = _run(gradient_graph(g, loss), {"x": x, "labels": labels})

    p = {k: torch.tensor(a, requires_grad=True) for k, a in w.items()}
    t = F.relu(F.conv2d(torch.tensor(x), p["k1"], p["c1"], padding=1))
    t = F.max_pool2d(t, 2)
    t = F.relu(F.conv2d(t, p["k2"], p["c2"], stride=2, padding=1, groups=2))
    t = t.flatten(1) @ p["wd"] + p["bd"]
    _compare(got, -(F.log_softmax(t, 1) * torch.tensor(labels)).sum(1).mean(), p)
