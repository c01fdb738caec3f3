"""TensorFlow functions in tf-keras (Keras 2) functional configs: `TFOpLambda` and `SlicingOpLambda`
layers, whose config names the function (`function`: `math.multiply`, `reshape`, `nn.relu`,
`__operators__.getitem`, ...) and whose inbound node holds its arguments (the first positional one,
a tensor or `["_CONSTANT_VALUE", -1, value]`; the others by keyword). Parameters are named as in
TensorFlow's own signatures; a function not in `FUNCTIONS` is refused by name, never looked up.
"""
from __future__ import annotations

import numpy as np

from graphc.importers.keras import array_ops as A
from graphc.importers.keras.array_ops import Function

CLASSES = ("TFOpLambda", "SlicingOpLambda")
XY, X, F = ("x", "y"), ("x",), ("features",)


def _f(emit, params=X, n_inputs=None):
    return Function(params, emit, len(params) if n_inputs is None else n_inputs)


def _activation(name, params=F):
    return _f(A.activation(name), params)


def _reduce(op, bool_op=None):
    emit = A.reduce(op, bool_op)
    return _f(lambda em, input_tensor, axis=None, keepdims=False: emit(em, input_tensor, axis, keepdims),
              ("input_tensor", "axis", "keepdims"), 1)


def _arg(op):
    emit = A.arg_reduce(op)
    # TF's argmax takes axis 0 when none is given, not the flattened tensor
    return _f(lambda em, input, axis=0, output_type="int64": emit(em, input, axis, False, np.dtype(output_type)),
              ("input", "axis", "output_type"), 1)


def _matmul(em, a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False):
    return A.matmul(em, a, b, transpose_a or adjoint_a, transpose_b or adjoint_b)


def _transpose(em, a, perm=None, conjugate=False):
    return A.transpose(em, a, perm)


def _squeeze(em, input, axis=None, squeeze_dims=None):
    return A.squeeze(em, input, axis if axis is not None else squeeze_dims)


def _silu(em, features, beta=1.0):
    if float(beta) == 1.0:
        return A.activation("silu")(em, features)
    return em.op("Mul", features, em.op("Sigmoid", em.op("Mul", features, em.const(np.float32(beta)))))


def _bias_add(em, value, bias, data_format=None):
    if data_format not in (None, "NHWC", "NWC", "NDHWC", "N...C"):  # channels first: bias on axis 1
        bias = em.reshape(bias, [-1] + [1] * (em.rank(value) - 2))
    return em.op("Add", *A.operands(em, value, bias))


def _squared_difference(em, x, y):
    d = em.op("Sub", *A.operands(em, x, y))
    return em.op("Mul", d, d)


def _gather(em, params, indices, axis=None, batch_dims=0, validate_indices=None):
    if batch_dims:
        raise TypeError("batch_dims is not supported")
    return A.take(em, params, indices, 0 if axis is None else axis)


def _index(spec):
    """A getitem `slice_spec` as tf-keras serializes it: {start, stop, step} dicts, an
    `__ellipsis__` object, None (tf.newaxis) and ints."""

    def one(k):
        if isinstance(k, dict) and k.get("class_name") == "__ellipsis__":
            return Ellipsis
        if isinstance(k, dict) and set(k) <= {"start", "stop", "step"}:
            return slice(k.get("start"), k.get("stop"), k.get("step"))
        if k is None or (isinstance(k, (int, np.integer)) and not isinstance(k, bool)):
            return k
        raise TypeError(f"index {k!r} is not a slice, an integer, tf.newaxis or Ellipsis")

    return [one(k) for k in spec] if isinstance(spec, list) else [one(spec)]


_BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "truediv": "Div",
           "pow": "Pow", "maximum": "Max", "minimum": "Min", "equal": "Equal", "greater": "Greater",
           "greater_equal": "GreaterOrEqual", "less": "Less", "less_equal": "LessOrEqual",
           "logical_and": "And", "logical_or": "Or"}
_UNARY = {"negative": "Neg", "abs": "Abs", "sqrt": "Sqrt", "exp": "Exp", "log": "Log", "tanh": "Tanh",
          "sigmoid": "Sigmoid", "reciprocal": "Reciprocal", "sin": "Sin", "cos": "Cos", "sign": "Sign",
          "floor": "Floor", "ceil": "Ceil", "round": "Round", "erf": "Erf", "logical_not": "Not"}
_ACTIVATIONS = {"relu": "relu", "relu6": "relu6", "elu": "elu", "selu": "selu", "softplus": "softplus",
                "softsign": "softsign"}

