"""Pooling: windowed (MaxPool, AveragePool, LpPool), global, MaxRoiPool and MaxUnpool."""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import DYNAMIC, ints_arg, is_int, sliding_window, str_attr
from graphc.ops.registry import register
from graphc.types import TensorType


def _kernel_shape(ctx) -> list[int]:
    kernel = ctx.attr("kernel_shape")
    if kernel is None:
        ctx.fail("kernel_shape is required")
    return [int(k) for k in kernel]


def _window_shape(ctx):
    x = ctx.input(0)
    kernel = _kernel_shape(ctx)
    n = len(kernel)
    if x.shape is None:
        return None
    if len(x.shape) != n + 2:
        ctx.fail(f"kernel_shape {list(kernel)} does not fit input {x}")
    out = sliding_window(ctx, list(x.shape[2:]), kernel, strides=ctx.attr("strides"),
                         dilations=ctx.attr("dilations"), pads=ctx.attr("pads"),
                         auto_pad=str_attr(ctx, "auto_pad", "NOTSET"),
                         ceil_mode=bool(ctx.attr("ceil_mode", 0)))
    return (*x.shape[:2], *out)


@register("MaxPool", lowering="template")
def _max_pool(ctx):
    shape = _window_shape(ctx)
    return [TensorType(ctx.input(0).dtype, shape), TensorType(np.int64, shape)]


@register("AveragePool", "LpPool", lowering="template")
def _pool(ctx):
    return [TensorType(ctx.input(0).dtype, _window_shape(ctx))]


@register("GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool", lowering="reduction")
def _global_pool(ctx):
    x = ctx.input(0)
    if x.shape is not None and len(x.shape) < 2:
        ctx.fail(f"input must have rank >= 2, got {x}")
    return [x.with_shape(None if x.shape is None else (*x.shape[:2], *[1] * (len(x.shape) - 2)))]


@register("MaxRoiPool")
def _max_roi_pool(ctx):
    x, rois = ctx.input(0), ctx.input(1)
    pooled = ctx.attr("pooled_shape")
    if pooled is None:
        ctx.fail("pooled_shape is required")
    n_rois = rois.shape[0] if rois.shape is not None else None
    channels = x.shape[1] if x.shape is not None else None
    return [TensorType(x.dtype, (n_rois, channels, *[int(p) for p in pooled]))]


@register("MaxUnpool")
def _max_unpool(ctx):
    x = ctx.input(0)
    output_shape = ints_arg(ctx, 2)
    if output_shape is DYNAMIC:
        n = ctx.input(2).shape
        return [x.with_shape((None,) * n[0] if n is not None and is_int(n[0]) else None)]
    if output_shape is not None:
        return [x.with_shape(tuple(output_shape))]
    kernel = _kernel_shape(ctx)
    if x.shape is None:
        return [x.with_shape(None)]
    n = len(kernel)
    strides = list(ctx.attr("strides") or [1] * n)
    pads = list(ctx.attr("pads") or [0] * (2 * n))
    spatial = [(d - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n] if is_int(d) else None
               for i, d in enumerate(x.shape[2:])]
    return [x.with_shape((*x.shape[:2], *spatial))]
