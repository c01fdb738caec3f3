"""Normalizations: BatchNormalization, LayerNormalization, Instance/Group/Lp/MeanVariance, LRN.

BatchNormalization has no traits: its inference form is pointwise but its training form
(`training_mode=1`) reduces over the batch, and traits hold for every use of an op.
"""
from __future__ import annotations

from graphc.ops._shapes import merge_dims
from graphc.ops.registry import norm_axis, onnx_dtype, register, same_as
from graphc.types import TensorType

register("InstanceNormalization", "GroupNormalization", "LpNormalization", "MeanVarianceNormalization")(same_as(0))
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


@register("LayerNormalization")
def _layer_norm(ctx):
    x = ctx.input(0)
    stash = TensorType(onnx_dtype(ctx.attr("stash_type", 1)))
    if x.shape is None:
        return [x, stash, stash]
    axis = norm_axis(ctx.attr("axis", -1), len(x.shape), ctx)
    reduced = stash.with_shape(x.shape[:axis] + (1,) * (len(x.shape) - axis))
    return [x, reduced, reduced]
