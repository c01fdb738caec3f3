"""Optimizers as update-graph builders (see `graphc/optimizers/base.py` for the contract):

    opt = graphc.optimizers.get("adam")
    state = opt.init_state({"dense/kernel": w, ...})        # {"dense/kernel/momentum": zeros, ...}
    new_params, new_state = opt.build_update(em, params, grads, state_values, step)
    graph = graphc.optimizers.update_graph(opt, {"dense/kernel": w, ...})   # the same, standalone

Keras's optimizers with Keras's rules, defaults and config keys: SGD, Adagrad, RMSprop, Adadelta, Adam,
AdamW, Adamax, Nadam. `get` accepts an Optimizer, a Keras string ("adam"), a Keras config dict
(`{"class_name": "Adam", "config": {...}}`), a DL4J updater name or a member of `Updater`.

DL4J's updater names (`dl4j(name, **overrides)`, `Updater.ADAM`, or `get("Nesterovs")`) build DL4J's
defaults and, where DL4J's rule differs from Keras's (AdaGrad, RmsProp, AdaMax, Nadam), DL4J's rule:
see `graphc/optimizers/dl4j_updaters.py`. DL4J's camelCase keys (learningRate, rmsDecay, beta1, ...) are
accepted. Where a DL4J spelling is also a Keras class name ("Adam", "Nadam") `get` gives Keras's;
use `dl4j("Nadam")` or `Updater.NADAM` for DL4J's.

Every optimizer also takes Keras's `weight_decay` (with `exclude_from_weight_decay`), `clipnorm` /
`clipvalue` / `global_clipnorm`, a schedule as `learning_rate` (schedules.py; SGD's `momentum` too), and
graphc's DL4J settings `regularization=Regularization(l1, l2, ...)` and
`gradient_normalization=GradientNormalization(mode, threshold, layers)`.
"""
from __future__ import annotations

from graphc.optimizers import schedules
from graphc.optimizers.adam import Adam, Adamax, AdamW, Nadam
from graphc.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from graphc.optimizers.base import GLOBAL, Optimizer, OptimizerError
from graphc.optimizers.clipping import ClippingError, GradientNormalization
from graphc.optimizers.dl4j_updaters import DEFAULTS as DL4J, AdaGrad, AdaMax, RmsProp, Updater, dl4j
from graphc.optimizers.regularization import Regularization, RegularizationError
from graphc.optimizers.schedules import (CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,
                                         LearningRateSchedule, MapSchedule, PiecewiseConstantDecay, PolynomialDecay,
                                         ScheduleError, StepSchedule)
from graphc.optimizers.sgd import SGD
from graphc.optimizers.update_graph import update_graph

CLASSES = {c.__name__: c for c in (SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, Adamax, Nadam)}
KERAS_NAMES = {name.lower(): cls for name, cls in CLASSES.items()}


def get(identifier, **kwargs) -> Optimizer:
    """An Optimizer from an instance, a Keras string or config dict, or a DL4J updater name."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, Updater):
        return dl4j(identifier, **kwargs)
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in CLASSES and name in DL4J:
            return dl4j(name, **{**(identifier.get("config") or {}), **kwargs})
        cls = CLASSES.get(name) or KERAS_NAMES.get(str(name).lower())
        if cls is None:
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


__all__ = ["AdaGrad", "RmsProp", "AdaMax", "Optimizer", "OptimizerError", "Updater", "GLOBAL", "get", "dl4j", "update_graph", "schedules", "GradientNormalization",
           "Regularization", "ClippingError", "RegularizationError", "ScheduleError", "LearningRateSchedule",
           "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay", "CosineDecay",
           "CosineDecayRestarts", "StepSchedule", "MapSchedule", *CLASSES]
