"""Elementwise ops: unary maths and activations, broadcasting binary ops, comparisons, Where (Cast: cast.py)."""
from __future__ import annotations

import numpy as np
from onnx.helper import np_dtype_to_tensor_dtype

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


def _masked(ctx, mask, g):
    """g where the boolean `mask` holds, else 0, as g times the mask cast to g's type: ONNX
    Runtime's CPU Where is several times slower than Cast + Mul."""
    return ctx.emit("Mul", g, ctx.emit("Cast", mask, to=_elem(ctx)))


@gradient("Relu")
def _relu_grad(ctx):  # read the output, as PyTorch does: the input need not stay alive for backward
    return [_masked(ctx, ctx.emit("Greater", ctx.outputs[0], ctx.const(0)), ctx.output_grads[0])]


@gradient("Floor", "Ceil", "Round", "Sign")
def _step_grad(ctx):
    """Piecewise constant: the derivative is 0 wherever it exists, so no gradient flows."""
    return [None]

# ---- gradient rules of the unary maths and activations (g: the output gradient) ----------

def _g(ctx):
    return ctx.output_grads[0]


def _unary_rule(*ops):
    """Register `fn(ctx, g, x, y) -> dx` as the rule of each op in `ops` (one data input)."""

    def deco(fn):
        def rule(ctx):
            extra = [None] * (len(ctx.inputs) - 1)
            return [fn(ctx, _g(ctx), ctx.inputs[0], ctx.outputs[0])] + extra

        rule.__name__ = rule.__qualname__ = f"{fn.__name__}_rule"
        rule.__module__ = fn.__module__
        return gradient(*ops)(rule)

    return deco


@_unary_rule("Identity")
def _identity_grad(ctx, g, x, y):
    return g


@_unary_rule("Neg")
def _neg_grad(ctx, g, x, y):
    return ctx.emit("Neg", g)


@_unary_rule("Abs")
def _abs_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, ctx.emit("Sign", x))


@_unary_rule("Exp")
def _exp_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, y)


@_unary_rule("Log")
def _log_grad(ctx, g, x, y):
    return ctx.emit("Div", g, x)


@_unary_rule("Sqrt")
def _sqrt_grad(ctx, g, x, y):
    return ctx.emit("Div", g, ctx.emit("Mul", y, ctx.const(2)))


@_unary_rule("Reciprocal")
def _reciprocal_grad(ctx, g, x, y):
    return ctx.emit("Neg", ctx.emit("Mul", g, ctx.emit("Mul", y, y)))


@_unary_rule("Sigmoid")
def _sigmoid_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, ctx.emit("Mul", y, ctx.emit("Sub", ctx.const(1), y)))


@_unary_rule("Tanh")
def _tanh_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, ctx.emit("Sub", ctx.const(1), ctx.emit("Mul", y, y)))


@_unary_rule("Softplus")
def _softplus_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, ctx.emit("Sigmoid", x))


@_unary_rule("Softsign")
def _softsign_grad(ctx, g, x, y):
    d = ctx.emit("Add", ctx.const(1), ctx.emit("Abs", x))
    return ctx.emit("Div", g, ctx.emit("Mul", d, d))


@_unary_rule("Erf")
def _erf_grad(ctx, g, x, y):
    e = ctx.emit("Exp", ctx.emit("Neg", ctx.emit("Mul", x, x)))
    return ctx.emit("Mul", g, ctx.emit("Mul", e, ctx.const(2 / np.sqrt(np.pi))))


def _where_positive(ctx, x, pos, neg):
    return ctx.emit("Where", ctx.emit("Greater", x, ctx.const(0)), pos, neg)


@_unary_rule("LeakyRelu")
def _leaky_relu_grad(ctx, g, x, y):
    return _where_positive(ctx, x, g, ctx.emit("Mul", g, ctx.const(ctx.attr("alpha", 0.01))))


@_unary_rule("Elu")
def _elu_grad(ctx, g, x, y):  # x <= 0: y + alpha = alpha e^x
    return _where_positive(ctx, x, g, ctx.emit("Mul", g, ctx.emit("Add", y, ctx.const(ctx.attr("alpha", 1.0)))))


@_unary_rule("Selu")
def _selu_grad(ctx, g, x, y):  # x <= 0: y + alpha gamma = alpha gamma e^x
    alpha, gamma = ctx.attr("alpha", 1.67326319217681884765625), ctx.attr("gamma", 1.05070102214813232421875)
    pos = ctx.emit("Mul", g, ctx.const(gamma))
    return _where_positive(ctx, x, pos, ctx.emit("Mul", g, ctx.emit("Add", y, ctx.const(alpha * gamma))))


