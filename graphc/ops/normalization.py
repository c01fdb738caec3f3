"""Normalizations: BatchNormalization, LayerNormalization, Instance/Group/Lp/MeanVariance, LRN.

BatchNormalization has no traits: its inference form is pointwise but its training form
(`training_mode=1`) reduces over the batch, and traits hold for every use of an op.
"""
from __future__ import annotations

from graphc.ops._shapes import merge_dims
from graphc.ops.gradient import gradient
from graphc.ops.registry import norm_axis, onnx_dtype, register, same_as
from graphc.types import TensorType

register("InstanceNormalization", "GroupNormalization", "LpNormalization", "MeanVarianceNormalization")(same_as(0))


def _standardize(ctx, x, axes, eps):
    """(xhat, 1/std) of `x` over `axes` (a constant), the statistics kept as 1s."""
    centered = ctx.emit("Sub", x, ctx.emit("ReduceMean", x, axes, keepdims=1))
    var = ctx.emit("ReduceMean", ctx.emit("Mul", centered, centered), axes, keepdims=1)
    inv = ctx.emit("Reciprocal", ctx.emit("Sqrt", ctx.emit("Add", var, ctx.const(eps))))
    return ctx.emit("Mul", centered, inv), inv


def _standardized_grad(ctx, dxhat, xhat, inv, axes):
    """dX of xhat = (x - mean) / std over `axes`: inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat))."""
    m1 = ctx.emit("ReduceMean", dxhat, axes, keepdims=1)
    m2 = ctx.emit("ReduceMean", ctx.emit("Mul", dxhat, xhat), axes, keepdims=1)
    return ctx.emit("Mul", inv, ctx.emit("Sub", ctx.emit("Sub", dxhat, m1), ctx.emit("Mul", xhat, m2)))

@gradient("LpNormalization")
def _lp_norm_grad(ctx):
    """y = x / |x|_p along `axis`: p=2 gives (g - y sum(g y)) / |x|, p=1 (g - sign(x) sum(g y)) / |x|."""
    g, x, y = ctx.output_grads[0], ctx.inputs[0], ctx.outputs[0]
    axes = ctx.ints([ctx.attr("axis", -1)])
    p = ctx.attr("p", 2)
    norm = ctx.emit("ReduceL2" if p == 2 else "ReduceL1", x, axes, keepdims=1)
    s = ctx.emit("ReduceSum", ctx.emit("Mul", g, y), axes, keepdims=1)
    direction = y if p == 2 else ctx.emit("Sign", x)
    return [ctx.emit("Div", ctx.emit("Sub", g, ctx.emit("Mul", direction, s)), norm)]


@gradient("MeanVarianceNormalization")
def _mvn_grad(ctx):
    """(x - mean) / std over `axes` (ONNX's function has no epsilon): the standardize backward."""
    x = ctx.inputs[0]
    axes = ctx.ints(list(ctx.attr("axes", [0, 2, 3])))
    xhat, inv = _standardize(ctx, x, axes, 0.0)
    return [_standardized_grad(ctx, ctx.output_grads[0], xhat, inv, axes)]


@gradient("InstanceNormalization")
def _instance_norm_grad(ctx):
    """Normalization over the spatial axes of each (sample, channel), scale and bias per channel:
    LayerNormalization's gradient with the channel's scale broadcast."""
    g, (x, scale, bias) = ctx.output_grads[0], ctx.inputs
    rank = len(ctx.input_types[0].shape)
    axes = ctx.ints(list(range(2, rank)))
    per_channel = ctx.ints([-1] + [1] * (rank - 2))
    xhat, inv = _standardize(ctx, x, axes, ctx.attr("epsilon", 1e-5))
    outer = ctx.ints([0] + list(range(2, rank)))
    grads = [None, None, None]
    if ctx.needs(0):
        dxhat = ctx.emit("Mul", g, ctx.emit("Reshape", scale, per_channel))
        grads[0] = _standardized_grad(ctx, dxhat, xhat, inv, axes)
    if ctx.needs(1):
        grads[1] = ctx.emit("ReduceSum", ctx.emit("Mul", g, xhat), outer, keepdims=0)
    if ctx.needs(2):
        grads[2] = ctx.emit("ReduceSum", g, outer, keepdims=0)
    return grads
register("LRN")(same_as(0))


