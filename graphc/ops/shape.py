"""Shape and data-movement ops: reshaping, slicing, gathering, padding, resizing and friends.

Arguments such as Reshape's target or Slice's starts are read from constant inputs (or from
the attributes older opsets used); when an argument is computed at run time the affected dims,
or the rank, become unknown.
"""
from __future__ import annotations

import math

import numpy as np

from graphc.ops._shapes import (DYNAMIC, broadcast_shapes, const_scalar, dim_add, dim_div, dim_mul, dim_prod,
                                ints, ints_arg, ints_attr, is_int, merge_dims, normalized_axes, str_attr,
                                vector_length)
from graphc.ops.gradient import gradient
from graphc.ops.registry import norm_axis, register, same_as
from graphc.types import TensorType

register("ScatterElements", "ScatterND", "Scatter", "CumSum", "Trilu", "ReverseSequence")(same_as(0))


# ---- gradient rules: shape ops move elements, so their gradients move them back --------------

def _shape_of(ctx, v):
    return ctx.emit("Shape", v)


def _zeros_like(ctx, v):
    return ctx.emit("Expand", ctx.const(0), _shape_of(ctx, v))


def _index_adjoint(ctx, g, reduction: str = "add"):
    """The gradient of an op that only picks elements of input 0 (Slice, Tile, Gather, Pad, ...):
    run the op on a grid of input 0's flat indices, then scatter-add `g` to the indices it picked."""
    x = ctx.inputs[0]
    shape, flat = _shape_of(ctx, x), ctx.ints([-1])
    grid = ctx.emit("Reshape", ctx.emit("Range", ctx.ints(0), ctx.emit("Size", x), ctx.ints(1)), shape)
    picked = ctx.emit(ctx.op, grid, *ctx.inputs[1:], **ctx.attrs)
    zeros = ctx.emit("Reshape", _zeros_like(ctx, x), flat)
    out = ctx.emit("ScatterElements", zeros, ctx.emit("Reshape", picked, flat), ctx.emit("Reshape", g, flat),
                   axis=0, reduction=reduction)
    return ctx.emit("Reshape", out, shape)


def _data_grad(value, n_inputs: int):
    return [value] + [None] * (n_inputs - 1)


def _reshape_back(ctx):
    """Reshape, Flatten, Squeeze, Unsqueeze: the gradient takes input 0's shape again."""
    return _data_grad(ctx.emit("Reshape", ctx.output_grads[0], _shape_of(ctx, ctx.inputs[0])), len(ctx.inputs))

@gradient("CumSum")
def _cumsum_grad(ctx):
    """Each input element reaches every later (or, reversed, earlier) sum: the cumulative sum of
    `g` the other way round, exclusive as the forward one."""
    return [ctx.emit("CumSum", ctx.output_grads[0], ctx.inputs[1], exclusive=ctx.attr("exclusive", 0),
                     reverse=1 - ctx.attr("reverse", 0)), None]


@gradient("Trilu")
def _trilu_grad(ctx):
    return [ctx.emit("Trilu", ctx.output_grads[0], *ctx.inputs[1:], upper=ctx.attr("upper", 1))] + \
        [None] * (len(ctx.inputs) - 1)

@gradient("ScatterElements", "ScatterND")
def _scatter_grad(ctx):
    """Without a reduction: the data keeps the gradient where nothing was written over it, the
    updates take it from where they were written (GatherElements / GatherND)."""
    if ctx.attr("reduction", "none") != "none":
        ctx.fail(f"reduction={ctx.attr('reduction')!r} is not differentiated")
    g, (data, idx, updates) = ctx.output_grads[0], ctx.inputs
    axis = {"axis": ctx.attr("axis", 0)} if ctx.op == "ScatterElements" else {}
    grads = [None, None, None]
    if ctx.needs(0):
        grads[0] = ctx.emit(ctx.op, g, idx, ctx.emit("Expand", ctx.const(0), ctx.emit("Shape", updates)), **axis)
    if ctx.needs(2):
        grads[2] = ctx.emit("GatherElements" if ctx.op == "ScatterElements" else "GatherND", g, idx, **axis)
    return grads


