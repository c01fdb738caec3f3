"""Removal of operations that return their input unchanged."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.ops._shapes import DYNAMIC
from graphc.passes.base import NodeRewrite, bypass
from graphc.passes.layout import is_identity, transpose_perm
from graphc.passes.predicates import const_ints, int_arg, only_first_output_used, opset, tensor_type


class NoOpElimination(NodeRewrite):
    """Bypasses nodes whose output equals their (first) input:

    - Identity; single-input Concat, Sum, Max, Min, Mean;
    - Dropout at inference (no `training_mode` input, or a constant false one) whose mask output
      is unused;
    - Cast to the dtype the input already has;
    - Transpose with the identity perm;
    - Reshape whose constant target keeps every dim (known dims equal, or 0-copies);
    - Expand to a constant shape that broadcasting leaves unchanged;
    - Pad (opset >= 11) with constant all-zero pads.

    Left alone: anything whose input or output type is unknown, Dropout in training mode or with
    a used mask, Identity over a sequence or optional value (types differ from tensors), and nodes
    with body graphs.
    """

    name = "no-op-elimination"
    ops = ("Identity", "Concat", "Sum", "Max", "Min", "Mean", "Dropout", "Cast", "Transpose", "Reshape", "Expand",
           "Pad")

    def rewrite(self, g: Graph, node: str) -> int:
        if not self._is_noop(g, node):
            return 0
        bypass(g, node, g.input_values(node)[0])
        return 1

    def _is_noop(self, g: Graph, node: str) -> bool:
        d = g.data(node)
        op = d["op"]
        ins = g.input_values(node)
        if not ins or ins[0] is None:
            return False
        x, y = tensor_type(g, ins[0]), tensor_type(g, (node, 0))
        if op == "Identity":
            return x is not None and y is not None
        if op in ("Concat", "Sum", "Max", "Min", "Mean"):
            return len(ins) == 1 and x is not None and y is not None and x.dtype == y.dtype
        if op == "Dropout":
            if not only_first_output_used(g, node) or d["attrs"].get("is_test", 1) == 0:
                return False
            if len(ins) < 3 or ins[2] is None:
                return True
            mode = g.const_value(ins[2])
            return mode is not None and not bool(np.asarray(mode).any())
        if x is None or y is None:
            return False
        if op == "Cast":
            return x.dtype == y.dtype
        if op == "Transpose":
            perm = transpose_perm(g, node)
            return perm is not None and is_identity(perm)
        if op == "Reshape":
            target = const_ints(g, node, 1)
            if target is None or len(target) != len(x.shape):
                return False
            zero_copies = not d["attrs"].get("allowzero", 0)
            return all((t == 0 and zero_copies) or (isinstance(s, int) and t == s) for t, s in zip(target, x.shape))
        if op == "Expand":
            target = const_ints(g, node, 1)
            if target is None or len(target) > len(x.shape):
                return False
            tail = x.shape[len(x.shape) - len(target):]
            return all(t == 1 or (isinstance(s, int) and t == s) for t, s in zip(target, tail))
        if op == "Pad" and opset(g) >= 11:
            pads = const_ints(g, node, 1)
            return pads is not None and not any(pads) and int_arg(g, node, 3) is not DYNAMIC
        return False
