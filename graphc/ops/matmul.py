"""Matrix products: MatMul (numpy broadcasting, 1-D operands), MatMulInteger, Gemm and Einsum."""
from __future__ import annotations

import string

import numpy as np

from graphc.ops._shapes import broadcast_shapes, merge_dims
from graphc.ops.registry import register
from graphc.types import TensorType


def _matmul_shape(ctx, a, b):
    if a is None or b is None:
        return None
    if len(a) == 0 or len(b) == 0:
        ctx.fail("MatMul operands must have rank >= 1")
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    merge_dims([a2[-1], b2[-2]], ctx, f"contracted dims of {list(a)} @ {list(b)}")
    out = broadcast_shapes(ctx, a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    # a 1-D operand's inserted dim is removed again
    if len(b) == 1:
        out = out[:-1]
    if len(a) == 1:
        out = out[:-2] + out[-1:] if len(b) > 1 else out[:-1]
    return out


@register("MatMul")
def _matmul(ctx):
    a, b = ctx.input(0), ctx.input(1)
    return [TensorType(a.dtype, _matmul_shape(ctx, a.shape, b.shape))]


@register("MatMulInteger")
def _matmul_integer(ctx):
    return [TensorType(np.int32, _matmul_shape(ctx, ctx.input(0).shape, ctx.input(1).shape))]


@register("Gemm")
def _gemm(ctx):
    a, b = ctx.input(0), ctx.input(1)
    for name, t in (("A", a), ("B", b)):
        if t.shape is not None and len(t.shape) != 2:
            ctx.fail(f"{name} must be 2-D, got {t}")
    m = k1 = k2 = n = None
    if a.shape is not None:
        m, k1 = a.shape[::-1] if ctx.attr("transA", 0) else a.shape
    if b.shape is not None:
        k2, n = b.shape[::-1] if ctx.attr("transB", 0) else b.shape
    merge_dims([k1, k2], ctx, "contracted dims of A and B")
    return [TensorType(a.dtype, (m, n))]


def _einsum_terms(ctx, equation: str, n_inputs: int):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != n_inputs:
        ctx.fail(f"equation {equation!r} has {len(terms)} operands but the node has {n_inputs} inputs")
    for t in terms + ([rhs] if arrow else []):
        if t.replace("...", "").strip(string.ascii_letters) or t.count("...") > 1:
            ctx.fail(f"cannot parse einsum term {t!r} of {equation!r}")
    if not arrow:
        # implicit output: the ellipsis, then the labels used once, in alphabetical order
        letters = lhs.replace("...", "").replace(",", "")
        rhs = ("..." if "..." in lhs else "") + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, rhs


@register("Einsum")
def _einsum(ctx):
    n = len(ctx.values)
    if not isinstance(ctx.attr("equation"), str):
        ctx.fail("the equation attribute is required")
    terms, rhs = _einsum_terms(ctx, ctx.attr("equation"), n)
    shapes = [ctx.input(i).shape for i in range(n)]
    dtype = ctx.input(0).dtype
    if any(s is None for s in shapes):
        rank = None if "..." in rhs else len(rhs)
        return [TensorType(dtype, None if rank is None else (None,) * rank)]
    labels: dict[str, list] = {}
    ellipses = []
    for term, shape in zip(terms, shapes):
        named = term.replace("...", "")
        n_ellipsis = len(shape) - len(named)
        if n_ellipsis < 0 or (n_ellipsis and "..." not in term):
            ctx.fail(f"einsum term {term!r} does not fit an operand of rank {len(shape)}")
        head = term.index("...") if "..." in term else len(named)
        ellipses.append(shape[head:head + n_ellipsis])
        for c, d in zip(named, shape[:head] + shape[head + n_ellipsis:]):
            labels.setdefault(c, []).append(d)
    dims = {c: merge_dims([d for d in ds if d != 1] or ds, ctx, f"einsum label {c!r}") for c, ds in labels.items()}
    out = []
    for c in rhs.replace("...", "."):
        if c == ".":
            out.extend(broadcast_shapes(ctx, *ellipses))
        elif c not in dims:
            ctx.fail(f"output label {c!r} does not appear in the inputs")
        else:
            out.append(dims[c])
    return [TensorType(dtype, tuple(out))]