def _unknown_dims(t: TensorType, rank) -> TensorType:
    """`t` with every dim unknown: `rank` of them, or unknown rank when `rank` is None."""
    return t.with_shape(None if rank is None else (None,) * rank)


def _rank_from_vector(ctx, t: TensorType, port: int) -> TensorType:
    """`t` with as many unknown dims as the 1-D input `port` has elements."""
    return _unknown_dims(t, vector_length(ctx, port))


# ---- reshaping ------------------------------------------------------------------------------

def _solve_minus_one(ctx, shape, others):
    """The dim that -1 stands for: the input's size over the other output dims'.

    Dims equal on both sides cancel, so ("batch", 3, 4) -> (-1, 12) gives "batch"."""
    if shape is None:
        return None
    rest = list(shape)
    for d in others:
        if not is_int(d) and d is not None and d in rest:
            rest.remove(d)
        elif not is_int(d):
            return None
    num, den = dim_prod(rest), dim_prod(d for d in others if is_int(d))
    if num is None:
        return None
    if is_int(num):
        if den == 0 or num % den:
            ctx.fail(f"cannot reshape {list(shape)} to a shape with {den} elements per -1 entry")
        return num // den
    return num if den == 1 else None


@register("Reshape")
def _reshape(ctx):
    x = ctx.input(0)
    target = ints_arg(ctx, 1, "shape")
    if target is DYNAMIC:
        return [_rank_from_vector(ctx, x, 1)]
    if target is None:
        ctx.fail("the target shape is missing")
    if target.count(-1) > 1 or any(s < -1 for s in target):
        ctx.fail(f"invalid target shape {target}")
    out = []
    for i, s in enumerate(target):
        if s == 0 and not ctx.attr("allowzero", 0):
            if x.shape is not None and i >= len(x.shape):
                ctx.fail(f"target shape {target} copies dim {i} of a rank-{len(x.shape)} input")
            out.append(x.shape[i] if x.shape is not None else None)
        else:
            out.append(s)
    if -1 in target:
        i = target.index(-1)
        out[i] = _solve_minus_one(ctx, x.shape, out[:i] + out[i + 1:])
    elif x.shape is not None:
        before, after = dim_prod(x.shape), dim_prod(out)
        if is_int(before) and is_int(after) and before != after:
            ctx.fail(f"cannot reshape {list(x.shape)} ({before} elements) to {out} ({after} elements)")
    return [x.with_shape(tuple(out))]


gradient("Reshape")(_reshape_back)


@register("Flatten")
def _flatten(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x.with_shape((None, None))]
    r = len(x.shape)
    axis = ctx.attr("axis", 1)
    if not -r <= axis <= r:
        ctx.fail(f"axis {axis} is out of range for rank {r}")
    if axis < 0:
        axis += r
    return [x.with_shape((dim_prod(x.shape[:axis]), dim_prod(x.shape[axis:])))]


gradient("Flatten")(_reshape_back)


@register("Transpose")
def _transpose(ctx):
    x = ctx.input(0)
    perm = ints_attr(ctx, "perm")
    if x.shape is None:
        return [_unknown_dims(x, None if perm is None else len(perm))]
    perm = list(range(len(x.shape)))[::-1] if perm is None else perm
    if sorted(norm_axis(p, len(x.shape), ctx) for p in perm) != list(range(len(x.shape))):
        ctx.fail(f"perm {perm} is not a permutation of the {len(x.shape)} axes")
    return [x.with_shape(tuple(x.shape[p] for p in perm))]


@gradient("Transpose")
def _transpose_grad(ctx):
    perm = ctx.attr("perm") or list(range(len(ctx.input_types[0].shape)))[::-1]
    return [ctx.emit("Transpose", ctx.output_grads[0], perm=[int(p) for p in np.argsort(perm)])]


