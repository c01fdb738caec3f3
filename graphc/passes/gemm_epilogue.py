"""Scalar scales and accumulations folded into the Gemm that feeds them (its alpha, beta and C)."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.base import NodeRewrite, bypass
from graphc.passes.gemm_fusion import _GEMM_DTYPES, _fits
from graphc.passes.predicates import is_op, movable, sole_consumer, tensor_type


class GemmEpilogueFolding(NodeRewrite):
    """For a float Gemm Y = alpha * A'B' (+ beta * C) read only by the node rewritten:

    - Mul(Y, s) (either order), s one element of rank <= 2: a constant s scales alpha and beta; a
      computed s, when Y has no C, scales whichever of A and B has fewer elements than Y instead
      (Gemm(A, Mul(B, s))), so the product's scale costs a pass over the smaller operand;
    - Add(Y, X), Add(X, Y), Sub(X, Y), Sub(Y, X), Y without C and X broadcasting into Y unchanged:
      Gemm(A, B, X) with beta 1 (Sub: alpha or beta negated);
    - a Gemm whose C is Mul(M, k), k a constant scalar read through a Mul no one else reads:
      C becomes M and beta is multiplied by k.

    Together they turn an optimizer's update of a weight whose gradient is a Gemm
    (momentum * m - lr * grad, or p - lr * grad) into one Gemm accumulating into the old state:
    one pass over the weight-sized arrays instead of three or four (ONNX Runtime's CPU
    elementwise ops are memory-bound there).

    Left alone: Gemms read elsewhere too, a computed scale when Y has a C or both operands are at
    least as large as Y, unknown shapes, non-float dtypes, an X that would broadcast Y larger.
    """

    name = "gemm-epilogue-folding"
    ops = ("Mul", "Add", "Sub", "Gemm")

    def rewrite(self, g: Graph, node: str) -> int:
        op = g.op(node)
        if op == "Gemm":
            return _fold_scaled_c(g, node)
        ins = g.input_values(node)
        pairs = ((ins[0], ins[1], 1.0), (ins[1], ins[0], 1.0)) if op != "Sub" else \
            ((ins[0], ins[1], 1.0), (ins[1], ins[0], -1.0))
        for y, other, sign in pairs:  # sign: Y's sign in a Sub
            gemm = _lone_gemm(g, y, node)
            if gemm is None:
                continue
            done = _fold_scale(g, gemm, other) if op == "Mul" else _fold_accumulate(g, gemm, other, op, sign)
            if done:
                bypass(g, node, y)
                return 1
        return 0


def _lone_gemm(g: Graph, y, reader: str):
    """y's node when it is a movable float Gemm whose output 0 only `reader` reads."""
    gemm = y[0]
    if y[1] != 0 or not is_op(g, gemm, "Gemm") or not movable(g, gemm):
        return None
    if sole_consumer(g, y) is None or sole_consumer(g, y)[0] != reader:
        return None
    t = tensor_type(g, y)
    return gemm if t is not None and t.dtype in _GEMM_DTYPES and t.rank == 2 else None


def _has_c(g: Graph, gemm: str) -> bool:
    ins = g.input_values(gemm)
    return len(ins) > 2 and ins[2] is not None


def _scalar(g: Graph, v, dtype) -> bool:
    t = tensor_type(g, v)
    return t is not None and t.dtype == dtype and t.rank <= 2 and all(d == 1 for d in t.shape)


def _size(t) -> int | None:
    return int(np.prod(t.shape)) if t is not None and all(isinstance(d, int) for d in t.shape) else None


def _fold_scale(g: Graph, gemm: str, s) -> bool:
    yt = tensor_type(g, (gemm, 0))
    if not _scalar(g, s, yt.dtype):
        return False
    attrs = g.attrs(gemm)
    k = g.const_value(s)
    if k is not None:
        k = float(np.asarray(k).reshape(()))
        attrs["alpha"] = float(attrs.get("alpha", 1.0)) * k
        if _has_c(g, gemm):
            attrs["beta"] = float(attrs.get("beta", 1.0)) * k
        return True
    ins = g.input_values(gemm)
    port = None if _has_c(g, gemm) else _cheaper_operand(g, gemm, yt)
    if port is None:
        return False
    scaled = g.add_node("Mul", [ins[port], s], outputs=[g.type_of(ins[port])], name=f"{gemm}_scale")
    g.set_input(gemm, port, (scaled, 0))
    return True


def _cheaper_operand(g: Graph, gemm: str, yt):
    """The Gemm input (0: A, 1: B) that costs fewer elements to scale than its (M, N) result, or
    None. A is M x K and B is K x N; when only the contracted K is a symbol (the batch of a weight
    gradient) it is the operand on Y's smaller side: scaling it costs K * min(M, N), which is below
    the M * N it replaces whenever the batch is below max(M, N), and it is what lets the
    accumulation into the optimizer state fold, saving passes over M * N."""
    ts = [tensor_type(g, v) for v in g.input_values(gemm)[:2]]
    if None in ts or any(t.rank != 2 for t in ts) or _size(yt) is None:
        return None
    sizes = [_size(t) for t in ts]
    if None not in sizes:
        port = 0 if sizes[0] <= sizes[1] else 1
        return port if sizes[port] < _size(yt) else None
    attrs = g.attrs(gemm)
    ka = ts[0].shape[0 if attrs.get("transA", 0) else 1]
    kb = ts[1].shape[1 if attrs.get("transB", 0) else 0]
    if not (isinstance(ka, str) and isinstance(kb, str)):  # unknown (None): perhaps many batches' rows
        return None
    return 0 if yt.shape[0] < yt.shape[1] else 1


def _fold_accumulate(g: Graph, gemm: str, x, op: str, sign: float) -> bool:
    yt, xt = tensor_type(g, (gemm, 0)), tensor_type(g, x)
    if _has_c(g, gemm) or xt is None or xt.dtype != yt.dtype or xt.rank > 2 or not _fits(xt.shape, yt.shape):
        return False
    attrs = g.attrs(gemm)
    if op == "Sub" and sign < 0:  # X - Y
        attrs["alpha"] = -float(attrs.get("alpha", 1.0))
        attrs["beta"] = 1.0
    else:  # Y + X, or Y - X
        attrs["beta"] = -1.0 if op == "Sub" else 1.0
    ins = g.input_values(gemm)
    g.set_inputs(gemm, [ins[0], ins[1], x])
    return True


def _fold_scaled_c(g: Graph, gemm: str) -> int:
    if not _has_c(g, gemm) or tensor_type(g, (gemm, 0)) is None:
        return 0
    c = g.input_values(gemm)[2]
    if not is_op(g, c[0], "Mul") or not movable(g, c[0]) or sole_consumer(g, c) is None:
        return 0
    yt = tensor_type(g, (gemm, 0))
    for m, k in (lambda a, b: ((a, b), (b, a)))(*g.input_values(c[0])):
        kv, mt = g.const_value(k), tensor_type(g, m)
        if kv is None or g.const_value(m) is not None or not _scalar(g, k, yt.dtype):
            continue
        if mt is None or mt.dtype != yt.dtype or mt.rank > 2 or not _fits(mt.shape, yt.shape):
            continue
        attrs = g.attrs(gemm)
        attrs["beta"] = float(attrs.get("beta", 1.0)) * float(np.asarray(kv).reshape(()))
        old = c[0]
        g.set_input(gemm, 2, m)
        g.remove_node(old)
        return 1
    return 0
