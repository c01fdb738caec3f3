"""Optimizers as update-graph builders (see `graphc/optimizers/base.py` for the contract):

    opt = graphc.optimizers.get("adam")
    state = opt.init_state({"dense/kernel": w, ...})        # {"dense/kernel/momentum": zeros, ...}
    new_params, new_state = opt.build_update(em, params, grads, state_values, step)

Keras's optimizers with Keras's rules, defaults and config keys: SGD, Adagrad, RMSprop, Adadelta, Adam,
AdamW, Adamax, Nadam. `get` accepts an Optimizer, a Keras string ("adam"), a Keras config dict
(`{"class_name": "Adam", "config": {...}}`), a DL4J updater name or a member of `Updater`.

DL4J names build the Keras optimizer with the same rule and DL4J's default hyper-parameters
(`dl4j(name, **overrides)`; DL4J's camelCase keys such as learningRate, rmsDecay, beta1 are accepted):
- Sgd: learning_rate 1e-3;  Nesterovs: learning_rate 0.1, momentum 0.9, nesterov;
- AdaGrad: learning_rate 0.1, epsilon 1e-6, initial_accumulator_value 0 (DL4J adds epsilon outside the
  square root, lr g / (sqrt(acc) + eps); here it is Keras's sqrt(acc + eps));
- RmsProp: learning_rate 0.1, rho (rmsDecay) 0.95, epsilon 1e-8;
- AdaDelta: rho 0.95, epsilon 1e-6, learning_rate 1.0 (DL4J's AdaDelta has no learning rate);
- Adam, AdaMax: learning_rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-8;
- Nadam: as Adam; Keras's Nadam rule (DL4J's own Nadam has no 0.96 momentum schedule and no bias
  correction of v, so its numbers differ from this one).
Where a DL4J spelling is also a Keras class name ("Adam", "Nadam") `get` gives Keras's defaults; use
`dl4j("Adam")` or `Updater.ADAM` for DL4J's.
"""
from __future__ import annotations

import enum

from graphc.optimizers import schedules
from graphc.optimizers.adam import Adam, Adamax, AdamW, Nadam
from graphc.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from graphc.optimizers.base import GLOBAL, Optimizer, OptimizerError
from graphc.optimizers.clipping import ClippingError, GradientNormalization
from graphc.optimizers.regularization import Regularization, RegularizationError
from graphc.optimizers.schedules import (CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,
                                         LearningRateSchedule, MapSchedule, PiecewiseConstantDecay, PolynomialDecay,
                                         ScheduleError, StepSchedule)
from graphc.optimizers.sgd import SGD

CLASSES = {c.__name__: c for c in (SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, Adamax, Nadam)}
KERAS_NAMES = {name.lower(): cls for name, cls in CLASSES.items()}

_DL4J_ADAM = dict(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
DL4J = {
    "Sgd": (SGD, dict(learning_rate=1e-3)),
    "Nesterovs": (SGD, dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    "AdaGrad": (Adagrad, dict(learning_rate=0.1, epsilon=1e-6, initial_accumulator_value=0.0)),
    "RmsProp": (RMSprop, dict(learning_rate=0.1, rho=0.95, epsilon=1e-8)),
    "AdaDelta": (Adadelta, dict(learning_rate=1.0, rho=0.95, epsilon=1e-6)),
    "Adam": (Adam, _DL4J_ADAM),
    "AdaMax": (Adamax, _DL4J_ADAM),
    "Nadam": (Nadam, _DL4J_ADAM),
}
# DL4J's builder keys -> Keras's
DL4J_KEYS = {"learningRate": "learning_rate", "learningRateSchedule": "learning_rate", "rmsDecay": "rho",
             "beta1": "beta_1", "beta2": "beta_2", "momentumSchedule": "momentum"}


class Updater(enum.Enum):
    """DL4J's legacy `Updater` enum (value: the DL4J updater class name)."""
    SGD = "Sgd"
    NESTEROVS = "Nesterovs"
    ADAGRAD = "AdaGrad"
    RMSPROP = "RmsProp"
    ADADELTA = "AdaDelta"
    ADAM = "Adam"
    ADAMAX = "AdaMax"
    NADAM = "Nadam"


def dl4j(name, **overrides) -> Optimizer:
    """The optimizer for a DL4J updater name (or `Updater` member) with DL4J's defaults."""
    key = name.value if isinstance(name, Updater) else str(name).split(".")[-1]
    match = {k.lower(): k for k in DL4J}.get(key.lower())
    if match is None:
        raise OptimizerError(f"unknown DL4J updater {name!r}; one of {sorted(DL4J)}")
    cls, defaults = DL4J[match]
    overrides = {DL4J_KEYS.get(k, k): v for k, v in overrides.items()}
    return cls(**{**defaults, **overrides})


def get(identifier, **kwargs) -> Optimizer:
    """An Optimizer from an instance, a Keras string or config dict, or a DL4J updater name."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, Updater):
        return dl4j(identifier, **kwargs)
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = CLASSES.get(name) or KERAS_NAMES.get(str(name).lower())
        if cls is None:
            if name in DL4J:
                return dl4j(name, **{**(identifier.get("config") or {}), **kwargs})
            raise OptimizerError(f"unknown optimizer class {name!r} in config {identifier!r}; "
                                 f"known: {sorted(CLASSES)}")
        try:
            return cls.from_config({**(identifier.get("config") or {}), **kwargs})
        except TypeError as e:
            raise OptimizerError(f"optimizer config for {name!r} has keys graphc does not know: {e}") from None
    if isinstance(identifier, str):
        key = identifier.strip()
        if key in CLASSES:
            return CLASSES[key](**kwargs)
        if key in KERAS_NAMES:  # Keras's lower-case strings
            return KERAS_NAMES[key](**kwargs)
        if key in DL4J or key in Updater.__members__:
            return dl4j(key if key in DL4J else Updater[key], **kwargs)
        raise OptimizerError(f"unknown optimizer {identifier!r}; give a Keras name (e.g. 'adam', 'sgd'), "
                             f"a Keras config dict or a DL4J updater ({', '.join(sorted(DL4J))})")
    raise OptimizerError(f"cannot make an optimizer from {identifier!r} ({type(identifier).__name__})")


__all__ = ["Optimizer", "OptimizerError", "Updater", "GLOBAL", "get", "dl4j", "schedules", "GradientNormalization",
           "Regularization", "ClippingError", "RegularizationError", "ScheduleError", "LearningRateSchedule",
           "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay", "CosineDecay",
           "CosineDecayRestarts", "StepSchedule", "MapSchedule", *CLASSES]
