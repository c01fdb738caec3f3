"""Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax, ArgMin.

The axes are an attribute up to opset 12 (ReduceSum) or 17 (the others) and an optional input
after; an absent or empty axes list reduces everything unless `noop_with_empty_axes` is set.
"""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import DYNAMIC, ints_arg, is_int, normalized_axes
from graphc.ops.gradient import gradient
from graphc.ops.registry import norm_axis, register

REDUCE = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
          "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")


def _reduced(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


@register(*REDUCE, traits=("reduce_axes",))
def _reduce(ctx):
    x = ctx.input(0)
    axes = ints_arg(ctx, 1, "axes")
    keepdims = ctx.attr("keepdims", 1)
    if not axes and ctx.attr("noop_with_empty_axes", 0):
        return [x]
    if x.shape is None:
        return [x]
    if axes is DYNAMIC:
        return [x.with_shape((None,) * len(x.shape) if keepdims else None)]
    axes = normalized_axes(ctx, axes, len(x.shape)) if axes else range(len(x.shape))
    return [x.with_shape(_reduced(x.shape, axes, keepdims))]


def _reduce_axes(ctx):
    """The reduced axes of a Reduce* node (sorted, non-negative), or None for "no reduction"."""
    rank = len(ctx.input_types[0].shape)
    axes = ctx.attr("axes")
    if len(ctx.inputs) > 1 and ctx.inputs[1] is not None:
        axes = ctx.graph.const_value(ctx.inputs[1])
        if axes is None:
            ctx.fail("the axes must be a constant")
    axes = [] if axes is None else [norm_axis(int(a), rank) for a in np.asarray(axes).reshape(-1)]
    if not axes:
        return None if ctx.attr("noop_with_empty_axes", 0) else list(range(rank))
    return sorted(set(axes))


def _keep(ctx, v, axes):
    """`v` (shaped like the reduced output) with the reduced axes back as 1s."""
    return v if ctx.attr("keepdims", 1) or not axes else ctx.emit("Unsqueeze", v, ctx.ints(axes))


@gradient(*REDUCE)
def _reduce_grad(ctx):
    """g (and y) broadcast back over the reduced axes, times the local derivative:
    Sum 1, Mean 1/n, SumSquare 2x, L1 sign(x), L2 x/y, LogSumExp exp(x - y), LogSum 1/exp(y),
    Prod y/x, Max/Min the elements equal to y (ties each get all of it)."""
    x, g = ctx.inputs[0], ctx.output_grads[0]
    axes = _reduce_axes(ctx)
    grads = [None] * len(ctx.inputs)
    if axes is None:
        grads[0] = g
        return grads
    shape = ctx.emit("Shape", x)
    gx = ctx.emit("Expand", _keep(ctx, g, axes), shape)
    op = ctx.op
    if op == "ReduceSum":
        grads[0] = gx
        return grads
    if op == "ReduceMean":
        dims = [ctx.input_types[0].shape[a] for a in axes]
        if all(is_int(d) for d in dims):
            n = ctx.const(float(np.prod(dims)))
        else:
            n = ctx.emit("CastLike", ctx.emit("Div", ctx.emit("Size", x), ctx.emit("Size", ctx.outputs[0])), g)
        grads[0] = ctx.emit("Div", gx, n)
        return grads
    y = _keep(ctx, ctx.outputs[0], axes)
    local = {
        "ReduceSumSquare": lambda: ctx.emit("Mul", x, ctx.const(2)),
        "ReduceL1": lambda: ctx.emit("Sign", x),
        "ReduceL2": lambda: ctx.emit("Div", x, y),
        "ReduceLogSumExp": lambda: ctx.emit("Exp", ctx.emit("Sub", x, y)),
        "ReduceLogSum": lambda: ctx.emit("Exp", ctx.emit("Neg", y)),
        "ReduceProd": lambda: ctx.emit("Div", y, x),
        "ReduceMax": lambda: ctx.emit("CastLike", ctx.emit("Equal", x, y), g),
        "ReduceMin": lambda: ctx.emit("CastLike", ctx.emit("Equal", x, y), g),
    }[op]()
    grads[0] = ctx.emit("Mul", gx, local)
    return grads


@register("ArgMax", "ArgMin")
def _arg_reduce(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x.with_dtype(np.int64)]
    axis = norm_axis(ctx.attr("axis", 0), len(x.shape), ctx)
    return [x.with_shape(_reduced(x.shape, {axis}, ctx.attr("keepdims", 1))).with_dtype(np.int64)]
