"""Odds and ends: generators (EyeLike, Random*), quantization, detection and sampling ops."""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import ints_attr, is_int
from graphc.ops.gradient import gradient
from graphc.ops.registry import norm_axis, onnx_dtype, register
from graphc.types import TensorType


def _dtype_attr(ctx, default):
    dtype = ctx.attr("dtype")
    return default if dtype is None else onnx_dtype(dtype)


@register("EyeLike")
def _like(ctx):
    x = ctx.input(0)
    if ctx.op == "EyeLike" and x.shape is not None and len(x.shape) != 2:
        ctx.fail(f"input must be 2-D, got {x}")
    return [x.with_dtype(_dtype_attr(ctx, x.dtype))]


register("RandomNormalLike", "RandomUniformLike", "Bernoulli", traits=("nondeterministic",))(_like)


@gradient("RandomNormalLike", "RandomUniformLike", "Bernoulli", "EyeLike")
def _like_grad(ctx):
    """These read only their input's shape (and Bernoulli draws): no gradient flows to it."""
    return [None]


@register("RandomNormal", "RandomUniform", traits=("nondeterministic",))
def _random(ctx):
    shape = ints_attr(ctx, "shape")
    if shape is None:
        ctx.fail("shape is required")
    return [TensorType(_dtype_attr(ctx, np.float32), tuple(shape))]


@register("Multinomial", traits=("nondeterministic",))
def _multinomial(ctx):
    x = ctx.input(0)
    batch = x.shape[0] if x.shape is not None else None
    return [TensorType(_dtype_attr(ctx, np.int32), (batch, ctx.attr("sample_size", 1)))]


@register("NonMaxSuppression")
def _nms(ctx):
    return [TensorType(np.int64, (None, 3))]


@register("Unique")
def _unique(ctx):
    x = ctx.input(0)
    axis = ctx.attr("axis")
    if axis is None:
        y = x.with_shape((None,))
    elif x.shape is None:
        y = x
    else:
        axis = norm_axis(axis, len(x.shape), ctx)
        y = x.with_shape(x.shape[:axis] + (None,) + x.shape[axis + 1:])
    indices = TensorType(np.int64, (None,))
    return [y, indices, indices, indices]


@register("Det")
def _det(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x]
    if len(x.shape) < 2 or all(is_int(d) for d in x.shape[-2:]) and x.shape[-1] != x.shape[-2]:
        ctx.fail(f"input must be a stack of square matrices, got {x}")
    return [x.with_shape(x.shape[:-2])]


@register("GridSample")
def _grid_sample(ctx):
    x, grid = ctx.input(0), ctx.input(1)
    if grid.shape is None:
        return [x.with_shape(None)]
    batch, *spatial, _ = grid.shape
    channels = x.shape[1] if x.shape is not None else None
    return [x.with_shape((batch, channels, *spatial))]


@register("RoiAlign")
def _roi_align(ctx):
    x, rois = ctx.input(0), ctx.input(1)
    n = rois.shape[0] if rois.shape is not None else None
    channels = x.shape[1] if x.shape is not None else None
    return [x.with_shape((n, channels, ctx.attr("output_height", 1), ctx.attr("output_width", 1)))]


@register("QuantizeLinear")
def _quantize(ctx):
    x = ctx.input(0)
    if ctx.has(2):
        return [x.with_dtype(ctx.input(2).dtype)]
    return [x.with_dtype(onnx_dtype(ctx.attr("output_dtype", 0)) or np.uint8)]


@register("DequantizeLinear")
def _dequantize(ctx):
    return [ctx.input(0).with_dtype(ctx.input(1).dtype)]


@register("DynamicQuantizeLinear")
def _dynamic_quantize(ctx):
    return [ctx.input(0).with_dtype(np.uint8), TensorType(np.float32, ()), TensorType(np.uint8, ())]
