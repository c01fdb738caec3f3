"""Matrix products: MatMul (numpy broadcasting, 1-D operands), MatMulInteger, Gemm and Einsum."""
from __future__ import annotations

import string

import numpy as np

from graphc.ops._shapes import broadcast_shapes, merge_dims
from graphc.ops.gradient import gradient
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


def _swap_last(ctx, v):
    r = len(ctx.graph.type_of(v).shape)
    return ctx.emit("Transpose", v, perm=list(range(r - 2)) + [r - 1, r - 2])


def _sum_to_vector(ctx, v, keep: int):
    """A (..., n, m) product summed over every axis but `keep` (-1 or -2): a 1-D operand's gradient."""
    r = len(ctx.graph.type_of(v).shape)
    keep = keep + r
    return ctx.emit("ReduceSum", v, ctx.ints([a for a in range(r) if a != keep]), keepdims=0)


@gradient("MatMul")
def _matmul_grad(ctx):
    """dA = g B^T, dB = A^T g (Gemm with transA/transB for 2-D operands), summed over broadcast
    batch dims; a 1-D operand is a row (A) or a column (B) whose inserted dim is summed away."""
    g, (a, b) = ctx.output_grads[0], ctx.inputs
    ra, rb = len(ctx.input_types[0].shape), len(ctx.input_types[1].shape)
    if ra == 2 and rb == 2:
        return [ctx.emit("Gemm", g, b, transB=1) if ctx.needs(0) else None,
                ctx.emit("Gemm", a, g, transA=1) if ctx.needs(1) else None]
    a2 = ctx.emit("Unsqueeze", a, ctx.ints([0])) if ra == 1 else a
    b2 = ctx.emit("Unsqueeze", b, ctx.ints([1])) if rb == 1 else b
    g2 = g
    if rb == 1:
        g2 = ctx.emit("Unsqueeze", g2, ctx.ints([-1]))
    if ra == 1:
        g2 = ctx.emit("Unsqueeze", g2, ctx.ints([-2]))
    da = db = None
    if ctx.needs(0):
        d = ctx.emit("MatMul", g2, _swap_last(ctx, b2))
        da = _sum_to_vector(ctx, d, -1) if ra == 1 else ctx.unbroadcast(d, 0)
    if ctx.needs(1):
        k, n = ctx.input_types[0].shape[-1], ctx.output_types[0].shape[-1]
        if ra >= 3 and rb == 2 and isinstance(k, int) and isinstance(n, int):
            # a weight shared by every row of the batch dims (a sequence's input projection): one
            # Gemm over all the rows, not a batched product of weight-sized slices then summed
            rows_a, rows_g = ctx.emit("Reshape", a, ctx.ints([-1, k])), ctx.emit("Reshape", g, ctx.ints([-1, n]))
            return [da, ctx.emit("Gemm", rows_a, rows_g, transA=1)]
        d = ctx.emit("MatMul", _swap_last(ctx, a2), g2)
        db = _sum_to_vector(ctx, d, -2) if rb == 1 else ctx.unbroadcast(d, 1)
    return [da, db]


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


@gradient("Gemm")
def _gemm_grad(ctx):
    """Y = alpha A' B' + beta C (A' = A^T when transA): each gradient is one Gemm again."""
    g, (a, b, *c) = ctx.output_grads[0], ctx.inputs
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    ta, tb = ctx.attr("transA", 0), ctx.attr("transB", 0)
    da = db = dc = None
    if ctx.needs(0):  # dA' = alpha g B'^T; dA = dA'^T when transA
        da = ctx.emit("Gemm", b, g, alpha=alpha, transA=tb, transB=1) if ta else \
            ctx.emit("Gemm", g, b, alpha=alpha, transB=1 - tb)
    if ctx.needs(1):  # dB' = alpha A'^T g; dB = dB'^T when transB
        db = ctx.emit("Gemm", g, a, alpha=alpha, transA=1, transB=ta) if tb else \
            ctx.emit("Gemm", a, g, alpha=alpha, transA=1 - ta)
    if ctx.needs(2):
        gc = g if beta == 1.0 else ctx.emit("Mul", g, ctx.const(beta))
        dc = ctx.unbroadcast(gc, 2)
    return [da, db] + ([dc] if c else [])


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


@gradient("Einsum")
def _einsum_grad(ctx):
    """The gradient of operand i is an Einsum of the output gradient with the other operands,
    written to operand i's term. An ellipsis is spelled out in letters of its own. Refused: an
    ellipsis that broadcasts, a label repeated within a term (a diagonal) and a label only
    operand i has (summed away, so it cannot be written back)."""
    terms, rhs = _einsum_terms(ctx, ctx.attr("equation"), len(ctx.inputs))
    if "..." in rhs or any("..." in t for t in terms):
        terms, rhs = _spelled_out(ctx, terms, rhs)
    g = ctx.output_grads[0]
    grads = []
    for i, term in enumerate(terms):
        if not ctx.needs(i):
            grads.append(None)
            continue
        others = [t for j, t in enumerate(terms) if j != i]
        known = set(rhs).union(*others)
        if len(set(term)) != len(term) or not set(term) <= known:
            ctx.fail(f"operand {i} ({term!r}) repeats a label or sums one away alone")
        eq = ",".join([rhs] + others) + "->" + term
        grads.append(ctx.emit("Einsum", g, *[v for j, v in enumerate(ctx.inputs) if j != i], equation=eq))
    return grads


def _spelled_out(ctx, terms, rhs):
    """The terms with each "..." replaced by letters unused elsewhere, one per dim (right-aligned
    as einsum broadcasts); the ellipsis dims must agree, since no sum undoes a broadcast here."""
    spare = [c for c in string.ascii_letters if c not in "".join(terms) + rhs]
    shapes = [t.shape for t in ctx.input_types]
    dims = [tuple(s[term.index("..."):term.index("...") + len(s) - len(term) + 3]) if "..." in term else ()
            for term, s in zip(terms, shapes)]
    width = max(len(d) for d in dims)
    full = next(d for d in dims if len(d) == width)
    if any(d != full[width - len(d):] for d in dims):
        ctx.fail(f"the ellipsis dims {dims} broadcast; write the equation without an ellipsis")
    letters = "".join(spare[:width])
    terms = [t.replace("...", letters[width - len(d):]) for t, d in zip(terms, dims)]
    return terms, rhs.replace("...", letters)
