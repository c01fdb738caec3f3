"""How the ONNX writer writes the ops that it does not copy as they are: ONNX's own table.

`FORMS[(domain, op)]` is a hook `(graph, node, input_names, output_names, exporter) ->
list[NodeProto]` (or None: write the node unchanged). Every `graphc`-domain op has one:

- FusedConv / FusedGemm: with `portable=False`, ONNX Runtime's `com.microsoft` kernels of the
  same names; with `portable=True`, the plain Conv/Gemm followed by the activation op;
- FusedAdd: always an Add then the activation (ONNX Runtime has no such kernel).

Standard ops with a hook: Cast and CastLike from a float to a 2- or 4-bit integer get a Round
in front (and a Cast to float32 for floats Round does not take), because ONNX Runtime rounds
ties away from zero where ONNX's rule rounds them to even (see graphc/ops/cast.py).
"""
from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from graphc.ir import GRAPHC_DOMAIN
from graphc.ops.cast import rounds_first
from graphc.ops.fused import FUSION_ATTRS

# inputs ONNX Runtime's Round takes as they are; other floats (bfloat16, float8) go through float32
_ROUNDABLE = ("float16", "float32", "float64")


def _plain_attrs(g, node) -> dict:
    return {k: v for k, v in g.attrs(node).items() if k not in FUSION_ATTRS}


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


def _split(op: str):
    """The plain op, then the activation."""

    def hook(g, node, inputs, outputs, exporter):
        mid = exporter.unique(f"{node}_{op.lower()}")
        return [_make(op, inputs, [mid], node, _plain_attrs(g, node), exporter)] + \
            activation_nodes(g, node, mid, outputs[0], exporter)

    return hook


def _fused(op: str, contrib: str, params_as):
    """com.microsoft `contrib` kernel, or (portable) `op` then the activation.
    `params_as(params)` turns the activation params into the kernel's attributes."""

    def hook(g, node, inputs, outputs, exporter):
        if exporter.portable:
            return _split(op)(g, node, inputs, outputs, exporter)
        attrs = _plain_attrs(g, node)
        attrs["activation"] = g.attrs(node)["activation"]
        attrs.update(params_as([float(p) for p in g.attrs(node).get("activation_params", [])]))
        return [_make(contrib, inputs, outputs, node, attrs, exporter, domain="com.microsoft")]

    return hook


def _cast(g, node, inputs: list[str], outputs: list[str], exporter):
    """Cast/CastLike as it is, or behind a Round when it casts a float to a sub-byte integer."""
    d = g.data(node)
    src = getattr(g.type_of(g.input_values(node)[0]), "dtype", None)  # None: opaque or unknown
    if not rounds_first(src, getattr(d["outputs"][0], "dtype", None)):
        return None
    made, x = [], inputs[0]
    if np.dtype(src).name not in _ROUNDABLE:
        f32 = exporter.unique(f"{node}_f32")
        made.append(helper.make_node("Cast", [x], [f32], name=exporter.unique(f32), to=1))
        x = f32
    rounded = exporter.unique(f"{node}_rounded")
    made.append(helper.make_node("Round", [x], [rounded], name=exporter.unique(rounded)))
    cast = helper.make_node(d["op"], [rounded, *inputs[1:]], outputs, name=exporter.unique(node))
    cast.attribute.extend(exporter.attribute(k, v, d["op"], "", None, node=node) for k, v in d["attrs"].items())
    return made + [cast]


FORMS = {
    (GRAPHC_DOMAIN, "FusedConv"): _fused("Conv", "FusedConv", lambda p: {"activation_params": p} if p else {}),
    (GRAPHC_DOMAIN, "FusedGemm"): _fused("Gemm", "FusedGemm",
                                         lambda p: dict(zip(("activation_alpha", "activation_beta"), p))),
    (GRAPHC_DOMAIN, "FusedAdd"): _split("Add"),
    ("", "Cast"): _cast,
    ("", "CastLike"): _cast,
}