@register("Squeeze")
def _squeeze(ctx):
    x = ctx.input(0)
    axes = ints_arg(ctx, 1, "axes")
    if x.shape is None:
        return [x]
    if axes is DYNAMIC:
        k = vector_length(ctx, 1)
        return [_unknown_dims(x, None if k is None else len(x.shape) - k)]
    if axes is None:
        if not all(is_int(d) for d in x.shape):
            return [x.with_shape(None)]
        return [x.with_shape(tuple(d for d in x.shape if d != 1))]
    axes = normalized_axes(ctx, axes, len(x.shape))
    for a in axes:
        if is_int(x.shape[a]) and x.shape[a] != 1:
            ctx.fail(f"cannot squeeze axis {a} of size {x.shape[a]}")
    return [x.with_shape(tuple(d for i, d in enumerate(x.shape) if i not in axes))]


gradient("Squeeze")(_reshape_back)


@register("Unsqueeze")
def _unsqueeze(ctx):
    x = ctx.input(0)
    axes = ints_arg(ctx, 1, "axes")
    if axes is None:
        ctx.fail("axes are missing")
    if axes is DYNAMIC:
        k = vector_length(ctx, 1)
        return [_unknown_dims(x, None if k is None or x.shape is None else len(x.shape) + k)]
    if x.shape is None:
        return [x]
    axes = normalized_axes(ctx, axes, len(x.shape) + len(axes))
    dims = iter(x.shape)
    return [x.with_shape(tuple(1 if i in axes else next(dims) for i in range(len(x.shape) + len(axes))))]


gradient("Unsqueeze")(_reshape_back)


@register("Expand")
def _expand(ctx):
    x = ctx.input(0)
    shape = ints_arg(ctx, 1)
    if shape is not DYNAMIC:
        return [x.with_shape(broadcast_shapes(ctx, x.shape, tuple(shape)))]
    k = vector_length(ctx, 1)
    if k is None or x.shape is None:
        return [x.with_shape(None)]
    # a dim other than 1 survives any target; 1s and symbols may grow
    kept = [d if is_int(d) and d != 1 else None for d in x.shape]
    return [x.with_shape((None,) * max(k - len(kept), 0) + tuple(kept))]


@gradient("Expand")
def _expand_grad(ctx):
    g, x = ctx.output_grads[0], ctx.input_types[0]
    out = ctx.output_types[0]
    # the summed axes are known from static shapes; otherwise pick them by the index grid
    static = x.shape is not None and out.shape is not None and all(
        d == 1 or d == o for d, o in zip(x.shape, out.shape[len(out.shape) - len(x.shape):]))
    return _data_grad(ctx.unbroadcast(g, 0) if static else _index_adjoint(ctx, g), 2)


# ---- joining and splitting ------------------------------------------------------------------

@register("Concat")
def _concat(ctx):
    types = [ctx.input(i) for i in range(len(ctx.values)) if ctx.has(i)]
    if not types:
        ctx.fail("Concat needs at least one input")
    shapes = [t.shape for t in types if t.shape is not None]
    if not shapes:
        return [types[0]]
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        ctx.fail(f"inputs of ranks {[len(s) for s in shapes]} cannot be joined")
    axis = norm_axis(ctx.attr("axis"), rank, ctx)
    out = [merge_dims([s[i] for s in shapes], ctx, f"dim {i} of the inputs") if i != axis else None
           for i in range(rank)]
    total = 0
    for t in types:
        total = dim_add(total, None if t.shape is None else t.shape[axis])
    out[axis] = total
    return [types[0].with_shape(tuple(out))]


