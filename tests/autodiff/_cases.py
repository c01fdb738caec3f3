"""One-node graphs for the gradient-rule checks: an op applied to float64 Variables (and constant
extra inputs), its output weighted by a fixed random array and summed, so each element of each
output contributes its own weight to the loss."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph

F64 = np.float64


def one_op_graph(op: str, arrays: list, attrs: dict | None = None, consts: dict | None = None,
                 n_outputs: int = 1, seed: int = 0, outputs: tuple[int, ...] | None = None) -> tuple[Graph, tuple]:
    """`op` over Variables `x0, x1, ...` (None: an absent input; an int array: a Constant) with
    `consts` {port: array} as Constants; loss = sum_k sum(w_k * output_k)."""
    rng = np.random.default_rng(seed)
    g = Graph("rule")
    inputs = []
    for i, a in enumerate(arrays):
        if a is None:
            inputs.append(None)
        elif np.issubdtype(np.asarray(a).dtype, np.floating):
            inputs.append(g.add_variable(np.asarray(a, F64), f"x{i}"))
        else:
            inputs.append(g.add_constant(np.asarray(a), f"c{i}"))
    for port, c in sorted((consts or {}).items()):
        while len(inputs) <= port:
            inputs.append(None)
        inputs[port] = g.add_constant(np.asarray(c), f"c{port}")
    node = g.add_node(op, inputs, attrs or {}, n_outputs=n_outputs, name="op")
    terms = []
    for k in (outputs if outputs is not None else range(n_outputs)):
        t = g.type_of((node, k))
        if not np.issubdtype(t.dtype, np.floating):
            continue
        w = g.add_constant(rng.standard_normal(t.shape), f"w{k}")
        terms.append((g.add_node("ReduceSum", [(g.add_node("Mul", [(node, k), w]), 0)], {"keepdims": 0}), 0))
    loss = terms[0] if len(terms) == 1 else (g.add_node("Sum", terms), 0)
    g.add_output("loss", loss)
    return g, loss


def away_from(a, points=(0.0,), gap=0.05, seed=1):
    """`a` with elements near a kink (`points`) moved off it, so finite differences stay on one side."""
    a = np.array(a, F64)
    for p in points:
        near = np.abs(a - p) < gap
        a[near] = p + np.where(a[near] >= p, gap, -gap) * 2
    return a
