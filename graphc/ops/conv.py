"""Convolutions: Conv, ConvInteger and ConvTranspose over inputs laid out (N, C, D1, ..., Dn)."""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import dim_mul, ints_attr, is_int, merge_dims, sliding_window, window_attrs
from graphc.ops.registry import register
from graphc.types import TensorType


def _layout(ctx):
    """(X, W, number of spatial dims or None, kernel shape) of a convolution node."""
    x, w = ctx.input(0), ctx.input(1)
    kernel = ints_attr(ctx, "kernel_shape")
    for t in (x, w):
        if t.shape is not None and len(t.shape) < 3:
            ctx.fail(f"input and weight need rank >= 3, got {t}")
    if w.shape is not None:
        if kernel is not None and len(kernel) == len(w.shape) - 2:
            kernel = [merge_dims([k, d], ctx, "kernel_shape and the weight's spatial dims")
                      for k, d in zip(kernel, w.shape[2:])]
        kernel = kernel or list(w.shape[2:])
    n = len(kernel) if kernel is not None else len(x.shape) - 2 if x.shape is not None else None
    if n is not None and x.shape is not None and len(x.shape) != n + 2:
        ctx.fail(f"a {n}-D kernel does not fit input {x}")
    return x, w, n, kernel or [None] * (n or 0)


def _conv_out(ctx, dtype):
    x, w, n, kernel = _layout(ctx)
    if n is None:
        return [TensorType(dtype)]
    group = ctx.attr("group", 1)
    channels = None
    if w.shape is not None:
        channels = w.shape[0]
        if x.shape is not None:
            merge_dims([x.shape[1], dim_mul(w.shape[1], group)], ctx, "input channels and weight channels x group")
        if is_int(channels) and channels % group:
            ctx.fail(f"{channels} output channels do not split into {group} groups")
    spatial = x.shape[2:] if x.shape is not None else [None] * n
    batch = x.shape[0] if x.shape is not None else None
    return [TensorType(dtype, (batch, channels, *sliding_window(ctx, spatial, kernel)))]


@register("Conv")
def _conv(ctx):
    return _conv_out(ctx, ctx.input(0).dtype)


@register("ConvInteger")
def _conv_integer(ctx):
    return _conv_out(ctx, np.int32)


@register("ConvTranspose")
def _conv_transpose(ctx):
    x, w, n, kernel = _layout(ctx)
    if n is None:
        return [TensorType(x.dtype)]
    channels = None
    if w.shape is not None:
        channels = dim_mul(w.shape[1], ctx.attr("group", 1))
        if x.shape is not None:
            merge_dims([x.shape[1], w.shape[0]], ctx, "input channels and weight dim 0")
    batch = x.shape[0] if x.shape is not None else None
    output_shape = ints_attr(ctx, "output_shape")
    if output_shape is not None:
        return [TensorType(x.dtype, (batch, channels, *output_shape[-n:]))]
    strides, dilations, pads, auto_pad = window_attrs(ctx, n)
    extra = ints_attr(ctx, "output_padding", [0] * n)
    spatial = x.shape[2:] if x.shape is not None else [None] * n
    out = []
    for i, (d, k, s) in enumerate(zip(spatial, kernel, strides)):
        if not (is_int(d) and is_int(k)):
            out.append(None)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(d * s)
        else:
            total_pad = 0 if auto_pad == "VALID" else pads[i] + pads[i + n]
            out.append(s * (d - 1) + extra[i] + (k - 1) * dilations[i] + 1 - total_pad)
    return [TensorType(x.dtype, (batch, channels, *out))]
