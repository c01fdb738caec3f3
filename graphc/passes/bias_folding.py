"""Folding of per-channel Mul/Add constants into the Conv/ConvTranspose/Gemm before them."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.affine_folding import channel_count, scale_and_shift
from graphc.passes.base import NodeRewrite, bypass
from graphc.passes.predicates import is_op, movable, sole_consumer, tensor_type


class BiasFolding(NodeRewrite):
    """Mul(Y, c) and Add(Y, c) (either operand order; Sub(Y, c) as Add of -c) where Y is the sole
    use of a Conv / ConvTranspose / Gemm with constant weight and bias, and the constant c holds
    one value per output channel (or a single value) laid out so that broadcasting does not
    change Y's shape: c becomes part of the weight and bias. This is how a channels-last Keras
    BatchNormalization, emitted as Mul/Add and moved next to its Conv by transpose sinking, ends
    up inside the Conv.

    Left alone: constants that vary along other axes or would broadcast Y to a larger shape,
    non-float dtypes, producers with other readers.
    """

    name = "bias-folding"
    ops = ("Mul", "Add", "Sub")

    def rewrite(self, g: Graph, node: str) -> int:
        ins = g.input_values(node)
        op = g.op(node)
        for y, c in ((ins[0], ins[1]), (ins[1], ins[0])) if op != "Sub" else ((ins[0], ins[1]),):
            arr = g.const_value(c)
            if arr is None or g.const_value(y) is not None or sole_consumer(g, y) is None:
                continue
            if not is_op(g, y[0], "Conv", "ConvTranspose", "Gemm") or not movable(g, y[0]):
                continue
            per_channel = _per_channel(g, y, arr)
            if per_channel is None:
                continue
            if op == "Mul":
                done = scale_and_shift(g, y[0], per_channel, 0.0)
            else:
                done = scale_and_shift(g, y[0], 1.0, -per_channel if op == "Sub" else per_channel)
            if done:
                bypass(g, node, y)
                return 1
        return 0


def _per_channel(g: Graph, y, arr):
    """`arr` as one float64 value per output channel of linear node y[0], or None."""
    t = tensor_type(g, y)
    n = channel_count(g, y[0])
    if t is None or n is None or t.dtype != arr.dtype or arr.ndim > len(t.shape):
        return None
    axis = 1 if g.op(y[0]) in ("Conv", "ConvTranspose") else len(t.shape) - 1
    full = (1,) * (len(t.shape) - arr.ndim) + arr.shape
    if any(s != 1 and i != axis for i, s in enumerate(full)) or full[axis] not in (1, n):
        return None
    return np.broadcast_to(arr.reshape(-1).astype(np.float64), (n,)) if arr.size else None
