"""Convolutions: Conv, ConvInteger and ConvTranspose over inputs laid out (N, C, D1, ..., Dn)."""
from __future__ import annotations

import numpy as np

from graphc.ops._shapes import dim_mul, ints_attr, is_int, merge_dims, sliding_window, window_attrs
from graphc.ops.gradient import gradient
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


@gradient("Conv")
def _conv_grad(ctx):
    g, (x, w, *b) = ctx.output_grads[0], ctx.inputs
    kernel = list(ctx.input_types[1].shape[2:])
    strides, dilations, pads = static_window(ctx, ctx.input_types[0], kernel)
    group = ctx.attr("group", 1)
    return [transposed_window(ctx, g, w, ctx.input_types[0].shape[2:], kernel, strides, dilations, pads, group)
            if ctx.needs(0) else None,
            weight_window_grad(ctx, x, g, kernel, strides, dilations, pads, group) if ctx.needs(1) else None,
            ] + ([bias_grad(ctx, g) if ctx.needs(2) else None] if b else [])


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


@gradient("ConvTranspose")
def _conv_transpose_grad(ctx):
    """The input gradient is the Conv that ConvTranspose is the adjoint of; the weight gradient is
    the Conv weight gradient with the input and `g` in each other's places."""
    g, (x, w, *b) = ctx.output_grads[0], ctx.inputs
    if ctx.attr("output_shape") is not None or ctx.attr("auto_pad", "NOTSET") != "NOTSET":
        ctx.fail("output_shape and auto_pad are not differentiated; give explicit pads and output_padding")
    kernel = list(ctx.input_types[1].shape[2:])
    strides, dilations, pads, _ = window_attrs(ctx, len(kernel))
    group = ctx.attr("group", 1)
    return [ctx.emit("Conv", g, w, strides=strides, dilations=dilations, pads=pads, group=group)
            if ctx.needs(0) else None,
            weight_window_grad(ctx, g, x, kernel, strides, dilations, pads, group) if ctx.needs(1) else None,
            ] + ([bias_grad(ctx, g) if ctx.needs(2) else None] if b else [])


# ---- gradient rules ------------------------------------------------------------------------
# A convolution's input gradient is the transposed convolution of `g` with the same weights;
# its weight gradient is a convolution of the input with `g`, batch and channels swapped
# (strides and dilations trade places). Spatial dims must be static (the sizes fix the pads).

def static_window(ctx, x_type, kernel):
    """(strides, dilations, explicit pads) of a window node over static input `x_type`."""
    n = len(kernel)
    spatial = list(x_type.shape[2:]) if x_type.shape is not None else []
    if len(spatial) != n or not all(is_int(d) for d in spatial + list(kernel)):
        ctx.fail(f"input {x_type} and kernel {list(kernel)} need static spatial dims to differentiate")
    strides, dilations, pads, auto_pad = window_attrs(ctx, n)
    if auto_pad == "VALID":
        pads = [0] * (2 * n)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * n)
        for i, (d, k, s, dl) in enumerate(zip(spatial, kernel, strides, dilations)):
            total = max(0, (-(-d // s) - 1) * s + (k - 1) * dl + 1 - d)
            pads[i] = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
            pads[i + n] = total - pads[i]
    return list(strides), list(dilations), list(pads)


def spatial_axes(rank: int) -> list[int]:
    return list(range(2, rank))


def transposed_window(ctx, g, w, sizes, kernel, strides, dilations, pads, group: int = 1):
    """ConvTranspose(g, w) cut or grown to the spatial `sizes` of the forward input."""
    n = len(sizes)
    g_sp = ctx.graph.type_of(g).shape[2:]
    natural = [s * (o - 1) + (k - 1) * dl + 1 - pads[i] - pads[i + n]
               for i, (o, k, s, dl) in enumerate(zip(g_sp, kernel, strides, dilations))]
    extra = [d - m for d, m in zip(sizes, natural)]
    out = ctx.emit("ConvTranspose", g, w, strides=strides, dilations=dilations, pads=pads, group=group,
                   output_padding=[max(e, 0) for e in extra])
    if min(extra) < 0:  # a ceil-mode window past the end: drop what lies outside the input
        out = ctx.emit("Slice", out, ctx.ints([0] * n), ctx.ints(list(sizes)), ctx.ints(spatial_axes(n + 2)))
    return out


def weight_window_grad(ctx, inp, out_grad, kernel, strides, dilations, pads, group: int = 1):
    """sum over batch and positions of inp[n, c, o*s + k*d - p] * out_grad[n, m, o], shaped
    (out_grad channels, inp channels / group, *kernel): a Conv with batch and channels swapped."""
    t = ctx.graph.type_of(inp)
    rank, cin = len(t.shape), t.shape[1]
    swap = [1, 0] + spatial_axes(rank)
    if group == 1:
        x2 = ctx.emit("Transpose", inp, perm=swap)  # (Cin, N, ...)
    else:  # (Cin/G, G*N, ...): group j's batch of channel c sits at j*N + n
        if not is_int(cin):
            ctx.fail(f"a grouped convolution needs static input channels, got {t}")
        sp = [int(d) for d in t.shape[2:]]
        x2 = ctx.emit("Reshape", inp, ctx.ints([0, group, cin // group, *sp]))
        x2 = ctx.emit("Transpose", x2, perm=[2, 1, 0] + [a + 1 for a in spatial_axes(rank)])
        x2 = ctx.emit("Reshape", x2, ctx.ints([cin // group, -1, *sp]))
    w2 = ctx.emit("Transpose", out_grad, perm=swap)  # (Cout, N, ...)
    d = ctx.emit("Conv", x2, w2, strides=dilations, dilations=strides, pads=pads, group=group)
    got = ctx.graph.type_of(d).shape[2:]
    if list(got) != list(kernel):  # the floor of the forward window left positions unread
        d = ctx.emit("Slice", d, ctx.ints([0] * len(kernel)), ctx.ints(list(kernel)), ctx.ints(spatial_axes(rank)))
    return ctx.emit("Transpose", d, perm=swap)


def bias_grad(ctx, g):
    return ctx.emit("ReduceSum", g, ctx.ints([0] + spatial_axes(len(ctx.graph.type_of(g).shape))), keepdims=0)
