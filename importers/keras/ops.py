"""`keras.ops` calls that Keras 3 records as nodes of a functional config (module `keras.src.ops.*`,
class names like `Add`, `Reshape`, `GetItem`, `Matmul`): the op's attributes (`newshape`, `axis`,
`keepdims`, ...) are its config, its tensors and constants the node's call arguments, named as in
the op's `call` (`x`, `x1, x2`, `xs`, `condition, x1, x2`, `x, key`)."""
from __future__ import annotations

import numpy as np

from graphc.importers.keras import array_ops as A
from graphc.importers.keras.array_ops import Function

X, X12 = ("x",), ("x1", "x2")


def _f(emit, params=X):
    return Function(params, emit, len(params))


def _activation(name):
    return _f(A.activation(name))


_BINARY = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div", "TrueDivide": "Div",
           "Maximum": "Max", "Minimum": "Min", "Power": "Pow", "Equal": "Equal", "Greater": "Greater",
           "GreaterEqual": "GreaterOrEqual", "Less": "Less", "LessEqual": "LessOrEqual",
           "LogicalAnd": "And", "LogicalOr": "Or"}
_UNARY = {"Negative": "Neg", "Absolute": "Abs", "Abs": "Abs", "Sqrt": "Sqrt", "Exp": "Exp", "Log": "Log",
          "Tanh": "Tanh", "Sin": "Sin", "Cos": "Cos", "Sign": "Sign", "Floor": "Floor", "Ceil": "Ceil",
          "Reciprocal": "Reciprocal", "LogicalNot": "Not", "Erf": "Erf"}
_ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Silu": "silu", "Swish": "silu",
                "Selu": "selu", "Softplus": "softplus", "Softsign": "softsign", "HardSigmoid": "hard_sigmoid",
                "HardSilu": "hard_silu", "HardSwish": "hard_silu", "Mish": "mish", "LogSigmoid": "log_sigmoid"}

OPS = {
    **{k: _f(A.binary(v), X12) for k, v in _BINARY.items()},
    "NotEqual": _f(A.not_equal, X12),
    "Matmul": _f(A.matmul, X12),
    **{k: _f(A.unary(v)) for k, v in _UNARY.items()},
    "Square": _f(A.square),
    "Rsqrt": _f(lambda em, x: em.op("Reciprocal", em.op("Sqrt", x))),
    **{k: _activation(v) for k, v in _ACTIVATIONS.items()},
    "Gelu": _f(lambda em, x, approximate=True: em.op("Gelu", x, approximate="tanh" if approximate else "none")),
    "Elu": _f(lambda em, x, alpha=1.0: em.op("Elu", x, alpha=float(alpha))),
    "LeakyRelu": _f(lambda em, x, negative_slope=0.2: em.op("LeakyRelu", x, alpha=float(negative_slope))),
    "Softmax": _f(A.softmax),
    "LogSoftmax": _f(A.log_softmax),
    "Cast": _f(A.cast),
    "Where": _f(A.where, ("condition", "x1", "x2")),
    "Reshape": _f(lambda em, x, newshape: A.reshape(em, x, newshape)),
    "Transpose": _f(lambda em, x, axes=None: A.transpose(em, x, axes)),
    "Concatenate": _f(A.concat, ("xs",)),
    "Stack": _f(A.stack),
    "ExpandDims": _f(A.expand_dims),
    "Squeeze": _f(A.squeeze),
    "Tile": _f(A.tile),
    "Flip": _f(A.flip),
    "Clip": _f(lambda em, x, x_min, x_max: A.clip(em, x, x_min, x_max)),
    "Take": _f(A.take, ("x", "indices")),
    "Einsum": _f(A.einsum, ("operands",)),  # called with *operands: several arrive as one list
    "GetItem": Function(("x", "key"), lambda em, x, key: A.getitem(em, x, _index(key)), 1),
    "Sum": _f(A.reduce("ReduceSum")),
    "Mean": _f(A.reduce("ReduceMean")),
    "Prod": _f(A.reduce("ReduceProd")),
    "Max": _f(A.reduce("ReduceMax")),
    "Min": _f(A.reduce("ReduceMin")),
    "Any": _f(A.reduce("ReduceMax")),
    "All": _f(A.reduce("ReduceMin")),
    "Argmax": _f(A.arg_reduce("ArgMax")),
    "Argmin": _f(A.arg_reduce("ArgMin")),
}
SUPPORTED = sorted(OPS)


def _index(key):
    """A GetItem key as Keras serializes it: `__slice__`/`__ellipsis__` objects, ints and None."""

    def one(k):
        if isinstance(k, dict) and k.get("class_name") == "__slice__":
            c = k.get("config") or {}
            return slice(c.get("start"), c.get("stop"), c.get("step"))
        if isinstance(k, dict) and k.get("class_name") == "__ellipsis__":
            return Ellipsis
        if k is None or (isinstance(k, (int, np.integer)) and not isinstance(k, bool)):
            return k
        raise TypeError(f"index {k!r} is not a slice, an integer, None or Ellipsis")

    return [one(k) for k in key] if isinstance(key, list) else [one(key)]


def KerasOp(op: str, where: str, name=None, **config):
    """The layer for one recorded `keras.ops` call of class `op`; refuses ops not in `OPS`."""
    fn = OPS.get(op)
    if fn is None:
        raise A.refuse("keras op", op, name, OPS, where)
    config.pop("trainable", None)
    for key in ("initial", "dtype"):  # Max/Min's `initial`, Prod's `dtype`: None unless set
        if config.get(key, 0) is None:
            config.pop(key)
    return A.FunctionCall("keras op", op, lookup, op, static=config, name=name)


def lookup(op: str) -> Function:
    return OPS[op]