FUNCTIONS = {
    **{f"math.{k}": _f(A.binary(v), XY) for k, v in _BINARY.items()},
    "__operators__.add": _f(A.binary("Add"), XY),
    "__operators__.eq": _f(A.binary("Equal"), ("self", "other")),
    "__operators__.ne": _f(A.not_equal, ("self", "other")),
    "math.not_equal": _f(A.not_equal, XY),
    "math.squared_difference": _f(_squared_difference, XY),
    "math.add_n": _f(lambda em, inputs: em.op("Add" if len(inputs) == 2 else "Sum", *A.operands(em, *inputs)),
                     ("inputs",)),
    **{f"math.{k}": _f(A.unary(v)) for k, v in _UNARY.items()},
    "nn.sigmoid": _f(A.unary("Sigmoid")),
    "nn.tanh": _f(A.unary("Tanh")),
    "math.square": _f(A.square),
    "math.rsqrt": _f(lambda em, x: em.op("Reciprocal", em.op("Sqrt", x))),
    "math.log_sigmoid": _activation("log_sigmoid", X),
    "math.softplus": _activation("softplus"),
    **{f"nn.{k}": _activation(v) for k, v in _ACTIVATIONS.items()},
    "nn.silu": _f(_silu, F), "nn.swish": _f(_silu, F),
    "nn.gelu": _f(lambda em, features, approximate=False:
                  em.op("Gelu", features, approximate="tanh" if approximate else "none"), F),
    "nn.leaky_relu": _f(lambda em, features, alpha=0.2: em.op("LeakyRelu", features, alpha=float(alpha)), F),
    "nn.softmax": _f(lambda em, logits, axis=None: A.softmax(em, logits, -1 if axis is None else axis), ("logits",)),
    "nn.log_softmax": _f(lambda em, logits, axis=None: A.log_softmax(em, logits, -1 if axis is None else axis),
                         ("logits",)),
    "nn.bias_add": _f(_bias_add, ("value", "bias")),
    **{f"{p}{k}": _reduce(*v) for p in ("math.", "") for k, v in
       {"reduce_mean": ("ReduceMean",), "reduce_sum": ("ReduceSum",), "reduce_max": ("ReduceMax",),
        "reduce_min": ("ReduceMin",), "reduce_prod": ("ReduceProd",), "reduce_any": ("ReduceMax",),
        "reduce_all": ("ReduceMin",)}.items()},
    "math.argmax": _arg("ArgMax"), "math.argmin": _arg("ArgMin"),
    "reshape": _f(lambda em, tensor, shape: A.reshape(em, tensor, shape), ("tensor",)),
    "transpose": _f(_transpose, ("a",)), "compat.v1.transpose": _f(_transpose, ("a",)),
    "concat": _f(lambda em, values, axis: A.concat(em, values, axis), ("values",)),
    "stack": _f(lambda em, values, axis=0: A.stack(em, values, axis), ("values",)),
    "expand_dims": _f(lambda em, input, axis: A.expand_dims(em, input, axis), ("input",)),
    "squeeze": _f(_squeeze, ("input",)), "compat.v1.squeeze": _f(_squeeze, ("input",)),
    "cast": _f(lambda em, x, dtype: A.cast(em, x, dtype)),
    "linalg.matmul": _f(_matmul, ("a", "b")),
    "clip_by_value": _f(lambda em, t, clip_value_min, clip_value_max: A.clip(em, t, clip_value_min, clip_value_max),
                        ("t",)),
    "where": _f(lambda em, condition, x, y: A.where(em, condition, x, y), ("condition", "x", "y")),
    "tile": _f(lambda em, input, multiples: A.tile(em, input, multiples), ("input",)),
    "reverse": _f(lambda em, tensor, axis: A.flip(em, tensor, axis), ("tensor",)),
    "gather": _f(_gather, ("params", "indices")), "compat.v1.gather": _f(_gather, ("params", "indices")),
    "identity": _f(lambda em, input: input, ("input",)),
    "__operators__.getitem": _f(lambda em, tensor, slice_spec: A.getitem(em, tensor, _index(slice_spec)),
                                ("tensor", "slice_spec"), 1),
}
SUPPORTED = sorted(FUNCTIONS)


def tf_function_layer(config: dict, where: str):
    """The layer for one TFOpLambda/SlicingOpLambda config; refuses functions not in `FUNCTIONS`."""
    function, name = config.get("function"), config.get("name")
    fn = FUNCTIONS.get(function) if isinstance(function, str) else None
    if fn is None:
        raise A.refuse("TensorFlow function", f"tf.{function}", name, (f"tf.{f}" for f in FUNCTIONS), where)
    return A.FunctionCall("TensorFlow function", f"tf.{function}", lookup, function, dropped=("name",), name=name)


def lookup(function: str) -> Function:
    return FUNCTIONS[function]