def _inside(ctx, t, lo, hi):
    """Where lo < t < hi (the open interval where a clamp passes its input)."""
    return ctx.emit("And", ctx.emit("Greater", t, lo), ctx.emit("Less", t, hi))


@_unary_rule("HardSigmoid")
def _hard_sigmoid_grad(ctx, g, x, y):
    alpha, beta = ctx.attr("alpha", 0.2), ctx.attr("beta", 0.5)
    t = ctx.emit("Add", ctx.emit("Mul", x, ctx.const(alpha)), ctx.const(beta))
    return ctx.emit("Where", _inside(ctx, t, ctx.const(0), ctx.const(1)), ctx.emit("Mul", g, ctx.const(alpha)),
                    ctx.const(0))


@_unary_rule("HardSwish")
def _hard_swish_grad(ctx, g, x, y):  # x (x/6 + 1/2) on (-3, 3): (2x + 3) / 6; 1 above, 0 below
    ramp = ctx.emit("Add", ctx.emit("Mul", x, ctx.const(1 / 3)), ctx.const(0.5))
    d = ctx.emit("Where", _inside(ctx, x, ctx.const(-3), ctx.const(3)), ramp,
                 ctx.emit("Cast", ctx.emit("GreaterOrEqual", x, ctx.const(3)), to=_elem(ctx)))
    return ctx.emit("Mul", g, d)


def _elem(ctx):
    return int(np_dtype_to_tensor_dtype(np.dtype(ctx.output_types[0].dtype)))


@_unary_rule("Gelu")
def _gelu_grad(ctx, g, x, y):
    if ctx.attr("approximate", "none") == "tanh":  # 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3)
        c = np.sqrt(2 / np.pi)
        x2 = ctx.emit("Mul", x, x)
        u = ctx.emit("Mul", ctx.emit("Mul", x, ctx.emit("Add", ctx.const(1), ctx.emit("Mul", x2, ctx.const(0.044715)))),
                     ctx.const(c))
        t = ctx.emit("Tanh", u)
        du = ctx.emit("Add", ctx.const(c), ctx.emit("Mul", x2, ctx.const(3 * 0.044715 * c)))
        sech2 = ctx.emit("Sub", ctx.const(1), ctx.emit("Mul", t, t))
        d = ctx.emit("Add", ctx.emit("Mul", ctx.const(0.5), ctx.emit("Add", ctx.const(1), t)),
                     ctx.emit("Mul", ctx.emit("Mul", ctx.const(0.5), x), ctx.emit("Mul", sech2, du)))
    else:  # Phi(x) + x phi(x)
        cdf = ctx.emit("Mul", ctx.const(0.5),
                       ctx.emit("Add", ctx.const(1), ctx.emit("Erf", ctx.emit("Mul", x, ctx.const(1 / np.sqrt(2))))))
        pdf = ctx.emit("Mul", ctx.emit("Exp", ctx.emit("Mul", ctx.emit("Mul", x, x), ctx.const(-0.5))),
                       ctx.const(1 / np.sqrt(2 * np.pi)))
        d = ctx.emit("Add", cdf, ctx.emit("Mul", x, pdf))
    return ctx.emit("Mul", g, d)


@_unary_rule("Cos")
def _cos_grad(ctx, g, x, y):
    return ctx.emit("Neg", ctx.emit("Mul", g, ctx.emit("Sin", x)))


@_unary_rule("Tan")
def _tan_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, ctx.emit("Add", ctx.const(1), ctx.emit("Mul", y, y)))


def _over_root(ctx, g, t, sign: float = 1.0):
    """g / sqrt(t) (times `sign`): the inverse trigonometric and hyperbolic derivatives."""
    d = ctx.emit("Div", g, ctx.emit("Sqrt", t))
    return d if sign > 0 else ctx.emit("Neg", d)


@_unary_rule("Asin", "Acos")
def _asin_grad(ctx, g, x, y):
    return _over_root(ctx, g, ctx.emit("Sub", ctx.const(1), ctx.emit("Mul", x, x)), 1.0 if ctx.op == "Asin" else -1.0)


@_unary_rule("Atan")
def _atan_grad(ctx, g, x, y):
    return ctx.emit("Div", g, ctx.emit("Add", ctx.const(1), ctx.emit("Mul", x, x)))


