"""Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax, ArgMin.

The axes are an attribute up to opset 12 (ReduceSum) or 17 (the others) and an optional input
after; an absent or empty axes list reduces everything unless `noop_with_empty_axes` is set.
"""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import DYNAMIC, ints_arg, normalized_axes
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


@register("ArgMax", "ArgMin")
def _arg_reduce(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x.with_dtype(np.int64)]
    axis = norm_axis(ctx.attr("axis", 0), len(x.shape), ctx)
    return [x.with_shape(_reduced(x.shape, {axis}, ctx.attr("keepdims", 1))).with_dtype(np.int64)]
