"""Conv/Gemm/Add + activation -> graphc fused ops."""
from __future__ import annotations

import numpy as np

from graphc.ir import GRAPHC_DOMAIN, Graph
from graphc.ops.fused import ACTIVATIONS, GEMM_ACTIVATIONS
from graphc.passes.base import NodeRewrite
from graphc.passes.predicates import const_input, is_op, movable, producer, sole_consumer, tensor_type

_BASE = {"Conv": ("FusedConv", tuple(ACTIVATIONS)), "Gemm": ("FusedGemm", GEMM_ACTIVATIONS),
         "Add": ("FusedAdd", tuple(ACTIVATIONS))}


class ActivationFusion(NodeRewrite):
    """Conv, Gemm or Add whose only reader is an activation -> graphc.FusedConv / FusedGemm /
    FusedAdd carrying `activation` and `activation_params`. Activations: Relu, Tanh, Sigmoid,
    LeakyRelu(alpha), HardSigmoid(alpha, beta), and Clip with constant scalar bounds (missing
    bounds become -inf/inf) for Conv and Add; FusedGemm takes all but Clip.

    Left alone: float dtypes other than float32 (ONNX Runtime's fused kernels are float32),
    Clip with non-constant bounds, a producer with other readers or that is a graph output,
    graphs below opset 13 (Clip's bounds were attributes).
    """

    name = "activation-fusion"
    ops = tuple(ACTIVATIONS)
    min_opset = 13

    def rewrite(self, g: Graph, act: str) -> int:
        x = g.input_values(act)[0]
        base = x[0]
        if sole_consumer(g, x) is None or not is_op(g, base, *_BASE) or not movable(g, base):
            return 0
        fused, allowed = _BASE[g.op(base)]
        t = tensor_type(g, (act, 0))
        if g.op(act) not in allowed or t is None or t.dtype != np.float32:
            return 0
        params = _params(g, act)
        if params is None:
            return 0
        attrs = dict(g.attrs(base), activation=g.op(act), activation_params=params)
        node = g.add_node(fused, g.input_values(base), attrs, outputs=[g.type_of((act, 0))], domain=GRAPHC_DOMAIN,
                          name=f"{base}_fused", names=list(g.data(act)["names"]))
        g.replace_uses((act, 0), (node, 0))
        g.remove_node(act)
        g.remove_node(base)
        return 1


def _params(g: Graph, act: str) -> list[float] | None:
    a = g.attrs(act)
    op = g.op(act)
    if op == "LeakyRelu":
        return [float(a.get("alpha", 0.01))]
    if op == "HardSigmoid":
        return [float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))]
    if op == "Clip":
        bounds = []
        for port, default in ((1, -np.inf), (2, np.inf)):
            if producer(g, act, port) is None:
                bounds.append(default)
                continue
            v = const_input(g, act, port)
            if v is None or v.size != 1:
                return None
            bounds.append(float(v.reshape(-1)[0]))
        return bounds
    return []
