"""DL4J's configuration enums by DL4J's names, and what each means in graphc.

`Updater` is graphc.optimizers' (DL4J's updater rules), `LossFunction` graphc.losses' (DL4J's loss
math). `Activation` values are DL4J's lower-case names (graphc/dl4j/activations.py gives their graphc.nn form).
`WeightInit` members map to Keras initializers with DL4J's variances (`initializer`).
"""
from __future__ import annotations

import enum

from graphc.dl4j.builder import ConfigError, enum_coercer
from graphc.losses import LossFunction
from graphc.optimizers.dl4j_updaters import Updater


class OptimizationAlgorithm(enum.Enum):
    STOCHASTIC_GRADIENT_DESCENT = "sgd"
    LINE_GRADIENT_DESCENT = "line_gd"
    CONJUGATE_GRADIENT = "cg"
    LBFGS = "lbfgs"


class BackpropType(enum.Enum):
    STANDARD = "Standard"
    TRUNCATED_BPTT = "TruncatedBPTT"


class GradientNormalization(enum.Enum):
    """Values: graphc.optimizers.clipping's mode names."""
    NONE = "None"
    RENORMALIZE_L2_PER_LAYER = "RenormalizeL2PerLayer"
    RENORMALIZE_L2_PER_PARAM_TYPE = "RenormalizeL2PerParamType"
    CLIP_ELEMENT_WISE_ABSOLUTE_VALUE = "ClipElementWiseAbsoluteValue"
    CLIP_L2_PER_LAYER = "ClipL2PerLayer"
    CLIP_L2_PER_PARAM_TYPE = "ClipL2PerParamType"


class PoolingType(enum.Enum):
    MAX = "max"
    AVG = "avg"
    SUM = "sum"
    PNORM = "pnorm"


class ConvolutionMode(enum.Enum):
    STRICT = "strict"     # the sizes must divide exactly (DL4J's default)
    TRUNCATE = "truncate"  # valid padding, the remainder dropped
    SAME = "same"


class LearningRatePolicy(enum.Enum):
    NONE = "None"
    EXPONENTIAL = "Exponential"
    INVERSE = "Inverse"
    POLY = "Poly"
    STEP = "Step"
    SCHEDULE = "Schedule"


class WeightInit(enum.Enum):
    DISTRIBUTION = "distribution"
    ZERO = "zero"
    ONES = "ones"
    NORMAL = "normal"
    UNIFORM = "uniform"
    SIGMOID_UNIFORM = "sigmoid_uniform"
    XAVIER = "xavier"
    XAVIER_UNIFORM = "xavier_uniform"
    XAVIER_FAN_IN = "xavier_fan_in"
    XAVIER_LEGACY = "xavier_legacy"
    RELU = "relu"
    RELU_UNIFORM = "relu_uniform"
    LECUN_NORMAL = "lecun_normal"
    LECUN_UNIFORM = "lecun_uniform"


class Activation(enum.Enum):
    IDENTITY = "identity"
    RELU = "relu"
    LEAKYRELU = "leakyrelu"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"
    SOFTPLUS = "softplus"
    SOFTSIGN = "softsign"
    ELU = "elu"
    SELU = "selu"
    HARDSIGMOID = "hardsigmoid"
    HARDTANH = "hardtanh"
    SWISH = "swish"
    CUBE = "cube"


activation_coercer = enum_coercer(Activation, {"linear": Activation.IDENTITY, "leaky_relu": Activation.LEAKYRELU,
                                               "hard_sigmoid": Activation.HARDSIGMOID,
                                               "hard_tanh": Activation.HARDTANH, "silu": Activation.SWISH})
weight_init_coercer = enum_coercer(WeightInit)
updater_coercer = enum_coercer(Updater)
loss_coercer = enum_coercer(LossFunction)
gradient_normalization_coercer = enum_coercer(GradientNormalization)
pooling_coercer = enum_coercer(PoolingType)
convolution_mode_coercer = enum_coercer(ConvolutionMode)
optimization_algo_coercer = enum_coercer(OptimizationAlgorithm)
backprop_type_coercer = enum_coercer(BackpropType)
lr_policy_coercer = enum_coercer(LearningRatePolicy)


def initializer(weight_init, dist=None, seed=None, where: str = ""):
    """The graphc.nn (Keras) initializer for a DL4J WeightInit (and its Distribution): DL4J's
    definitions live in graphc.nn.initializers (`dl4j`), shared with the Keras-side `get`."""
    from graphc.nn import initializers as I

    wi = weight_init_coercer(weight_init or WeightInit.XAVIER)
    if wi is WeightInit.DISTRIBUTION and dist is None:
        raise ConfigError(f"{where}: weight_init DISTRIBUTION needs .dist(NormalDistribution(...) or "
                          f"UniformDistribution(...))")
    return I.dl4j(wi.name, seed=seed, dist=dist)


__all__ = ["Activation", "BackpropType", "ConvolutionMode", "GradientNormalization", "LearningRatePolicy",
           "LossFunction", "OptimizationAlgorithm", "PoolingType", "Updater", "WeightInit", "initializer"]
