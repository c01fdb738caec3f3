"""graphc-domain fused ops made by the fusion passes (their ONNX forms: graphc/lower/onnx_forms.py).

- `FusedConv(X, W, B?)`: Conv's attributes plus `activation` and `activation_params`;
- `FusedGemm(A, B, C?)`: Gemm's attributes plus `activation` and `activation_params`;
- `FusedAdd(A, B)`: an Add followed by `activation`.

`activation` is one of `ACTIVATIONS` (name -> number of params: LeakyRelu [alpha],
HardSigmoid [alpha, beta], Clip [min, max]).
"""
from __future__ import annotations

from graphc.ops.registry import lookup, register
from graphc.types import TensorType

ACTIVATIONS = {"Relu": 0, "Tanh": 0, "Sigmoid": 0, "LeakyRelu": 1, "HardSigmoid": 2, "Clip": 2}
# activations of com.microsoft.FusedGemm (its Clip is not documented, so it is not used)
GEMM_ACTIVATIONS = ("Relu", "Tanh", "Sigmoid", "LeakyRelu", "HardSigmoid")
FUSION_ATTRS = ("activation", "activation_params")


def _like(op: str):
    """Type inference of the fused op: that of the plain op it extends."""

    def rule(ctx):
        spec = lookup(op)
        return spec.infer(ctx) if spec is not None else [TensorType(ctx.input(0).dtype)]

    return rule


register("FusedConv", domain="graphc")(_like("Conv"))
register("FusedGemm", domain="graphc")(_like("Gemm"))
register("FusedAdd", domain="graphc")(_like("Add"))
