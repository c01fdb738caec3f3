"""graphc-domain fused ops made by the fusion passes, with their ONNX export forms.

- `FusedConv(X, W, B?)`: Conv's attributes plus `activation` and `activation_params`;
- `FusedGemm(A, B, C?)`: Gemm's attributes plus `activation` and `activation_params`;
- `FusedAdd(A, B)`: an Add followed by `activation`.

`activation` is one of `ACTIVATIONS` (name -> number of params: LeakyRelu [alpha],
HardSigmoid [alpha, beta], Clip [min, max]). Exported with `portable=False`, FusedConv and
FusedGemm become ONNX Runtime's `com.microsoft` kernels of the same names; with
`portable=True`, and always for FusedAdd (ONNX Runtime has no such kernel), they become the
plain op followed by the activation op.
"""
from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from graphc.ops.registry import lookup, register
from graphc.types import TensorType

ACTIVATIONS = {"Relu": 0, "Tanh": 0, "Sigmoid": 0, "LeakyRelu": 1, "HardSigmoid": 2, "Clip": 2}
# activations of com.microsoft.FusedGemm (its Clip is not documented, so it is not used)
GEMM_ACTIVATIONS = ("Relu", "Tanh", "Sigmoid", "LeakyRelu", "HardSigmoid")
_FUSION_ATTRS = ("activation", "activation_params")


def _like(op: str):
    """Type inference of the fused op: that of the plain op it extends."""

    def rule(ctx):
        spec = lookup(op)
        return spec.infer(ctx) if spec is not None else [TensorType(ctx.input(0).dtype)]

    return rule


def _plain_attrs(g, node) -> dict:
    return {k: v for k, v in g.attrs(node).items() if k not in _FUSION_ATTRS}


def _make(op, inputs, outputs, name, attrs, exporter, domain=None):
    node = helper.make_node(op, inputs, outputs, name=exporter.unique(name), domain=domain)
    node.attribute.extend(exporter.attribute(k, v, op, domain or "", None) for k, v in attrs.items())
    return node


def activation_nodes(g, node, x: str, y: str, exporter) -> list:
    """Plain ONNX nodes computing y = activation(x) for fused `node`."""
    act = g.attrs(node)["activation"]
    params = [float(p) for p in g.attrs(node).get("activation_params", [])]
    if act == "Clip":
        dtype = g.type_of((node, 0)).dtype or np.float32
        made, names = [], []
        for label, value in zip(("min", "max"), params):
            name = exporter.unique(f"{node}_{label}")
            made.append(helper.make_node("Constant", [], [name], name=exporter.unique(name),
                                         value=numpy_helper.from_array(np.array(value, dtype=dtype), name)))
            names.append(name)
        return made + [helper.make_node("Clip", [x, *names], [y], name=exporter.unique(f"{node}_clip"))]
    attrs = {"LeakyRelu": {"alpha": params[:1]}, "HardSigmoid": {"alpha": params[:1], "beta": params[1:2]}}.get(act, {})
    attrs = {k: v[0] for k, v in attrs.items() if v}
    return [helper.make_node(act, [x], [y], name=exporter.unique(f"{node}_{act.lower()}"), **attrs)]


def _export_split(op: str):
    """Export hook writing the plain op then the activation."""

    def hook(g, node, inputs, outputs, exporter):
        mid = exporter.unique(f"{node}_{op.lower()}")
        return [_make(op, inputs, [mid], node, _plain_attrs(g, node), exporter)] + \
            activation_nodes(g, node, mid, outputs[0], exporter)

    return hook


def _export_fused(op: str, contrib: str, params_as):
    """Export hook: com.microsoft `contrib` kernel, or (portable) `op` then the activation.
    `params_as(params)` turns the activation params into the kernel's attributes."""

    def hook(g, node, inputs, outputs, exporter):
        if exporter.portable:
            return _export_split(op)(g, node, inputs, outputs, exporter)
        attrs = _plain_attrs(g, node)
        attrs["activation"] = g.attrs(node)["activation"]
        attrs.update(params_as([float(p) for p in g.attrs(node).get("activation_params", [])]))
        return [_make(contrib, inputs, outputs, node, attrs, exporter, domain="com.microsoft")]

    return hook


register("FusedConv", domain="graphc", lowering="template",
         export=_export_fused("Conv", "FusedConv", lambda p: {"activation_params": p} if p else {}))(_like("Conv"))
register("FusedGemm", domain="graphc", lowering="template",
         export=_export_fused("Gemm", "FusedGemm", lambda p: dict(zip(("activation_alpha", "activation_beta"), p))))(
    _like("Gemm"))
register("FusedAdd", domain="graphc", lowering="pointwise", export=_export_split("Add"))(_like("Add"))
