"""Folding of inference-mode BatchNormalization into the linear op before it."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.affine_folding import channel_count, scale_and_shift
from graphc.passes.base import NodeRewrite, add_constant, add_op, bypass
from graphc.passes.predicates import const_input, is_op, movable, only_first_output_used, sole_consumer, tensor_type


class BatchNormFolding(NodeRewrite):
    """BatchNormalization(Y) with constant scale, bias, mean and variance, `training_mode=0` and
    only its first output used, where Y is the sole use of
    - Conv / ConvTranspose with a constant weight (and bias): weight and bias are rescaled;
    - Gemm with a constant B (and C): B's output columns and C are rescaled, `beta` becomes 1;
    - MatMul of a rank-2 input and a constant 2-D weight: the weight's columns are rescaled and
      an Add of the shift follows (MatMul+Add -> Gemm picks it up).

    Left alone: BatchNormalization in training mode or whose running statistics are read, a
    producer with other readers or that is a graph output, non-constant weights or statistics,
    non-float dtypes, and MatMul outputs of rank other than 2 (the channel is not axis 1 there).
    """

    name = "batchnorm-folding"
    ops = ("BatchNormalization",)

    def rewrite(self, g: Graph, bn: str) -> int:
        if g.attrs(bn).get("training_mode", 0) or not only_first_output_used(g, bn):
            return 0
        x = g.input_values(bn)[0]
        stats = [const_input(g, bn, i) for i in (1, 2, 3, 4)]
        t = tensor_type(g, x)
        if any(s is None for s in stats) or t is None or t.dtype.kind != "f" or len(t.shape) < 2:
            return 0
        if sole_consumer(g, x) is None or not movable(g, x[0]):
            return 0
        gamma, beta, mean, var = (s.astype(np.float64) for s in stats)
        scale = gamma / np.sqrt(var + float(g.attrs(bn).get("epsilon", 1e-5)))
        shift = beta - mean * scale
        if channel_count(g, x[0]) != scale.size:
            return 0
        if is_op(g, x[0], "MatMul"):
            w = const_input(g, x[0], 1)
            if w is None or w.ndim != 2 or len(t.shape) != 2:
                return 0
            g.set_input(x[0], 1, add_constant(g, (w * scale).astype(w.dtype), x[0]))
            add = add_op(g, "Add", [x, add_constant(g, shift.astype(t.dtype), bn)], None, g.type_of((bn, 0)), bn)
            bypass(g, bn, (add, 0))
            return 1
        if not scale_and_shift(g, x[0], scale, shift):
            return 0
        bypass(g, bn, x)
        return 1
