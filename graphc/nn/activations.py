"""Every Keras activation by name, as an IR emitter `fn(em, x) -> value`.

Shared by the Activation layer and every layer with an `activation=` argument (Dense, Conv, RNN
cells). Formulas follow Keras 3's `keras.activations`; `hard_sigmoid` of Keras 2 (tf-keras, slope
0.2) is `hard_sigmoid_tf_keras`, which the importer substitutes for files written by Keras 2.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import UnsupportedOpError


def _c(em, v):
    return em.const(np.float32(v))


def _unary(op, **attrs):
    return lambda em, x: em.op(op, x, **attrs)


def _silu(em, x):
    return em.op("Mul", x, em.op("Sigmoid", x))


def _glu(em, x):
    a, b = em.split(x, 2, -1)
    return em.op("Mul", a, em.op("Sigmoid", b))


def _sparse_plus(em, x):
    mid = em.op("Div", em.op("Mul", *(em.op("Add", x, _c(em, 1.0)),) * 2), _c(em, 4.0))
    hi = em.op("Where", em.op("GreaterOrEqual", x, _c(em, 1.0)), x, mid)
    return em.op("Where", em.op("LessOrEqual", x, _c(em, -1.0)), _c(em, 0.0), hi)


def _squareplus(em, x, b=4.0):
    root = em.op("Sqrt", em.op("Add", em.op("Mul", x, x), _c(em, b)))
    return em.op("Div", em.op("Add", x, root), _c(em, 2.0))


def _sparsemax(em, x):
    """Keras's sparsemax over the last axis. x_i is in the support when 1 + k_i x_i > s_i, with k_i and
    s_i the count and sum of the x_j >= x_i (pairwise, so no sort is needed). Every Keras backend takes
    tau = (sum of s_i over the support - 1) / k, not the textbook (sum of x_i - 1) / k; so do we."""
    xi, xj = em.unsqueeze(x, [-1]), em.unsqueeze(x, [-2])
    ge = em.op("Cast", em.op("GreaterOrEqual", xj, xi), to=1)
    k = em.reduce("ReduceSum", ge, [-1], False)
    s = em.reduce("ReduceSum", em.op("Mul", ge, xj), [-1], False)
    support = em.op("Cast", em.op("Greater", em.op("Add", _c(em, 1.0), em.op("Mul", k, x)), s), to=1)
    size = em.reduce("ReduceSum", support, [-1])
    tau = em.op("Div", em.op("Sub", em.reduce("ReduceSum", em.op("Mul", support, s), [-1]), _c(em, 1.0)), size)
    return em.op("Relu", em.op("Sub", x, tau))


def _softmax(em, x, axis=-1):
    return em.op("Softmax", x, axis=axis)


def softmax_axes(em, x, axes):
    """Softmax over one axis or several (the latter as exp / sum over all of them)."""
    axes = [axes] if isinstance(axes, int) else list(axes)
    if len(axes) == 1:
        return em.op("Softmax", x, axis=int(axes[0]))
    shifted = em.op("Sub", x, em.reduce("ReduceMax", x, axes))
    e = em.op("Exp", shifted)
    return em.op("Div", e, em.reduce("ReduceSum", e, axes))


ACTIVATIONS = {
    "linear": lambda em, x: x,
    "relu": _unary("Relu"),
    "relu6": lambda em, x: em.op("Clip", x, _c(em, 0.0), _c(em, 6.0)),
    "sigmoid": _unary("Sigmoid"),
    "softmax": _softmax,
    "softplus": _unary("Softplus"),
    "softsign": _unary("Softsign"),
    "tanh": _unary("Tanh"),
    "selu": _unary("Selu"),
    "elu": _unary("Elu", alpha=1.0),
    "exponential": _unary("Exp"),
    "leaky_relu": _unary("LeakyRelu", alpha=0.2),
    "silu": _silu,
    "swish": _silu,
    "gelu": _unary("Gelu", approximate="none"),
    "hard_sigmoid": _unary("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),
    "hard_sigmoid_tf_keras": _unary("HardSigmoid", alpha=0.2, beta=0.5),
    "hard_silu": _unary("HardSwish"),
    "hard_swish": _unary("HardSwish"),
    "mish": _unary("Mish"),
    "log_softmax": lambda em, x: em.op("LogSoftmax", x, axis=-1),
    "celu": _unary("Celu", alpha=1.0),
    "glu": _glu,
    "sparse_plus": _sparse_plus,
    "squareplus": _squareplus,
    "soft_shrink": _unary("Shrink", bias=0.5, lambd=0.5),
    "hard_shrink": _unary("Shrink", bias=0.0, lambd=0.5),
    "tanh_shrink": lambda em, x: em.op("Sub", x, em.op("Tanh", x)),
    "hard_tanh": lambda em, x: em.op("Clip", x, _c(em, -1.0), _c(em, 1.0)),
    "log_sigmoid": lambda em, x: em.op("Neg", em.op("Softplus", em.op("Neg", x))),
    "sparsemax": _sparsemax,
    "sparse_sigmoid": lambda em, x: em.op("Clip", em.op("Mul", em.op("Add", x, _c(em, 1.0)), _c(em, 0.5)),
                                          _c(em, 0.0), _c(em, 1.0)),
}


def get(spec) -> str:
    """An activation name from what a config holds: a name, None, or a serialized function."""
    if spec is None:
        return "linear"
    if isinstance(spec, dict):  # {"module": "keras.activations", "class_name": "function", "config": "relu"}
        spec = spec.get("config") if isinstance(spec.get("config"), str) else spec.get("class_name")
    if not isinstance(spec, str) or spec not in ACTIVATIONS:
        raise UnsupportedOpError(f"unknown activation {spec!r}; graphc knows {sorted(ACTIVATIONS)}")
    return spec


def apply(em, name: str, x):
    return ACTIVATIONS[get(name)](em, x)
