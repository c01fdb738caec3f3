"""Losses as graph builders: `loss(em, y_true, y_pred, sample_weight=None, mask=None, class_weight=None)`
emits the scalar loss into `em`'s graph with standard ONNX ops (Keras's formulas and reductions).

`get` accepts a Loss, a Keras string ("mse", "categorical_crossentropy", ...), a Keras config dict
(`{"class_name": "MeanSquaredError", "config": {...}}`) or a DL4J `LossFunction` member / name
(`LossFunction.MCXENT`, "NEGATIVELOGLIKELIHOOD").

DL4J names map to the Keras loss with the same math. Where DL4J's math differs from every Keras loss
it is kept: `XENT`, `L1`, `L2` and `RMSE_XENT` sum over the outputs (Keras's losses average them).
DL4J's `HINGE`/`SQUARED_HINGE` also sum over outputs in DL4J; here they are Keras's (averaged), the
same for one output.
"""
from __future__ import annotations

import enum

import numpy as np

from graphc.errors import GraphcError
from graphc.losses.base import Loss
from graphc.losses.hinge import CategoricalHinge, Hinge, SquaredHinge
from graphc.losses.probabilistic import (MCXENT, XENT, BinaryCrossentropy, CategoricalCrossentropy, KLDivergence,
                                         NegativeLogLikelihood, SparseCategoricalCrossentropy)
from graphc.losses.regression import (L1, L2, RMSE_XENT, CosineSimilarity, Huber, LogCosh, MeanAbsoluteError,
                                      MeanAbsolutePercentageError, MeanSquaredError, MeanSquaredLogarithmicError,
                                      Poisson)


class LossError(GraphcError):
    """A loss name or config graphc does not know."""


CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Huber, LogCosh,
    CosineSimilarity, Poisson, L1, L2, RMSE_XENT, Hinge, SquaredHinge, CategoricalHinge, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, XENT, MCXENT, NegativeLogLikelihood)}

# Keras's strings (function names and their short aliases)
KERAS_NAMES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "cosine_similarity": CosineSimilarity, "poisson": Poisson,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
}


class LossFunction(enum.Enum):
    """DL4J's `LossFunctions.LossFunction` members graphc builds (value: the loss class)."""
    MSE = "MeanSquaredError"
    L1 = "L1"
    L2 = "L2"
    XENT = "XENT"
    MCXENT = "MCXENT"
    SPARSE_MCXENT = "SparseCategoricalCrossentropy"
    NEGATIVELOGLIKELIHOOD = "NegativeLogLikelihood"
    COSINE_PROXIMITY = "CosineSimilarity"
    HINGE = "Hinge"
    SQUARED_HINGE = "SquaredHinge"
    KL_DIVERGENCE = "KLDivergence"
    MEAN_ABSOLUTE_ERROR = "MeanAbsoluteError"
    MEAN_ABSOLUTE_PERCENTAGE_ERROR = "MeanAbsolutePercentageError"
    MEAN_SQUARED_LOGARITHMIC_ERROR = "MeanSquaredLogarithmicError"
    POISSON = "Poisson"
    RMSE_XENT = "RMSE_XENT"


def get(identifier, **kwargs) -> Loss:
    """A `Loss` from an instance, a Keras string or config dict, or a DL4J `LossFunction` (or its name)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, LossFunction):
        return CLASSES[identifier.value](**kwargs)
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        config = dict(identifier.get("config") or {})
        cls = CLASSES.get(name) or KERAS_NAMES.get(str(name))
        if cls is None:
            raise LossError(f"unknown loss class {name!r} in config {identifier!r}; known: {sorted(CLASSES)}")
        try:
            return cls.from_config({**config, **kwargs})
        except TypeError as e:
            raise LossError(f"loss config for {name!r} has keys graphc does not know: {e}") from None
    if isinstance(identifier, str):
        key = identifier.strip()
        if key.lower() in KERAS_NAMES:
            return KERAS_NAMES[key.lower()](**kwargs)
        if key in CLASSES:
            return CLASSES[key](**kwargs)
        dl4j = key.split(".")[-1].upper()
        if dl4j in LossFunction.__members__:
            return CLASSES[LossFunction[dl4j].value](**kwargs)
        raise LossError(f"unknown loss {identifier!r}; give a Keras name (e.g. 'mse', "
                        f"'categorical_crossentropy'), a Keras config dict or a DL4J LossFunction")
    raise LossError(f"cannot make a loss from {identifier!r} ({type(identifier).__name__})")


def combine(em, values, loss_weights=None):
    """The total of several outputs' scalar losses, as Keras's `compile(loss_weights=...)` sums them:
    `values` and `loss_weights` both lists in output order, or both dicts by output name."""
    if isinstance(values, dict):
        names = list(values)
        weights = loss_weights or {}
        if not isinstance(weights, dict) or set(weights) - set(names):
            raise LossError(f"loss_weights {loss_weights!r} do not name the outputs {names}")
        pairs = [(values[n], weights.get(n, 1.0)) for n in names]
    else:
        values = list(values)
        weights = [1.0] * len(values) if loss_weights is None else list(loss_weights)
        if len(weights) != len(values):
            raise LossError(f"{len(weights)} loss_weights for {len(values)} outputs; give one per output")
        pairs = list(zip(values, weights))
    if not pairs:
        raise LossError("no losses to combine")
    total = None
    for v, w in pairs:
        term = v if float(w) == 1.0 else em.op("Mul", v, em.const(np.asarray(w, np.dtype(em.type(v).dtype))))
        total = term if total is None else em.op("Add", total, term)
    return total


__all__ = ["Loss", "LossFunction", "LossError", "combine", "get", *CLASSES]
