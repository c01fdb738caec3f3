"""Convolutions: Conv, ConvInteger and ConvTranspose over N-D inputs laid out (N, C, D1, ..., Dn)."""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import dim_mul, is_int, merge_dims, sliding_window, str_attr
from graphc.ops.registry import register
from graphc.types import TensorType


def _spatial_rank(ctx, x, w):
    kernel = ctx.attr("kernel_shape")
    if kernel is not None:
        return len(kernel)
    for t in (x, w):
        if t.shape is not None:
            if len(t.shape) < 3:
                ctx.fail(f"input and weight need rank >= 3, got {t}")
            return len(t.shape) - 2
    return None


def _kernel(ctx, w, n):
    kernel = ctx.attr("kernel_shape")
    if kernel is not None:
        return [int(k) for k in kernel]
    return list(w.shape[2:]) if w.shape is not None else [None] * n


def _check_channels(ctx, x, channels):
    if x.shape is not None:
        merge_dims([x.shape[1], channels], ctx, "input channels and weight channels x group")


def _conv_out(ctx, dtype):
    x, w = ctx.input(0), ctx.input(1)
    n = _spatial_rank(ctx, x, w)
    if n is None:
        return [TensorType(dtype)]
    group = ctx.attr("group", 1)
    m = None
    if w.shape is not None:
        _check_channels(ctx, x, dim_mul(w.shape[1], group))
        m = w.shape[0]
    if is_int(m) and m % group:
        ctx.fail(f"{m} output channels do not split into {group} groups")
    spatial = list(x.shape[2:]) if x.shape is not None else [None] * n
    out = sliding_window(ctx, spatial, _kernel(ctx, w, n), strides=ctx.attr("strides"),
                         dilations=ctx.attr("dilations"), pads=ctx.attr("pads"),
                         auto_pad=str_attr(ctx, "auto_pad", "NOTSET"))
    batch = x.shape[0] if x.shape is not None else None
    return [TensorType(dtype, (batch, m, *out))]


@register("Conv", lowering="template")
def _conv(ctx):
    return _conv_out(ctx, ctx.input(0).dtype)


@register("ConvInteger", lowering="template")
def _conv_integer(ctx):
    return _conv_out(ctx, np.int32)


@register("ConvTranspose", lowering="template")
def _conv_transpose(ctx):
    x, w = ctx.input(0), ctx.input(1)
    n = _spatial_rank(ctx, x, w)
    if n is None:
        return [TensorType(x.dtype)]
    group = ctx.attr("group", 1)
    if w.shape is not None:
        _check_channels(ctx, x, w.shape[0])
    channels = dim_mul(w.shape[1], group) if w.shape is not None else None
    batch = x.shape[0] if x.shape is not None else None
    output_shape = ctx.attr("output_shape")
    if output_shape is not None:
        return [TensorType(x.dtype, (batch, channels, *[int(d) for d in output_shape[-n:]]))]
    spatial = list(x.shape[2:]) if x.shape is not None else [None] * n
    kernel = _kernel(ctx, w, n)
    strides = list(ctx.attr("strides") or [1] * n)
    dilations = list(ctx.attr("dilations") or [1] * n)
    extra = list(ctx.attr("output_padding") or [0] * n)
    auto_pad = str_attr(ctx, "auto_pad", "NOTSET")
    pads = [0] * (2 * n) if auto_pad != "NOTSET" else list(ctx.attr("pads") or [0] * (2 * n))
    out = []
    for i, d in enumerate(spatial):
        if not (is_int(d) and is_int(kernel[i])):
            out.append(None)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(d * strides[i])
        else:
            out.append(strides[i] * (d - 1) + extra[i] + (kernel[i] - 1) * dilations[i] + 1
                       - pads[i] - pads[i + n])
    return [TensorType(x.dtype, (batch, channels, *out))]
