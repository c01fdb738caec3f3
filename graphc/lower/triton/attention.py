"""Find scaled-dot-product attention, `MatMul(Softmax(f(MatMul(Q, K^T))), V)`, for one fused kernel.

`f` is a chain of pointwise ops of the scores' shape (the 1/sqrt(d) scale, an additive mask, a
bias), each read only by the next. The kernel (`codegen.write_attention`) is flash attention:
per block of query rows it walks the keys block by block with an online softmax, so the
[M, N] scores and probabilities never reach memory. Found here, before the scheduler's
realization rules run: the two matmuls, the chain and the softmax become one kernel whose
anchor is the second MatMul; Q, K^T and V are realized buffers it reads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_HEAD = 256  # the head dims one block holds (the kernel keeps a query block's row in registers)


@dataclass
class Attention:
    scores: str  # MatMul(Q, K^T)
    chain: list  # the pointwise nodes between it and the softmax, in order
    softmax: str
    out: str  # MatMul(P, V): the anchor

    @property
    def parts(self) -> list:
        return [self.scores, *self.chain, self.softmax]


def _sole_reader(graph, node):
    readers = graph.consumers((node, 0))
    if len(readers) != 1 or graph.is_output((node, 0)):
        return None
    return readers[0]


def find(graph, kinds) -> dict:
    """{anchor node: Attention} for every attention pattern in `graph`, given the nodes' kinds."""
    found = {}
    for n, kind in kinds.items():
        if kind != "matmul" or graph.op(n) != "MatMul":
            continue
        p = graph.input_values(n)[0][0]
        if graph.is_source(p) or graph.op(p) != "Softmax" or kinds.get(p) != "reduction":
            continue
        s_shape = graph.type_of((p, 0)).shape
        axis = graph.attrs(p).get("axis", -1)
        if (axis + len(s_shape) if axis < 0 else axis) != len(s_shape) - 1 or _sole_reader(graph, p) != (n, 0):
            continue
        chain, cur = [], graph.input_values(p)[0][0]
        while not graph.is_source(cur) and kinds.get(cur) == "pointwise" and \
                graph.type_of((cur, 0)).shape == s_shape and _sole_reader(graph, cur) is not None:
            chain.append(cur)
            producers = [v[0] for v in graph.input_values(cur) if v is not None and not graph.is_source(v[0])
                         and graph.type_of(v).shape == s_shape]
            if len(producers) != 1:
                break
            cur = producers[0]
        if graph.is_source(cur) or graph.op(cur) != "MatMul" or kinds.get(cur) != "matmul" or \
                _sole_reader(graph, cur) is None:
            continue
        q, kt = (graph.type_of(v).shape for v in graph.input_values(cur)[:2])
        v_shape = graph.type_of(graph.input_values(n)[1]).shape
        if len(q) < 2 or len(kt) < 2 or len(v_shape) < 2 or q[-1] > MAX_HEAD or v_shape[-1] > MAX_HEAD:
            continue
        if not all(np.dtype(graph.type_of(v).dtype).kind == "f" for v in graph.input_values(cur)[:2]):
            continue
        found[n] = Attention(cur, list(reversed(chain)), p, n)
    return found
