"""Pooling: windowed (MaxPool, AveragePool, LpPool), global, MaxRoiPool and MaxUnpool."""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import DYNAMIC, ints_arg, ints_attr, is_int, sliding_window, vector_length
from graphc.ops.registry import register
from graphc.types import TensorType


def _kernel_shape(ctx, x) -> list[int]:
    kernel = ints_attr(ctx, "kernel_shape")
    if kernel is None:
        ctx.fail("kernel_shape is required")
    if x.shape is not None and len(x.shape) != len(kernel) + 2:
        ctx.fail(f"kernel_shape {kernel} does not fit input {x}")
    return kernel


def _window_shape(ctx):
    x = ctx.input(0)
    kernel = _kernel_shape(ctx, x)
    if x.shape is None:
        return None
    return (*x.shape[:2], *sliding_window(ctx, x.shape[2:], kernel, bool(ctx.attr("ceil_mode", 0))))


@register("MaxPool")
def _max_pool(ctx):
    shape = _window_shape(ctx)
    return [TensorType(ctx.input(0).dtype, shape), TensorType(np.int64, shape)]


@register("AveragePool", "LpPool")
def _pool(ctx):
    return [TensorType(ctx.input(0).dtype, _window_shape(ctx))]


@register("GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool")
def _global_pool(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x]
    if len(x.shape) < 2:
        ctx.fail(f"input must have rank >= 2, got {x}")
    return [x.with_shape((*x.shape[:2], *[1] * (len(x.shape) - 2)))]


@register("MaxRoiPool")
def _max_roi_pool(ctx):
    x, rois = ctx.input(0), ctx.input(1)
    pooled = ints_attr(ctx, "pooled_shape")
    if pooled is None:
        ctx.fail("pooled_shape is required")
    n_rois = rois.shape[0] if rois.shape is not None else None
    channels = x.shape[1] if x.shape is not None else None
    return [TensorType(x.dtype, (n_rois, channels, *pooled))]


@register("MaxUnpool")
def _max_unpool(ctx):
    x = ctx.input(0)
    kernel = _kernel_shape(ctx, x)
    output_shape = ints_arg(ctx, 2)
    if output_shape is DYNAMIC:
        n = vector_length(ctx, 2)
        return [x.with_shape(None if n is None else (None,) * n)]
    if output_shape is not None:
        return [x.with_shape(tuple(output_shape))]
    if x.shape is None:
        return [x]
    n = len(kernel)
    strides = ints_attr(ctx, "strides", [1] * n)
    pads = ints_attr(ctx, "pads", [0] * (2 * n))
    spatial = [(d - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n] if is_int(d) else None
               for i, d in enumerate(x.shape[2:])]
    return [x.with_shape((*x.shape[:2], *spatial))]
