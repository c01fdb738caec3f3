"""Dim arithmetic and argument readers shared by the op families.

A dim is an `int`, a symbol (`str`) or None (unknown). Arithmetic on a symbol gives None except
where the result is the symbol itself (`d * 1`, `d + 0`), which is also how ONNX's inference
treats them.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import ShapeError
from graphc.ops.registry import broadcast, norm_axis

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
    known = {int(d) for d in dims if is_int(d)}
    if len(known) > 1:
        ctx.fail(f"{what}: sizes {sorted(known)} differ")
    if known:
        return known.pop()
    return next((d for d in dims if d is not None), None)


def broadcast_shapes(ctx, *shapes):
    """`registry.broadcast`, failing with the node's name."""
    try:
        return broadcast(*shapes)
    except ShapeError as e:
        ctx.fail(str(e))


def str_attr(ctx, name: str, default: str) -> str:
    v = ctx.attr(name, default)
    return v.decode() if isinstance(v, bytes) else v


def ints(value) -> list[int]:
    return [int(v) for v in np.asarray(value).reshape(-1)]


def ints_attr(ctx, name: str, default=None):
    """Int-list attribute `name` as a list (attributes may arrive as lists, tuples or arrays)."""
    v = ctx.attr(name)
    return default if v is None else ints(v)


def ints_arg(ctx, port: int | None, attr: str | None = None):
    """An int-list argument given as input `port` (newer opsets) or attribute `attr` (older ones):
    a list, None when absent, or DYNAMIC when its input is not a constant."""
    if port is not None and ctx.has(port):
        v = ctx.const(port)
        return DYNAMIC if v is None else ints(v)
    return None if attr is None else ints_attr(ctx, attr)


def const_scalar(ctx, port: int):
    """The single value of constant input `port`, or None."""
    v = ctx.const(port)
    return None if v is None or np.size(v) != 1 else np.asarray(v).reshape(-1)[0].item()


def vector_length(ctx, port: int):
    """The length of 1-D input `port` as known from its type (None when unknown)."""
    s = ctx.input(port).shape
    return s[0] if s is not None and len(s) == 1 and is_int(s[0]) else None


def window_attrs(ctx, n: int):
    """strides, dilations, pads and auto_pad of a window over `n` spatial dims, defaults filled in."""
    strides = ints_attr(ctx, "strides", [1] * n)
    dilations = ints_attr(ctx, "dilations", [1] * n)
    pads = ints_attr(ctx, "pads", [0] * (2 * n))
    if len(strides) != n or len(dilations) != n or len(pads) != 2 * n:
        ctx.fail(f"strides {strides}, dilations {dilations}, pads {pads} do not fit {n} spatial dims")
    if min(strides + dilations, default=1) <= 0:
        ctx.fail(f"strides {strides} and dilations {dilations} must be positive")
    auto_pad = str_attr(ctx, "auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        ctx.fail(f"unknown auto_pad {auto_pad!r}")
    return strides, dilations, pads, auto_pad


def sliding_window(ctx, spatial, kernel, ceil_mode: bool = False):
    """Output spatial dims of a convolution or pooling window sliding over `spatial`."""
    n = len(kernel)
    if len(spatial) != n:
        ctx.fail(f"kernel has {n} spatial dims but the input has {len(spatial)}")
    strides, dilations, pads, auto_pad = window_attrs(ctx, n)
    out = []
    for i, (d, k, s) in enumerate(zip(spatial, kernel, strides)):
        if not is_int(d) or not is_int(k):
            out.append(None)
            continue
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(-(-d // s))
            continue
        span = (k - 1) * dilations[i] + 1
        begin, end = (0, 0) if auto_pad == "VALID" else (pads[i], pads[i + n])
        room = d + begin + end - span
        if room < 0:
            ctx.fail(f"window {span} is larger than padded input {d + begin + end} on spatial axis {i}")
        steps = -(-room // s) if ceil_mode else room // s
        # in ceil mode the last window must start inside the input or the begin padding
        # (ONNX Runtime and onnx.reference agree; ONNX's own shape inference does not drop it)
        if ceil_mode and steps * s >= d + begin:
            steps -= 1
        out.append(steps + 1)
    return out


def normalized_axes(ctx, axes, rank: int) -> list[int]:
    out = [norm_axis(a, rank, ctx) for a in axes]
    if len(set(out)) != len(out):
        ctx.fail(f"axes {axes} repeat an axis")
    return out