@_unary_rule("Sinh")
def _sinh_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, ctx.emit("Cosh", x))


@_unary_rule("Cosh")
def _cosh_grad(ctx, g, x, y):
    return ctx.emit("Mul", g, ctx.emit("Sinh", x))


@_unary_rule("Asinh")
def _asinh_grad(ctx, g, x, y):
    return _over_root(ctx, g, ctx.emit("Add", ctx.emit("Mul", x, x), ctx.const(1)))


@_unary_rule("Acosh")
def _acosh_grad(ctx, g, x, y):
    return _over_root(ctx, g, ctx.emit("Sub", ctx.emit("Mul", x, x), ctx.const(1)))


@_unary_rule("Atanh")
def _atanh_grad(ctx, g, x, y):
    return ctx.emit("Div", g, ctx.emit("Sub", ctx.const(1), ctx.emit("Mul", x, x)))


@_unary_rule("ThresholdedRelu")
def _thresholded_relu_grad(ctx, g, x, y):
    return _masked(ctx, ctx.emit("Greater", x, ctx.const(ctx.attr("alpha", 1.0))), g)


@_unary_rule("Celu")
def _celu_grad(ctx, g, x, y):  # x <= 0: exp(x / alpha)
    alpha = ctx.attr("alpha", 1.0)
    return _where_positive(ctx, x, g, ctx.emit("Mul", g, ctx.emit("Exp", ctx.emit("Div", x, ctx.const(alpha)))))


@_unary_rule("Mish")
def _mish_grad(ctx, g, x, y):  # x tanh(softplus x): tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2)
    t = ctx.emit("Tanh", ctx.emit("Softplus", x))
    sech2 = ctx.emit("Sub", ctx.const(1), ctx.emit("Mul", t, t))
    return ctx.emit("Mul", g, ctx.emit("Add", t, ctx.emit("Mul", ctx.emit("Mul", x, ctx.emit("Sigmoid", x)), sech2)))


@_unary_rule("Shrink")
def _shrink_grad(ctx, g, x, y):  # slope 1 outside [-lambd, lambd], 0 inside
    lambd = ctx.const(ctx.attr("lambd", 0.5))
    outside = ctx.emit("Or", ctx.emit("Greater", x, lambd), ctx.emit("Less", x, ctx.emit("Neg", lambd)))
    return _masked(ctx, outside, g)


@gradient("Clip")
def _clip_grad(ctx):
    x, lo, hi = (list(ctx.inputs) + [None, None])[:3]  # the bounds are inputs from opset 11
    mask = None
    for bound, op in ((lo, "GreaterOrEqual"), (hi, "LessOrEqual")):
        if bound is not None:
            m = ctx.emit(op, x, bound)
            mask = m if mask is None else ctx.emit("And", mask, m)
    g = _g(ctx)
    out = g if mask is None else _masked(ctx, mask, g)
    return [out] + [None] * (len(ctx.inputs) - 1)


register("Softmax", "LogSoftmax", "Hardmax", traits=("along_axis",))(same_as(0))


@gradient("Softmax", "LogSoftmax")
def _softmax_grad(ctx):
    g, y = _g(ctx), ctx.outputs[0]
    axes = ctx.ints([ctx.attr("axis", -1)])  # opset 13's one-axis form (graphs are at the target opset)
    if ctx.op == "Softmax":  # y (g - sum(g y))
        s = ctx.emit("ReduceSum", ctx.emit("Mul", g, y), axes, keepdims=1)
        return [ctx.emit("Mul", y, ctx.emit("Sub", g, s))]
    s = ctx.emit("ReduceSum", g, axes, keepdims=1)  # g - softmax(x) sum(g)
    return [ctx.emit("Sub", g, ctx.emit("Mul", ctx.emit("Exp", y), s))]


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


@gradient("Sub")
def _sub_grad(ctx):
    g = ctx.output_grads[0]
    return [ctx.unbroadcast(g, 0) if ctx.needs(0) else None,
            ctx.unbroadcast(ctx.emit("Neg", g), 1) if ctx.needs(1) else None]


@gradient("Div")
def _div_grad(ctx):
    g, (a, b), y = ctx.output_grads[0], ctx.inputs, ctx.outputs[0]
    return [ctx.unbroadcast(ctx.emit("Div", g, b), 0) if ctx.needs(0) else None,
            ctx.unbroadcast(ctx.emit("Neg", ctx.emit("Div", ctx.emit("Mul", g, y), b)), 1) if ctx.needs(1) else None]


