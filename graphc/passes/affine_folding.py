"""Affine folding into Conv, ConvTranspose and Gemm: a per-channel out * scale + shift becomes part
of the op's constant weight and bias. Shared by BatchNormFolding and BiasFolding."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.base import add_constant
from graphc.passes.predicates import const_input, is_op, producer, tensor_type


def channel_count(g: Graph, node: str) -> int | None:
    """The number of output channels of linear `node` (axis 1 of Conv/ConvTranspose, the last axis
    of Gemm/MatMul), read off its constant weight; None when not applicable."""
    w = const_input(g, node, 1)
    if w is None:
        return None
    a = g.attrs(node)
    if is_op(g, node, "Conv"):
        return w.shape[0]
    if is_op(g, node, "ConvTranspose"):
        return w.shape[1] * a.get("group", 1)
    if is_op(g, node, "Gemm"):
        return w.shape[0] if a.get("transB", 0) else w.shape[1]
    if is_op(g, node, "MatMul") and w.ndim == 2:
        return w.shape[1]
    return None


def scale_and_shift(g: Graph, node: str, scale, shift) -> bool:
    """Rewrite Conv/ConvTranspose/Gemm `node` (constant weight, constant or absent bias) so that
    its output becomes out * scale + shift per output channel. False when it cannot."""
    w = const_input(g, node, 1)
    n = channel_count(g, node)
    t = tensor_type(g, (node, 0))
    if w is None or n is None or t is None or t.dtype.kind != "f" or w.dtype.kind != "f":
        return False
    scale = np.broadcast_to(np.asarray(scale, np.float64), (n,))
    shift = np.broadcast_to(np.asarray(shift, np.float64), (n,))
    a = g.attrs(node)
    bias_port = 2
    has_bias = len(g.input_values(node)) > 2 and producer(g, node, 2) is not None
    b = const_input(g, node, bias_port) if has_bias else None
    if has_bias and b is None:
        return False
    if is_op(g, node, "Conv"):
        w2 = w * scale.reshape((n,) + (1,) * (w.ndim - 1))
        b2 = (0.0 if b is None else b) * scale + shift
    elif is_op(g, node, "ConvTranspose"):
        group = a.get("group", 1)
        shaped = w.reshape((group, w.shape[0] // group, w.shape[1]) + w.shape[2:])
        w2 = (shaped * scale.reshape((group, 1, w.shape[1]) + (1,) * (w.ndim - 2))).reshape(w.shape)
        b2 = (0.0 if b is None else b) * scale + shift
    elif is_op(g, node, "Gemm"):
        w2 = w * (scale[:, None] if a.get("transB", 0) else scale[None, :])
        c = 0.0 if b is None else b * float(a.get("beta", 1.0))
        out_shape = np.broadcast_shapes(np.shape(c), (n,))
        b2 = np.broadcast_to(c, out_shape) * scale + shift
        a["beta"] = 1.0
    else:
        return False
    g.set_input(node, 1, add_constant(g, w2.astype(w.dtype), node))
    if len(g.input_values(node)) < 3:
        g.set_arity(node, 3)
    g.set_input(node, bias_port, add_constant(g, np.asarray(b2).astype(t.dtype), node))
    return True
