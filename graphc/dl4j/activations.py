"""DL4J's activations as graphc.nn activations: a name graphc.nn knows, or a linear activation followed
by a layer (LEAKYRELU: DL4J's slope is 0.01, not Keras's; CUBE: x^3)."""
from __future__ import annotations

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.enums import Activation, activation_coercer
from graphc.nn.base import Layer

# DL4J name -> graphc.nn activation name
_NN_ACTIVATION = {"identity": "linear", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "softmax": "softmax",
                  "softplus": "softplus", "softsign": "softsign", "elu": "elu", "selu": "selu",
                  "hardsigmoid": "hard_sigmoid_tf_keras", "hardtanh": "hard_tanh", "swish": "silu"}


class Cube(Layer):
    """DL4J's CUBE activation: x^3."""

    def call(self, em, x, mask=None):
        return em.op("Mul", em.op("Mul", x, x), x)


def nn_activation(act, where: str = ""):
    """(graphc.nn activation name, extra layer or None) for a DL4J activation: LEAKYRELU and CUBE are a
    linear activation followed by a layer."""
    act = activation_coercer(act or Activation.IDENTITY)
    if act is Activation.LEAKYRELU:
        from graphc.nn import LeakyReLU

        return "linear", LeakyReLU(negative_slope=0.01)
    if act is Activation.CUBE:
        return "linear", Cube()
    if act.value not in _NN_ACTIVATION:
        raise ConfigError(f"{where}: activation {act.name} has no graphc form; use one of {sorted(_NN_ACTIVATION)}")
    return _NN_ACTIVATION[act.value], None