@gradient("Pow")
def _pow_grad(ctx):
    g, (a, b), y = ctx.output_grads[0], ctx.inputs, ctx.outputs[0]
    da = db = None
    if ctx.needs(0):  # b a^(b-1); the exponent cast to the base's type (Pow allows an int exponent)
        bf = b if ctx.input_types[1].dtype == ctx.input_types[0].dtype else ctx.emit("CastLike", b, a)
        da = ctx.unbroadcast(ctx.emit("Mul", g, ctx.emit("Mul", bf, ctx.emit("Pow", a, ctx.emit("Sub", bf, ctx.const(1))))), 0)
    if ctx.needs(1):  # y log a
        db = ctx.unbroadcast(ctx.emit("Mul", g, ctx.emit("Mul", y, ctx.emit("Log", a))), 1)
    return [da, db]


@gradient("Sum", "Mean")
def _sum_grad(ctx):
    g = ctx.output_grads[0]
    if ctx.op == "Mean":
        g = ctx.emit("Div", g, ctx.const(len(ctx.inputs)))
    return [ctx.unbroadcast(g, i) if ctx.needs(i) else None for i in range(len(ctx.inputs))]


@gradient("Max", "Min")
def _max_grad(ctx):
    """The gradient goes to every input equal to the result (each of tied inputs gets all of it)."""
    g, y, zero = ctx.output_grads[0], ctx.outputs[0], ctx.const(0)
    return [ctx.unbroadcast(ctx.emit("Where", ctx.emit("Equal", x, y), g, zero), i) if ctx.needs(i) else None
            for i, x in enumerate(ctx.inputs)]


@gradient("PRelu")
def _prelu_grad(ctx):
    g, (x, slope), zero = ctx.output_grads[0], ctx.inputs, ctx.const(0)
    pos = ctx.emit("Greater", x, zero)
    return [ctx.emit("Where", pos, g, ctx.emit("Mul", g, slope)) if ctx.needs(0) else None,
            ctx.unbroadcast(ctx.emit("Where", pos, zero, ctx.emit("Mul", g, x)), 1) if ctx.needs(1) else None]


@register("Less", "Greater", "LessOrEqual", "GreaterOrEqual", traits=POINTWISE_NARY)
def _compare(ctx):
    return _broadcast_all(ctx, np.bool_)


register("And", "Or", "Xor", "Equal", traits=(*POINTWISE_NARY, "commutative"))(_compare)


@register("Where", traits=POINTWISE_NARY)
def _where(ctx):
    t = _broadcast_all(ctx, ctx.input(1).dtype)
    return t


@gradient("Where")
def _where_grad(ctx):
    g, (c, _, _), zero = ctx.output_grads[0], ctx.inputs, ctx.const(0)
    return [None, ctx.unbroadcast(ctx.emit("Where", c, g, zero), 1) if ctx.needs(1) else None,
            ctx.unbroadcast(ctx.emit("Where", c, zero, g), 2) if ctx.needs(2) else None]



@register("Dropout")
def _dropout(ctx):
    x = ctx.input(0)
    return [x, x.with_dtype(np.bool_)][: max(ctx.n_outputs, 1)]


@gradient("Dropout")
def _dropout_grad(ctx):
    """Inference (no `training_mode`, or a constant false): the identity. Training: the mask
    output, scaled by 1 / (1 - ratio); the forward node must output its mask."""
    g, n = ctx.output_grads[0], len(ctx.inputs)
    grads = [None] * n
    if g is None:
        return grads
    training = ctx.inputs[2] if n > 2 else None
    flag = ctx.graph.const_value(training)
    if training is None or flag is not None and not bool(np.asarray(flag).reshape(-1)[0]):
        grads[0] = g
        return grads
    if len(ctx.outputs) < 2:
        ctx.fail("a training-mode Dropout needs its mask output (emit it with n_outputs=2)")
    ratio = ctx.inputs[1] if n > 1 and ctx.inputs[1] is not None else ctx.const(0.5)
    ratio = ctx.emit("CastLike", ratio, g)
    scale = ctx.emit("Div", ctx.const(1), ctx.emit("Sub", ctx.const(1), ratio))
    kept = ctx.emit("Mul", ctx.emit("Mul", g, ctx.emit("CastLike", ctx.outputs[1], g)), scale)
    grads[0] = ctx.emit("Where", training, kept, g)
    return grads
