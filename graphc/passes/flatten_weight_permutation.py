"""Folding of the layout Transpose in front of Flatten into the weights of the MatMul/Gemm after it."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.base import NodeRewrite, add_constant
from graphc.passes.layout import invert, transpose_perm
from graphc.passes.predicates import const_input, is_op, tensor_type


class FlattenWeightPermutation(NodeRewrite):
    """Transpose(X, perm) -> Flatten(axis=1) -> MatMul(·, W) / Gemm(·, W, C) with `perm[0] = 0`
    and a constant 2-D W becomes Flatten(X) -> MatMul/Gemm(·, W') where W' holds W's rows in X's
    own element order. A channels-last CNN imported from Keras flattens NHWC data after
    channels-first convolutions; this removes the one Transpose that sinking cannot.

    Left alone: a Transpose or Flatten with other readers (the permuted order would leak),
    a Flatten with another axis, a Transpose that moves the batch axis, non-constant or shared
    weights, Gemm with transA or transB, and inputs whose non-batch dims are not all known.
    """

    name = "flatten-weight-permutation"
    ops = ("Flatten",)

    def rewrite(self, g: Graph, flatten: str) -> int:
        src = g.input_values(flatten)[0]
        if src is None or g.attrs(flatten).get("axis", 1) != 1 or not is_op(g, src[0], "Transpose"):
            return 0
        tr = src[0]
        perm = transpose_perm(g, tr)
        x = g.input_values(tr)[0]
        t = tensor_type(g, x)
        if perm is None or perm[0] != 0 or t is None or t.shape is None or g.is_output((tr, 0)) or \
                not all(isinstance(d, int) for d in t.shape[1:]) or len(g.consumers((tr, 0))) != 1:
            return 0
        users = g.consumers((flatten, 0))
        weights = []
        for user, port in users:
            w = const_input(g, user, 1)
            if port != 0 or w is None or w.ndim != 2 or not is_op(g, user, "MatMul", "Gemm") or \
                    g.attrs(user).get("transA", 0) or g.attrs(user).get("transB", 0) or \
                    len(g.consumers(g.input_values(user)[1])) != 1:
                return 0
            weights.append((user, w))
        # rows[p] = the row of W that element p of X (in X's own order) meets after the transpose
        inner = [p - 1 for p in perm[1:]]
        moved = np.arange(int(np.prod(t.shape[1:]))).reshape([t.shape[1:][q] for q in inner])
        rows = moved.transpose(invert(inner)).reshape(-1)
        if any(w.shape[0] != rows.size for _, w in weights):
            return 0
        for user, w in weights:
            g.set_input(user, 1, add_constant(g, w[rows], user))
        g.set_input(flatten, 0, x)
        g.remove_node(tr)
        return 1
