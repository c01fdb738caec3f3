"""Pooling: windowed (MaxPool, AveragePool, LpPool), global, MaxRoiPool and MaxUnpool."""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import DYNAMIC, ints_arg, ints_attr, is_int, sliding_window, vector_length
from graphc.ops.conv import static_window, transposed_window
from graphc.ops.gradient import gradient
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


@gradient("MaxPool")
def _max_pool_grad(ctx):
    """`g` scatter-added to the argmax of each window (MaxPool's Indices output; flat indices into
    the input, so the scatter works on the flattened input)."""
    g, x = ctx.output_grads[0], ctx.inputs[0]
    if ctx.attr("storage_order", 0):
        ctx.fail("storage_order=1 (column-major indices) is not differentiated")
    idx = ctx.outputs[1] if len(ctx.outputs) > 1 else \
        ctx.emit("MaxPool", x, n_outputs=2, **ctx.attrs)[1]  # the forward node did not keep its indices
    flat, shape = ctx.ints([-1]), ctx.emit("Shape", x)
    if _tiles(ctx):
        # windows that tile the input have distinct argmaxes: MaxUnpool's plain scatter is the sum
        # (about a fifth faster than ScatterElements in ONNX Runtime)
        return [ctx.emit("MaxUnpool", g, idx, shape, kernel_shape=list(ctx.attr("kernel_shape")),
                         strides=list(ctx.attr("strides")))]
    zeros = ctx.emit("Reshape", ctx.emit("Expand", ctx.const(0), shape), flat)
    out = ctx.emit("ScatterElements", zeros, ctx.emit("Reshape", idx, flat), ctx.emit("Reshape", g, flat),
                   axis=0, reduction="add")
    return [ctx.emit("Reshape", out, shape)]


def _tiles(ctx) -> bool:
    """The windows of a MaxPool node cover its static input exactly once each: no padding, no
    dilation, strides equal to the kernel, sizes a multiple of it (MaxUnpool's own output shape)."""
    kernel, t = ctx.attr("kernel_shape"), ctx.input_types[0]
    spatial = t.shape[2:] if t.shape is not None else ()
    return (list(ctx.attr("strides") or []) == list(kernel) and not any(ctx.attr("pads") or [])
            and ctx.attr("auto_pad", "NOTSET") in ("NOTSET", "VALID") and not ctx.attr("ceil_mode", 0)
            and all(d == 1 for d in ctx.attr("dilations") or [1]) and len(spatial) == len(kernel)
            and all(is_int(d) and d % k == 0 for d, k in zip(spatial, kernel)))


@register("AveragePool", "LpPool")
def _pool(ctx):
    return [TensorType(ctx.input(0).dtype, _window_shape(ctx))]


@gradient("AveragePool")
def _average_pool_grad(ctx):
    """`g` over each window's divisor, spread back by a depthwise ConvTranspose with a ones kernel.
    Without count_include_pad a padded window's divisor is its count of real input elements (a
    Conv of ones, a constant the optimizer folds)."""
    g, t = ctx.output_grads[0], ctx.input_types[0]
    kernel = ints_attr(ctx, "kernel_shape")
    strides, dilations, pads = static_window(ctx, t, kernel)
    channels = t.shape[1]
    if not is_int(channels):
        ctx.fail(f"input {t} needs static channels")
    if ctx.attr("ceil_mode", 0):
        ctx.fail("ceil_mode=1 is not differentiated")
    if any(pads) and not ctx.attr("count_include_pad", 0):
        divisor = ctx.emit("Conv", ctx.const(np.ones((1, 1, *t.shape[2:]))), ctx.const(np.ones((1, 1, *kernel))),
                           strides=strides, dilations=dilations, pads=pads)
    else:
        divisor = ctx.const(float(np.prod(kernel)))
    ones_w = ctx.const(np.ones((channels, 1, *kernel)))
    return [transposed_window(ctx, ctx.emit("Div", g, divisor), ones_w, t.shape[2:], kernel, strides, dilations,
                              pads, channels)]


@register("GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool")
def _global_pool(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x]
    if len(x.shape) < 2:
        ctx.fail(f"input must have rank >= 2, got {x}")
    return [x.with_shape((*x.shape[:2], *[1] * (len(x.shape) - 2)))]


@gradient("GlobalAveragePool", "GlobalMaxPool")
def _global_pool_grad(ctx):
    g, x, t = ctx.output_grads[0], ctx.inputs[0], ctx.input_types[0]
    gx = ctx.emit("Expand", g, ctx.emit("Shape", x))
    if ctx.op == "GlobalMaxPool":  # to the maxima (tied maxima each get all of it)
        return [ctx.emit("Where", ctx.emit("Equal", x, ctx.outputs[0]), gx, ctx.const(0))]
    spatial = t.shape[2:]
    if all(is_int(d) for d in spatial):
        n = ctx.const(float(np.prod(spatial)))
    else:
        n = ctx.emit("CastLike", ctx.emit("Div", ctx.emit("Size", x), ctx.emit("Size", ctx.outputs[0])), g)
    return [ctx.emit("Div", gx, n)]


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
