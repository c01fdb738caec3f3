"""Keras's weight initializers, with its names, defaults and semantics, drawn with numpy; and DL4J's
WeightInit schemes by their DL4J names with DL4J's definitions (`get("XAVIER")`, `dl4j`).

A seeded initializer gives the same values every call (as Keras 3's); an unseeded one fresh values.
Fans follow Keras's `compute_fans`: a kernel (spatial..., in, out) has fan_in = in * receptive
field and fan_out = out * receptive field.
"""
from __future__ import annotations

import enum
import math

import numpy as np

from graphc.errors import InputError
from graphc.nn.keras_objects import KerasObject, classes_in, lookup


class Initializer(KerasObject):
    module = "keras.initializers"

    def __call__(self, shape, dtype=np.float32) -> np.ndarray:
        return np.asarray(self.draw(tuple(int(d) for d in shape)), dtype=dtype)

    def draw(self, shape):
        raise NotImplementedError

    def rng(self):
        return np.random.default_rng(getattr(self, "seed", None))


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    if input_axes is not None and output_axes is not None:
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def truncated_normal(rng, mean, stddev, shape):
    """Normal values redrawn until within two standard deviations (Keras's truncated_normal)."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return mean + stddev * z


class Zeros(Initializer):
    def draw(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def draw(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def draw(self, shape):
        return np.broadcast_to(np.asarray(self.value, np.float64), shape).copy()


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def draw(self, shape):
        return self.rng().normal(self.mean, self.stddev, shape)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def draw(self, shape):
        return self.rng().uniform(self.minval, self.maxval, shape)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def draw(self, shape):
        return truncated_normal(self.rng(), self.mean, self.stddev, shape)


class VarianceScaling(Initializer):
    """Variance `scale / n`, n the fan in, out or their mean; truncated normal, normal or uniform."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        if scale <= 0:
            raise ValueError(f"VarianceScaling scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "normal", "uniform"):
            raise ValueError(f"VarianceScaling distribution {distribution!r} is not truncated_normal, "
                             f"untruncated_normal or uniform")
        # Keras reads "normal" as its truncated normal
        distribution = "truncated_normal" if distribution == "normal" else distribution
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        self.input_axes, self.output_axes = input_axes, output_axes

    def draw(self, shape):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            # the standard deviation of a unit normal truncated to [-2, 2]
            return truncated_normal(self.rng(), 0.0, math.sqrt(var) / 0.87962566103423978, shape)
        if self.distribution == "untruncated_normal":
            return self.rng().normal(0.0, math.sqrt(var), shape)
        limit = math.sqrt(3.0 * var)
        return self.rng().uniform(-limit, limit, shape)


def _scaling(name, scale, mode, distribution):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": f"VarianceScaling({scale}, {mode!r}, {distribution!r})."})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """Q of the QR decomposition of a normal matrix (signs fixed by R's diagonal), reshaped."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def draw(self, shape):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializes weights of rank 2 or more, not shape {list(shape)}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self.rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def draw(self, shape):
        if len(shape) != 2:
            raise ValueError(f"Identity initializes 2-D weights, not shape {list(shape)}")
        return self.gain * np.eye(*shape)


class XavierLegacy(Initializer):
    """DL4J's XAVIER_LEGACY (its XAVIER up to 0.6.0): N(0, 1/(n_in + n_out)) with n_in, n_out the last
    two dims (the channels of a kernel, not its fans)."""

    def __init__(self, seed=None):
        self.seed = seed

    def draw(self, shape):
        if len(shape) < 2:
            raise InitializerError(f"XAVIER_LEGACY initializes weights of rank 2 or more, not shape {list(shape)}")
        return self.rng().standard_normal(shape) / math.sqrt(shape[-2] + shape[-1])


class SquareIdentity(Identity):
    """DL4J's IDENTITY: the identity matrix, for square 2-D weights only."""

    def draw(self, shape):
        if len(shape) != 2 or shape[0] != shape[1]:
            raise InitializerError(f"IDENTITY initializes square 2-D weights, not shape {list(shape)}; give "
                                   f"Keras's 'identity' for a rectangular one")
        return super().draw(shape)


CLASSES = classes_in(dict(globals()), Initializer)
CLASSES.update(IdentityInitializer=Identity, OrthogonalInitializer=Orthogonal)  # Keras's other export names
ALIASES = {"zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
           "normal": RandomNormal, "random_uniform": RandomUniform, "uniform": RandomUniform,
           "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
           "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
           "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
           "orthogonal": Orthogonal, "identity": Identity}


class InitializerError(InputError, ValueError):
    """An initializer name, distribution or shape graphc cannot use."""


# DL4J's WeightInit schemes (WeightInitUtil) as the VarianceScaling that draws the same law; fans as
# Keras computes them (a kernel's fan_in = in * receptive field)
DL4J_SCALING = {
    "XAVIER": (1.0, "fan_avg", "untruncated_normal"),            # N(0, 2/(fanIn+fanOut))
    "XAVIER_UNIFORM": (1.0, "fan_avg", "uniform"),               # U(-s, s), s = sqrt(6/(fanIn+fanOut))
    "XAVIER_FAN_IN": (1.0, "fan_in", "untruncated_normal"),      # N(0, 1/fanIn), as NORMAL and LECUN_NORMAL
    "NORMAL": (1.0, "fan_in", "untruncated_normal"),
    "LECUN_NORMAL": (1.0, "fan_in", "untruncated_normal"),
    "RELU": (2.0, "fan_in", "untruncated_normal"),               # N(0, 2/fanIn)
    "RELU_UNIFORM": (2.0, "fan_in", "uniform"),                  # U(-s, s), s = sqrt(6/fanIn)
    "SIGMOID_UNIFORM": (16.0, "fan_avg", "uniform"),             # U(-r, r), r = 4 sqrt(6/(fanIn+fanOut))
    "UNIFORM": (1.0 / 3.0, "fan_in", "uniform"),                 # U(-a, a), a = 1/sqrt(fanIn)
    "LECUN_UNIFORM": (3.0, "fan_in", "uniform"),                 # a = 3/sqrt(fanIn): DL4J's, not Keras's sqrt(3/fanIn)
    "VAR_SCALING_NORMAL_FAN_IN": (1.0, "fan_in", "untruncated_normal"),
    "VAR_SCALING_NORMAL_FAN_OUT": (1.0, "fan_out", "untruncated_normal"),
    "VAR_SCALING_NORMAL_FAN_AVG": (1.0, "fan_avg", "untruncated_normal"),
    "VAR_SCALING_UNIFORM_FAN_IN": (3.0, "fan_in", "uniform"),    # a = 3/sqrt(fanIn), as DL4J writes it
    "VAR_SCALING_UNIFORM_FAN_OUT": (3.0, "fan_out", "uniform"),
    "VAR_SCALING_UNIFORM_FAN_AVG": (3.0, "fan_avg", "uniform"),
}
DL4J_NAMES = (*DL4J_SCALING, "XAVIER_LEGACY", "ZERO", "ONES", "IDENTITY", "DISTRIBUTION")


def dl4j(name: str, seed=None, dist=None) -> Initializer:
    """The initializer of DL4J's `WeightInit.<name>` (any case), drawn with DL4J's definition;
    DISTRIBUTION samples `dist`: an initializer, an object with `.initializer(seed)` (graphc.dl4j's
    distributions) or a DL4J JSON dict (`{"@class": "...NormalDistribution", "mean": 0, "std": 1}`)."""
    key = str(name).upper()
    if key in DL4J_SCALING:
        return VarianceScaling(*DL4J_SCALING[key], seed=seed)
    if key == "XAVIER_LEGACY":
        return XavierLegacy(seed)
    if key in ("ZERO", "ONES", "IDENTITY"):
        return {"ZERO": Zeros, "ONES": Ones, "IDENTITY": SquareIdentity}[key]()
    if key == "DISTRIBUTION":
        return _distribution(dist, seed)
    raise InitializerError(f"unknown DL4J weight init {name!r}; known: {', '.join(DL4J_NAMES)}")


_DL4J_DISTRIBUTIONS = {"NormalDistribution": lambda d, seed: RandomNormal(d.get("mean", 0.0), d.get("std", 1.0), seed),
                       "GaussianDistribution": lambda d, seed: RandomNormal(d.get("mean", 0.0), d.get("std", 1.0),
                                                                            seed),
                       "TruncatedNormalDistribution": lambda d, seed: TruncatedNormal(d.get("mean", 0.0),
                                                                                      d.get("std", 1.0), seed),
                       "UniformDistribution": lambda d, seed: RandomUniform(d.get("lower", -1.0), d.get("upper", 1.0),
                                                                            seed),
                       "ConstantDistribution": lambda d, seed: Constant(d.get("value", 0.0)),
                       "OrthogonalDistribution": lambda d, seed: Orthogonal(d.get("gain", 1.0), seed)}


def _distribution(dist, seed):
    if isinstance(dist, Initializer):
        return dist
    if hasattr(dist, "initializer"):
        return dist.initializer(seed)
    if isinstance(dist, dict) and str(dist.get("@class", "")).rsplit(".", 1)[-1] in _DL4J_DISTRIBUTIONS:
        return _DL4J_DISTRIBUTIONS[dist["@class"].rsplit(".", 1)[-1]](dist, seed)
    raise InitializerError(f"weight init DISTRIBUTION needs dist=: an initializer, a graphc.dl4j distribution or "
                           f"a DL4J JSON dict with @class one of {', '.join(_DL4J_DISTRIBUTIONS)}; got {dist!r}")


def get(value, seed=None, dist=None):
    """An initializer from a name, a Keras config dict or an instance (None stays None).

    Keras's names as Keras spells them ('glorot_uniform', 'GlorotUniform', 'uniform'); DL4J's
    WeightInit names as DL4J spells them ('XAVIER', 'UNIFORM', 'RELU_UNIFORM', 'DISTRIBUTION' with
    `dist`), or a WeightInit enum member, with DL4J's definitions (see `dl4j`). Another spelling
    of a name only DL4J has ('xavier', 'Relu_Uniform') finds DL4J's. `seed` seeds a DL4J draw."""
    name = getattr(value, "name", None) if isinstance(value, enum.Enum) else value
    if isinstance(name, str) and (name in DL4J_NAMES or (name.upper() in DL4J_NAMES and name not in ALIASES
                                                         and name not in CLASSES)):
        return dl4j(name, seed, dist)
    try:
        return lookup(value, CLASSES, ALIASES, "initializer")
    except ValueError as e:
        raise InitializerError(f"{e}; DL4J names: {', '.join(DL4J_NAMES)}") from None
