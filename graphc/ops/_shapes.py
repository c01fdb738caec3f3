"""Dim arithmetic and argument readers shared by the op families.

A dim is an `int`, a symbol (`str`) or None (unknown). Arithmetic on a symbol gives None except
where the result is the symbol itself (`d * 1`, `d + 0`), which is also how ONNX's inference
treats them.
"""
from __future__ import annotations

import math

import numpy as np

DYNAMIC = object()  # an argument fed by a tensor whose value is not known at compile time


def is_int(d) -> bool:
    return isinstance(d, (int, np.integer)) and not isinstance(d, bool)


def dim_add(a, b):
    if is_int(a) and is_int(b):
        return int(a) + int(b)
    if b == 0:
        return a
    return b if a == 0 else None


def dim_mul(a, b):
    if is_int(a) and is_int(b):
        return int(a) * int(b)
    if b == 1:
        return a
    return b if a == 1 else None


def dim_prod(dims):
    out = 1
    for d in dims:
        out = dim_mul(out, d)
    return out


def dim_div(a, b):
    """`a / b` for a dim known to be a multiple of `b`; None when it is not."""
    if b == 1:
        return a
    if is_int(a) and is_int(b) and b and a % b == 0:
        return a // b
    return None


def merge_dims(dims, ctx, what: str):
    """The one dim several dims describe: the first int, else the first symbol; fails when two
    ints differ."""
    ints = {int(d) for d in dims if is_int(d)}
    if len(ints) > 1:
        ctx.fail(f"{what}: sizes {sorted(ints)} differ")
    if ints:
        return ints.pop()
    return next((d for d in dims if d is not None), None)


def str_attr(ctx, name: str, default: str) -> str:
    v = ctx.attr(name, default)
    return v.decode() if isinstance(v, bytes) else v


def ints(value) -> list[int]:
    return [int(v) for v in np.asarray(value).reshape(-1)]


def ints_arg(ctx, port: int | None, attr: str | None = None):
    """An int-list argument given as input `port` (newer opsets) or attribute `attr` (older ones):
    a list, None when absent, or DYNAMIC when its input is not a constant."""
    if port is not None and ctx.has(port):
        v = ctx.const(port)
        return DYNAMIC if v is None else ints(v)
    if attr is not None and ctx.attr(attr) is not None:
        return ints(ctx.attr(attr))
    return None


def const_scalar(ctx, port: int):
    """The single value of constant input `port`, or None."""
    v = ctx.const(port)
    return None if v is None or np.size(v) != 1 else np.asarray(v).reshape(-1)[0].item()


def vector_length(ctx, port: int):
    """The length of 1-D input `port` as known from its type (None when unknown)."""
    s = ctx.input(port).shape
    return s[0] if s is not None and len(s) == 1 and is_int(s[0]) else None


def sliding_window(ctx, spatial, kernel, *, strides=None, dilations=None, pads=None,
                   auto_pad="NOTSET", ceil_mode=False):
    """Output spatial dims of a convolution or pooling window sliding over `spatial`."""
    n = len(kernel)
    if len(spatial) != n:
        ctx.fail(f"kernel has {n} spatial dims but the input has {len(spatial)}")
    strides = list(strides or [1] * n)
    dilations = list(dilations or [1] * n)
    pads = list(pads or [0] * (2 * n))
    if len(strides) != n or len(dilations) != n or len(pads) != 2 * n:
        ctx.fail(f"strides {strides}, dilations {dilations}, pads {pads} do not fit {n} spatial dims")
    if any(s <= 0 for s in strides) or any(d <= 0 for d in dilations):
        ctx.fail(f"strides {strides} and dilations {dilations} must be positive")
    out = []
    for i, d in enumerate(spatial):
        k = kernel[i]
        if not is_int(d) or not is_int(k):
            out.append(None)
            continue
        span = (k - 1) * dilations[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(-(-d // strides[i]))
            continue
        begin, end = (0, 0) if auto_pad == "VALID" else (pads[i], pads[i + n])
        room = d + begin + end - span
        if room < 0:
            ctx.fail(f"window {span} is larger than padded input {d + begin + end} on spatial axis {i}")
        steps = -(-room // strides[i]) if ceil_mode else room // strides[i]
        # in ceil mode the last window must start inside the input or the begin padding
        if ceil_mode and steps * strides[i] >= d + begin:
            steps -= 1
        out.append(steps + 1)
    return out


def normalized_axes(ctx, axes, rank: int) -> list[int]:
    from graphc.ops.registry import norm_axis

    out = [norm_axis(a, rank, ctx) for a in axes]
    if len(set(out)) != len(out):
        ctx.fail(f"axes {axes} repeat an axis")
    return out


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


__all__ = ["DYNAMIC", "is_int", "dim_add", "dim_mul", "dim_prod", "dim_div", "merge_dims", "str_attr",
           "ints", "ints_arg", "const_scalar", "vector_length", "sliding_window", "normalized_axes",
           "ceil_div", "math"]
