"""Torch expressions of the ops the Triton lowering fuses into kernels: pointwise ops and the
reductions without a torch form in `fallback.py`.

With these, every op the lowering table knows also has a torch form, so a graph can be written
as a program of torch calls alone (`schedule(graph, kernels=False)`): the torch-eager and
`torch.compile` peers `graphc bench --target triton` measures, built from graphc's own IR
rather than from a torch model the user may not have. An expression follows ONNX's semantics
(attribute defaults, integer division truncating) rather than torch's defaults.
"""
from __future__ import annotations

import numpy as np


def _attr(graph, node, name, default):
    return graph.attrs(node).get(name, default)


def _f(graph, node, name, default) -> str:
    return repr(float(_attr(graph, node, name, default)))


def _binary(op):
    return lambda g, n, a: f"({a[0]} {op} {a[1]})"


def _unary(template):
    return lambda g, n, a: template.format(x=a[0])


def _div(graph, node, args):
    if np.dtype(graph.type_of((node, 0)).dtype).kind in "iu":
        return f"torch.div({args[0]}, {args[1]}, rounding_mode='trunc')"
    return f"({args[0]} / {args[1]})"


def _nary(fn):
    def rule(graph, node, args):
        out = args[0]
        for x in args[1:]:
            out = f"{fn}({out}, {x})"
        return out
    return rule


def _clip(graph, node, args):
    lo = args[1] if len(args) > 1 and args[1] else None
    hi = args[2] if len(args) > 2 and args[2] else None
    a = graph.attrs(node)
    lo = lo or (repr(float(a["min"])) if "min" in a else None)
    hi = hi or (repr(float(a["max"])) if "max" in a else None)
    x = args[0]
    if lo is not None:
        x = f"torch.maximum({x}, torch.as_tensor({lo}, dtype={x}.dtype, device={x}.device))"
    if hi is not None:
        x = f"torch.minimum({x}, torch.as_tensor({hi}, dtype={x}.dtype, device={x}.device))"
    return x


def _shrink(graph, node, args):
    x, lam, bias = args[0], _f(graph, node, "lambd", 0.5), _f(graph, node, "bias", 0.0)
    return f"torch.where({x} < -{lam}, {x} + {bias}, torch.where({x} > {lam}, {x} - {bias}, torch.zeros_like({x})))"


def _batchnorm(graph, node, args):
    x, s, b, m, v = args[:5]
    return f"F.batch_norm({x}, {m}, {v}, {s}, {b}, False, 0.0, {_f(graph, node, 'epsilon', 1e-5)})"


def _gelu(graph, node, args):
    approx = _attr(graph, node, "approximate", "none")
    approx = approx.decode() if isinstance(approx, bytes) else approx
    return f"F.gelu({args[0]}, approximate={approx!r})"


def _hard_sigmoid(graph, node, args):
    return f"torch.clamp({args[0]} * {_f(graph, node, 'alpha', 0.2)} + {_f(graph, node, 'beta', 0.5)}, 0.0, 1.0)"


def _selu(graph, node, args):
    x = args[0]
    gamma, alpha = _f(graph, node, "gamma", 1.0507009873554805), _f(graph, node, "alpha", 1.6732632423543772)
    return f"({gamma} * torch.where({x} > 0, {x}, {alpha} * (torch.exp({x}) - 1.0)))"


def reduce_rule(fn):
    """A reduction's rule: `fn(x, axes, keepdims)` with the axes from `reduce_axes` (Reduce* with
    constant axes, the global pools)."""
    def rule(graph, node, args):
        from graphc.lower.triton.lowering import reduce_axes

        r = reduce_axes(graph, node)
        if r is None:
            raise KeyError("axes")
        axes, keep, _ = r
        return fn(args[0], axes, keep)
    return rule


def _arg(fn):
    def rule(graph, node, args):
        from graphc.lower.triton.lowering import reduce_axes

        if _attr(graph, node, "select_last_index", 0):
            raise KeyError("select_last_index")
        (axis,), keep, _ = reduce_axes(graph, node)
        return f"torch.{fn}({args[0]}, dim={axis}, keepdim={keep})"
    return rule