@register("BatchNormalization")
def _batch_norm(ctx):
    x = ctx.input(0)
    if x.shape is not None and len(x.shape) < 2:
        ctx.fail(f"input must have rank >= 2, got {x}")
    dims = [x.shape[1] if x.shape is not None else None]
    dims += [ctx.input(i).shape[0] for i in range(1, 5) if ctx.input(i).shape]
    channels = (merge_dims(dims, ctx, "channels of the input, scale, bias, mean and variance"),)
    # Y, running_mean, running_var; before opset 14 also saved_mean and saved_var
    stats = TensorType(x.dtype, channels)
    return [x, ctx.input(3).with_shape(channels), ctx.input(4).with_shape(channels), stats, stats]


@gradient("BatchNormalization")
def _batch_norm_grad(ctx):
    """Inference form: an affine map per channel, so all five inputs have gradients. Training form
    (`training_mode=1`): the batch statistics are functions of X, so dX has the two extra terms,
    and the running mean/var inputs (which only feed the running outputs) get none."""
    g, (x, scale, bias, mean, var) = ctx.output_grads[0], ctx.inputs[:5]
    rank = len(ctx.input_types[0].shape)
    axes = ctx.ints([0] + list(range(2, rank)))
    per_channel = ctx.ints([-1] + [1] * (rank - 2))

    def bc(v):  # (C,) -> (C, 1, ..., 1), broadcasting against (N, C, ...)
        return ctx.emit("Reshape", v, per_channel)

    def total(v):
        return ctx.emit("ReduceSum", v, axes, keepdims=0)

    eps = ctx.attr("epsilon", 1e-5)
    grads = [None] * len(ctx.inputs)
    if g is None:
        return grads
    if ctx.attr("training_mode", 0):
        xhat, inv = _standardize(ctx, x, axes, eps)
        if ctx.needs(0):
            grads[0] = _standardized_grad(ctx, ctx.emit("Mul", g, bc(scale)), xhat, inv, axes)
    else:
        inv = bc(ctx.emit("Reciprocal", ctx.emit("Sqrt", ctx.emit("Add", var, ctx.const(eps)))))
        xhat = ctx.emit("Mul", ctx.emit("Sub", x, bc(mean)), inv)
        gs = total(g)
        k = ctx.emit("Mul", inv, bc(scale))  # dY/dX per channel
        grads[0] = ctx.emit("Mul", g, k) if ctx.needs(0) else None
        grads[3] = ctx.emit("Neg", ctx.emit("Mul", gs, ctx.emit("Reshape", k, ctx.ints([-1])))) if ctx.needs(3) else None
        if ctx.needs(4):  # -1/2 scale (x - mean) inv^3 summed
            inv3 = ctx.emit("Mul", ctx.emit("Mul", inv, inv), inv)
            d = total(ctx.emit("Mul", g, ctx.emit("Mul", ctx.emit("Sub", x, bc(mean)), inv3)))
            grads[4] = ctx.emit("Mul", d, ctx.emit("Mul", scale, ctx.const(-0.5)))
    grads[1] = total(ctx.emit("Mul", g, xhat)) if ctx.needs(1) else None
    grads[2] = total(g) if ctx.needs(2) else None
    return grads


@register("LayerNormalization")
def _layer_norm(ctx):
    x = ctx.input(0)
    stash = TensorType(onnx_dtype(ctx.attr("stash_type", 1)))
    if x.shape is None:
        return [x, stash, stash]
    axis = norm_axis(ctx.attr("axis", -1), len(x.shape), ctx)
    reduced = stash.with_shape(x.shape[:axis] + (1,) * (len(x.shape) - axis))
    return [x, reduced, reduced]


@gradient("LayerNormalization")
def _layer_norm_grad(ctx):
    """dX = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) over the normalized axes, with
    dxhat = g scale; the statistics are recomputed (the node may not output them)."""
    g = ctx.output_grads[0]
    x, scale, *bias = ctx.inputs
    rank = len(ctx.input_types[0].shape)
    axis = norm_axis(ctx.attr("axis", -1), rank)
    axes = ctx.ints(list(range(axis, rank)))
    grads = [None] * len(ctx.inputs)
    if g is None:
        return grads
    xhat, inv = _standardize(ctx, x, axes, ctx.attr("epsilon", 1e-5))
    if ctx.needs(0):
        grads[0] = _standardized_grad(ctx, ctx.emit("Mul", g, scale), xhat, inv, axes)
    if ctx.needs(1):
        grads[1] = ctx.unbroadcast(ctx.emit("Mul", g, xhat), 1)
    if bias and ctx.needs(2):
        grads[2] = ctx.unbroadcast(g, 2)
    return grads