@gradient("Concat")
def _concat_grad(ctx):
    rank = len(ctx.input_types[0].shape)
    axis = norm_axis(ctx.attr("axis"), rank)
    sizes = [t.shape[axis] for t in ctx.input_types]
    if not all(is_int(d) for d in sizes):
        ctx.fail(f"the joined dims {sizes} must be static to split the gradient")
    parts = ctx.emit("Split", ctx.output_grads[0], ctx.ints(sizes), axis=axis, n_outputs=len(sizes))
    parts = [parts] if len(sizes) == 1 else parts
    return [p if ctx.needs(i) else None for i, p in enumerate(parts)]


@register("Split")
def _split(ctx):
    x = ctx.input(0)
    split = ints_arg(ctx, 1, "split") or None  # an empty split means equal parts
    n = len(split) if isinstance(split, list) else ctx.attr("num_outputs") or ctx.n_outputs
    if ctx.n_outputs and n != ctx.n_outputs:
        ctx.fail(f"{n} parts for {ctx.n_outputs} outputs")
    if x.shape is None:
        return [x] * n
    axis = norm_axis(ctx.attr("axis", 0), len(x.shape), ctx)
    d = x.shape[axis]
    if split is DYNAMIC:
        sizes = [None] * n
    elif split is not None:
        if is_int(d) and sum(split) != d:
            ctx.fail(f"split {split} does not add up to dim {d}")
        sizes = split
    elif not is_int(d):
        sizes = [None] * n
    elif ctx.attr("num_outputs") is not None:
        chunk = -(-d // n)
        sizes = [chunk] * (n - 1) + [d - chunk * (n - 1)]
    elif d % n:
        ctx.fail(f"dim {d} does not split into {n} equal parts")
    else:
        sizes = [d // n] * n
    return [x.with_shape(x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in sizes]


@gradient("Split")
def _split_grad(ctx):
    grads = [g if g is not None else _zeros_like(ctx, y) for g, y in zip(ctx.output_grads, ctx.outputs)]
    return _data_grad(ctx.emit("Concat", *grads, axis=ctx.attr("axis", 0)), len(ctx.inputs))


@register("Tile")
def _tile(ctx):
    x = ctx.input(0)
    repeats = ints_arg(ctx, 1)
    if x.shape is None:
        return [x]
    if repeats is DYNAMIC:
        return [_unknown_dims(x, len(x.shape))]
    if len(repeats) != len(x.shape):
        ctx.fail(f"{len(repeats)} repeats for a rank-{len(x.shape)} input")
    return [x.with_shape(tuple(dim_mul(d, r) for d, r in zip(x.shape, repeats)))]


@gradient("Tile")
def _tile_grad(ctx):
    return _data_grad(_index_adjoint(ctx, ctx.output_grads[0]), 2)


# ---- slicing and padding --------------------------------------------------------------------

def _slice_len(d: int, start: int, end: int, step: int) -> int:
    if start < 0:
        start += d
    if end < 0:
        end += d
    if step > 0:
        start, end = min(max(start, 0), d), min(max(end, 0), d)
    else:
        start, end = min(max(start, 0), d - 1), min(max(end, -1), d - 1)
    return max(0, math.ceil((end - start) / step))


@register("Slice")
def _slice(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x]
    starts, ends = ints_arg(ctx, 1, "starts"), ints_arg(ctx, 2, "ends")
    axes, steps = ints_arg(ctx, 3, "axes"), ints_arg(ctx, 4)
    if starts is None or ends is None:
        ctx.fail("starts and ends are required")
    rank = len(x.shape)
    if axes is DYNAMIC:
        return [_unknown_dims(x, rank)]
    if axes is None:
        n = len(starts) if isinstance(starts, list) else vector_length(ctx, 1)
        if n is None:
            return [_unknown_dims(x, rank)]
        axes = list(range(n))
    axes = normalized_axes(ctx, axes, rank)
    out = list(x.shape)
    if any(v is DYNAMIC for v in (starts, ends, steps)):
        for a in axes:
            out[a] = None
        return [x.with_shape(tuple(out))]
    steps = steps or [1] * len(axes)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        ctx.fail(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} differ in length")
    if 0 in steps:
        ctx.fail("steps cannot be 0")
    for a, b, e, s in zip(axes, starts, ends, steps):
        out[a] = _slice_len(out[a], b, e, s) if is_int(out[a]) else None
    return [x.with_shape(tuple(out))]


@gradient("Slice")
def _slice_grad(ctx):
    return _data_grad(_index_adjoint(ctx, ctx.output_grads[0], "none"), len(ctx.inputs))


@register("Pad")
def _pad(ctx):
    x = ctx.input(0)
    pads = ints_arg(ctx, 1, "pads")
    if pads is None:
        pads = ints_arg(ctx, None, "paddings")  # Pad-1
    if x.shape is None:
        return [x]
    rank = len(x.shape)
    axes = ints_arg(ctx, 3)
    if axes is DYNAMIC:
        return [_unknown_dims(x, rank)]
    axes = list(range(rank)) if axes is None else normalized_axes(ctx, axes, rank)
    out = list(x.shape)
    if pads is DYNAMIC:
        for a in axes:
            out[a] = None
        return [x.with_shape(tuple(out))]
    if pads is None or len(pads) != 2 * len(axes):
        ctx.fail(f"pads {pads} do not fit {len(axes)} padded axes")
    for i, a in enumerate(axes):
        out[a] = dim_add(out[a], pads[i] + pads[i + len(axes)])
    return [x.with_shape(tuple(out))]


@gradient("Pad")
def _pad_grad(ctx):
    """Constant padding: the gradient is the middle of `g`, a Slice; reflect/edge/wrap padding copies
    elements, so their gradients add up through the index grid."""
    g, n = ctx.output_grads[0], len(ctx.inputs)
    if ctx.attr("mode", "constant") != "constant":
        return _data_grad(_index_adjoint(ctx, g), n)
    pads = ctx.graph.const_value(ctx.inputs[1]) if n > 1 else None
    if pads is None:
        ctx.fail("the pads must be a constant")
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    rank = len(ctx.input_types[0].shape)
    axes = ctx.graph.const_value(ctx.inputs[3]) if n > 3 and ctx.inputs[3] is not None else range(rank)
    axes = [norm_axis(int(a), rank) for a in axes]
    k = len(axes)
    if min(pads, default=0) < 0:
        ctx.fail(f"negative pads {pads} (cropping) are not differentiated; use a Slice")
    ends = [-e if e else np.iinfo(np.int64).max for e in pads[k:]]
    return _data_grad(ctx.emit("Slice", g, ctx.ints(pads[:k]), ctx.ints(ends), ctx.ints(axes)), n)


@register("CenterCropPad")
def _center_crop_pad(ctx):
    x = ctx.input(0)
    shape = ints_arg(ctx, 1)
    if shape is None:
        ctx.fail("the target shape is missing")
    if x.shape is None:
        return [x]
    axes = normalized_axes(ctx, ints_attr(ctx, "axes", range(len(x.shape))), len(x.shape))
    if shape is not DYNAMIC and len(shape) != len(axes):
        ctx.fail(f"target shape {shape} does not fit axes {axes}")
    out = list(x.shape)
    for i, a in enumerate(axes):
        out[a] = None if shape is DYNAMIC else shape[i]
    return [x.with_shape(tuple(out))]


# ---- gathering ------------------------------------------------------------------------------

@register("Gather")
def _gather(ctx):
    data, idx = ctx.input(0), ctx.input(1)
    if data.shape is None or idx.shape is None:
        return [data.with_shape(None)]
    axis = norm_axis(ctx.attr("axis", 0), len(data.shape), ctx)
    return [data.with_shape(data.shape[:axis] + idx.shape + data.shape[axis + 1:])]


@gradient("Gather")
def _gather_grad(ctx):
    """Axis 0 (an embedding): ScatterND adds each gathered row's gradient to its row; other axes
    go through the index grid."""
    g, (data, idx) = ctx.output_grads[0], ctx.inputs
    if norm_axis(ctx.attr("axis", 0), len(ctx.input_types[0].shape)) != 0:
        return [_index_adjoint(ctx, g), None]
    if ctx.input_types[1].dtype != np.int64:  # ScatterND takes int64 indices only (Keras feeds int32)
        idx = ctx.emit("Cast", idx, to=7)
    rows = ctx.emit("Unsqueeze", idx, ctx.ints([-1]))
    return [ctx.emit("ScatterND", _zeros_like(ctx, data), rows, g, reduction="add"), None]


@register("GatherElements")
def _gather_elements(ctx):
    return [ctx.input(0).with_shape(ctx.input(1).shape)]


@gradient("GatherElements")
def _gather_elements_grad(ctx):
    g, (data, idx) = ctx.output_grads[0], ctx.inputs
    return [ctx.emit("ScatterElements", _zeros_like(ctx, data), idx, g, axis=ctx.attr("axis", 0), reduction="add"),
            None]


@register("GatherND")
def _gather_nd(ctx):
    data, idx = ctx.input(0), ctx.input(1)
    b = ctx.attr("batch_dims", 0)
    if data.shape is None or idx.shape is None or not is_int(idx.shape[-1]):
        return [data.with_shape(None)]
    k = idx.shape[-1]
    if b + k > len(data.shape):
        ctx.fail(f"indices of depth {k} after {b} batch dims do not fit data {data}")
    return [data.with_shape(idx.shape[:-1] + data.shape[b + k:])]


@gradient("GatherND")
def _gather_nd_grad(ctx):
    g, (data, idx) = ctx.output_grads[0], ctx.inputs
    if ctx.attr("batch_dims", 0):
        ctx.fail("batch_dims > 0 is not differentiated")
    return [ctx.emit("ScatterND", _zeros_like(ctx, data), idx, g, reduction="add"), None]


@register("Compress")
def _compress(ctx):
    x = ctx.input(0)
    axis = ctx.attr("axis")
    if axis is None:
        return [x.with_shape((None,))]
    if x.shape is None:
        return [x]
    axis = norm_axis(axis, len(x.shape), ctx)
    return [x.with_shape(x.shape[:axis] + (None,) + x.shape[axis + 1:])]


@register("NonZero")
def _nonzero(ctx):
    return [TensorType(np.int64, (ctx.input(0).rank, None))]


@register("TopK")
def _topk(ctx):
    x = ctx.input(0)
    k = ints_arg(ctx, 1, "k")
    if x.shape is not None:
        axis = norm_axis(ctx.attr("axis", -1), len(x.shape), ctx)
        d = None if k is DYNAMIC or k is None else k[0]
        if is_int(x.shape[axis]) and is_int(d) and d > x.shape[axis]:
            ctx.fail(f"k={d} exceeds dim {x.shape[axis]}")
        x = x.with_shape(x.shape[:axis] + (d,) + x.shape[axis + 1:])
    return [x, x.with_dtype(np.int64)]


@gradient("TopK")
def _topk_grad(ctx):
    """The values' gradient goes back to where they were taken from (the Indices output)."""
    g = ctx.output_grads[0]
    return [ctx.emit("ScatterElements", _zeros_like(ctx, ctx.inputs[0]), ctx.outputs[1], g,
                     axis=ctx.attr("axis", -1), reduction="add"), None]


# ---- shape queries and generators -----------------------------------------------------------

@register("Shape")
def _shape(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [TensorType(np.int64, (None,))]
    r = len(x.shape)
    start, end = ctx.attr("start", 0), ctx.attr("end", r)
    start, end = (min(max(v + r if v < 0 else v, 0), r) for v in (start, end))
    return [TensorType(np.int64, (max(end - start, 0),))]


@register("Size")
def _size(ctx):
    return [TensorType(np.int64, ())]


@register("ConstantOfShape")
def _constant_of_shape(ctx):
    value = ctx.attr("value")
    t = TensorType(np.float32 if value is None else np.asarray(value).dtype)
    shape = ints_arg(ctx, 0)
    if shape is DYNAMIC:
        return [_rank_from_vector(ctx, t, 0)]
    return [t.with_shape(tuple(shape))]


@register("Range")
def _range(ctx):
    start, limit, delta = (const_scalar(ctx, i) for i in range(3))
    dtype = ctx.input(0).dtype
    if None in (start, limit, delta):
        return [TensorType(dtype, (None,))]
    if delta == 0:
        ctx.fail("delta cannot be 0")
    return [TensorType(dtype, (max(math.ceil((limit - start) / delta), 0),))]


@register("OneHot")
def _one_hot(ctx):
    idx = ctx.input(0)
    depth = const_scalar(ctx, 1)
    t = TensorType(ctx.input(2).dtype)
    if idx.shape is None:
        return [t]
    axis = norm_axis(ctx.attr("axis", -1), len(idx.shape) + 1, ctx)
    d = None if depth is None else int(depth)
    return [t.with_shape(idx.shape[:axis] + (d,) + idx.shape[axis:])]


# ---- block rearrangement and resizing -------------------------------------------------------

def _blocks(ctx):
    """The input, its 4-D shape (or None) and the blocksize of a DepthToSpace/SpaceToDepth."""
    x, b = ctx.input(0), ctx.attr("blocksize")
    if not b or b < 1:
        ctx.fail(f"blocksize must be a positive int, got {b!r}")
    if x.shape is not None and len(x.shape) != 4:
        ctx.fail(f"input must be 4-D, got {x}")
    return x, x.shape, b


@register("DepthToSpace")
def _depth_to_space(ctx):
    x, s, b = _blocks(ctx)
    if s is None:
        return [x]
    if is_int(s[1]) and s[1] % (b * b):
        ctx.fail(f"{s[1]} channels do not divide by blocksize² = {b * b}")
    return [x.with_shape((s[0], dim_div(s[1], b * b), dim_mul(s[2], b), dim_mul(s[3], b)))]


@register("SpaceToDepth")
def _space_to_depth(ctx):
    x, s, b = _blocks(ctx)
    if s is None:
        return [x]
    for d in s[2:]:
        if is_int(d) and d % b:
            ctx.fail(f"spatial dim {d} does not divide by blocksize {b}")
    return [x.with_shape((s[0], dim_mul(s[1], b * b), dim_div(s[2], b), dim_div(s[3], b)))]


@gradient("DepthToSpace", "SpaceToDepth")
def _depth_space_grad(ctx):
    return [_index_adjoint(ctx, ctx.output_grads[0], "none")]


def _float_arg(ctx, port: int):
    """Constant float input `port`: an array, None when absent or empty, DYNAMIC when computed."""
    if not ctx.has(port):
        return None
    v = ctx.const(port)
    if v is None:
        return None if vector_length(ctx, port) == 0 else DYNAMIC
    return np.asarray(v).reshape(-1) if np.size(v) else None


def _scaled(d, scale) -> object:
    if scale == 1:
        return d
    # float32 product, as the runtimes compute it
    return int(math.floor(np.float32(d) * np.float32(scale))) if is_int(d) else None


def _resize_shape(ctx, x, scales, sizes, axes):
    rank = len(x.shape)
    axes = list(range(rank)) if axes is None else normalized_axes(ctx, axes, rank)
    out = list(x.shape)
    if (scales is None) == (sizes is None):
        ctx.fail("exactly one of scales and sizes must be given")
    if scales is DYNAMIC or sizes is DYNAMIC:
        for a in axes:
            out[a] = None
        return tuple(out)
    given = scales if sizes is None else sizes
    if len(given) != len(axes):
        ctx.fail(f"{len(given)} scales or sizes for {len(axes)} axes")
    if scales is not None:
        for a, s in zip(axes, scales):
            out[a] = _scaled(out[a], s)
        return tuple(out)
    policy = str_attr(ctx, "keep_aspect_ratio_policy", "stretch")
    if policy == "stretch":
        for a, s in zip(axes, ints(sizes)):
            out[a] = s
        return tuple(out)
    if not all(is_int(out[a]) for a in axes):
        for a in axes:
            out[a] = None
        return tuple(out)
    ratios = [s / out[a] for a, s in zip(axes, ints(sizes))]
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    for a in axes:
        out[a] = int(math.floor(scale * out[a] + 0.5))
    return tuple(out)


@register("Resize")
def _resize(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x]
    if ctx.opset < 11:
        scales, sizes = _float_arg(ctx, 1), None
    else:
        scales, sizes = _float_arg(ctx, 2), _float_arg(ctx, 3)
    return [x.with_shape(_resize_shape(ctx, x, scales, sizes, ints_attr(ctx, "axes")))]


@gradient("Resize")
def _resize_grad(ctx):
    """Resize is separable and linear in X (nearest, linear and cubic alike): along each resized
    axis it multiplies by an (n, m) matrix, which is the same Resize applied to eye(n) along its
    second axis; the gradient multiplies `g` by each matrix transposed. Needs static dims and
    constant scales or sizes; tf_crop_and_resize (roi) and keep_aspect_ratio_policy are refused."""
    g, x = ctx.output_grads[0], ctx.inputs[0]
    xt, yt = ctx.input_types[0], ctx.output_types[0]
    if ctx.attr("coordinate_transformation_mode") == "tf_crop_and_resize" or \
            ctx.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        ctx.fail("tf_crop_and_resize and keep_aspect_ratio_policy are not differentiated")
    if not (xt.is_static and yt.is_static):
        ctx.fail(f"input {xt} and output {yt} need static shapes")
    rank = len(xt.shape)
    axes = ctx.attr("axes") or list(range(rank))
    axes = [norm_axis(a, rank) for a in axes]
    scales = ctx.graph.const_value(ctx.inputs[2]) if len(ctx.inputs) > 2 and ctx.inputs[2] is not None else None
    scales = None if scales is None or not np.size(scales) else [float(s) for s in np.asarray(scales).reshape(-1)]
    attrs = {k: v for k, v in ctx.attrs.items() if k not in ("axes", "keep_aspect_ratio_policy")}
    for j, a in enumerate(axes):
        n, m = xt.shape[a], yt.shape[a]
        if n == m and (scales is None or scales[j] == 1):
            continue
        eye = ctx.const(np.eye(n))
        if scales is not None:
            mat = ctx.emit("Resize", eye, None, ctx.const([1.0, scales[j]], np.float32), **attrs)
        else:
            mat = ctx.emit("Resize", eye, None, None, ctx.ints([n, m]), **attrs)
        perm = [p for p in range(rank) if p != a] + [a]  # the axis last, multiplied, put back
        back = [int(p) for p in np.argsort(perm)]
        g = ctx.emit("Transpose", ctx.emit("MatMul", ctx.emit("Transpose", g, perm=perm),
                                           ctx.emit("Transpose", mat, perm=[1, 0])), perm=back)
    return [g] + [None] * (len(ctx.inputs) - 1)


@register("Upsample")
def _upsample(ctx):
    x = ctx.input(0)
    if x.shape is None:
        return [x]
    scales = _float_arg(ctx, 1) if ctx.has(1) else ctx.attr("scales")
    if scales is None:  # Upsample-1 gives width_scale and height_scale
        scales = [1.0, 1.0, ctx.attr("height_scale", 1.0), ctx.attr("width_scale", 1.0)]
    return [x.with_shape(_resize_shape(ctx, x, scales, None, None))]
