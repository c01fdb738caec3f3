"""Elementwise ops: unary maths and activations, broadcasting binary ops, comparisons, Where (Cast: cast.py)."""
from __future__ import annotations

import numpy as np

from graphc.ops.gradient import gradient
from graphc.ops.registry import broadcast, register, same_as
from graphc.types import TensorType

UNARY = (
    "Abs", "Neg", "Floor", "Ceil", "Round", "Sqrt", "Reciprocal", "Exp", "Log", "Sin", "Cos", "Tan",
    "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf", "Sign", "Identity",
    "Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "ThresholdedRelu",
    "HardSigmoid", "HardSwish", "Mish", "Gelu", "Celu", "Shrink", "Clip", "BitwiseNot",
)
POINTWISE_UNARY = ("pointwise", "unary")
POINTWISE_NARY = ("pointwise", "nary")
register(*UNARY, traits=POINTWISE_UNARY)(same_as(0))


@gradient("Relu")
def _relu_grad(ctx):
    x = ctx.inputs[0]
    zero = ctx.const(0)
    return [ctx.emit("Where", ctx.emit("Greater", x, zero), ctx.output_grads[0], zero)]


register("Softmax", "LogSoftmax", "Hardmax", traits=("along_axis",))(same_as(0))


@register("IsNaN", "IsInf", "Not", traits=POINTWISE_UNARY)
def _to_bool(ctx):
    return [ctx.input(0).with_dtype(np.bool_)]


def _broadcast_all(ctx, dtype):
    shapes = [ctx.input(i).shape for i in range(len(ctx.values)) if ctx.has(i)]
    return [TensorType(dtype, broadcast(*shapes))]


@register("Sub", "Div", "Pow", "Sum", "Mean", "Mod", "BitShift", "PRelu", traits=POINTWISE_NARY)
def _binary(ctx):
    return _broadcast_all(ctx, ctx.input(0).dtype)


register("Add", "Mul", "Max", "Min", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
         traits=(*POINTWISE_NARY, "commutative"))(_binary)


@gradient("Add")
def _add_grad(ctx):
    g = ctx.output_grads[0]
    return [ctx.unbroadcast(g, i) if ctx.needs(i) else None for i in range(2)]


@gradient("Mul")
def _mul_grad(ctx):
    g, (a, b) = ctx.output_grads[0], ctx.inputs
    return [ctx.unbroadcast(ctx.emit("Mul", g, b), 0) if ctx.needs(0) else None,
            ctx.unbroadcast(ctx.emit("Mul", g, a), 1) if ctx.needs(1) else None]


@register("Less", "Greater", "LessOrEqual", "GreaterOrEqual", traits=POINTWISE_NARY)
def _compare(ctx):
    return _broadcast_all(ctx, np.bool_)


register("And", "Or", "Xor", "Equal", traits=(*POINTWISE_NARY, "commutative"))(_compare)


@register("Where", traits=POINTWISE_NARY)
def _where(ctx):
    t = _broadcast_all(ctx, ctx.input(1).dtype)
    return t


@register("Dropout")
def _dropout(ctx):
    x = ctx.input(0)
    return [x, x.with_dtype(np.bool_)][: max(ctx.n_outputs, 1)]