POINTWISE_TORCH = {
    "Add": _binary("+"), "Sub": _binary("-"), "Mul": _binary("*"), "Div": _div,
    "Pow": lambda g, n, a: f"torch.pow({a[0]}, {a[1]})",
    "Max": _nary("torch.maximum"), "Min": _nary("torch.minimum"),
    "Sum": lambda g, n, a: "(" + " + ".join(a) + ")",
    "Mean": lambda g, n, a: "((" + " + ".join(a) + f") / {len(a)}.0)",
    "Celu": lambda g, n, a: f"F.celu({a[0]}, {_f(g, n, 'alpha', 1.0)})",
    "Shrink": _shrink,
    "ThresholdedRelu": lambda g, n, a: f"torch.where({a[0]} > {_f(g, n, 'alpha', 1.0)}, {a[0]}, torch.zeros_like({a[0]}))",
    "Equal": _binary("=="), "Less": _binary("<"), "Greater": _binary(">"),
    "LessOrEqual": _binary("<="), "GreaterOrEqual": _binary(">="),
    "And": _binary("&"), "Or": _binary("|"), "Xor": _binary("^"), "Not": _unary("torch.logical_not({x})"),
    "Neg": _unary("(-{x})"), "Abs": _unary("torch.abs({x})"), "Exp": _unary("torch.exp({x})"),
    "Log": _unary("torch.log({x})"), "Sqrt": _unary("torch.sqrt({x})"), "Reciprocal": _unary("torch.reciprocal({x})"),
    "Floor": _unary("torch.floor({x})"), "Ceil": _unary("torch.ceil({x})"), "Sin": _unary("torch.sin({x})"),
    "Cos": _unary("torch.cos({x})"), "Erf": _unary("torch.erf({x})"), "Sign": _unary("torch.sign({x})"),
    "Relu": _unary("torch.relu({x})"), "Sigmoid": _unary("torch.sigmoid({x})"), "Tanh": _unary("torch.tanh({x})"),
    "LeakyRelu": lambda g, n, a: f"F.leaky_relu({a[0]}, {_f(g, n, 'alpha', 0.01)})",
    "HardSigmoid": _hard_sigmoid, "HardSwish": _unary("F.hardswish({x})"),
    "Elu": lambda g, n, a: f"F.elu({a[0]}, {_f(g, n, 'alpha', 1.0)})",
    "Selu": _selu, "Softplus": _unary("F.softplus({x})"), "Softsign": _unary("F.softsign({x})"),
    "Mish": _unary("F.mish({x})"),
    "PRelu": lambda g, n, a: f"torch.where({a[0]} >= 0, {a[0]}, {a[0]} * {a[1]})",
    "Gelu": _gelu, "Clip": _clip, "BatchNormalization": _batchnorm,
    "ReduceL1": reduce_rule(lambda x, ax, k: f"torch.sum(torch.abs({x}), dim={ax}, keepdim={k})"),
    "ReduceL2": reduce_rule(lambda x, ax, k: f"torch.sqrt(torch.sum({x} * {x}, dim={ax}, keepdim={k}))"),
    "ReduceSumSquare": reduce_rule(lambda x, ax, k: f"torch.sum({x} * {x}, dim={ax}, keepdim={k})"),
    "ReduceLogSum": reduce_rule(lambda x, ax, k: f"torch.log(torch.sum({x}, dim={ax}, keepdim={k}))"),
    "ReduceLogSumExp": reduce_rule(lambda x, ax, k: f"torch.logsumexp({x}, dim={ax}, keepdim={k})"),
    "GlobalAveragePool": reduce_rule(lambda x, ax, k: f"torch.mean({x}, dim={ax}, keepdim=True)"),
    "GlobalMaxPool": reduce_rule(lambda x, ax, k: f"torch.amax({x}, dim={ax}, keepdim=True)"),
    "ArgMax": _arg("argmax"), "ArgMin": _arg("argmin"),
}
