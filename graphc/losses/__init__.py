"""Losses as graph builders: `loss(em, y_true, y_pred, sample_weight=None, mask=None, class_weight=None)`
emits the scalar loss into `em`'s graph with standard ONNX ops (Keras's formulas and reductions).

`get` accepts a Loss, a Keras string ("mse", "categorical_crossentropy", ...), a Keras config dict
(`{"class_name": "MeanSquaredError", "config": {...}}`) or a DL4J `LossFunction` member / name
(`LossFunction.MCXENT`, "NEGATIVELOGLIKELIHOOD").

DL4J names map to the ILossFunction DL4J 0.9's `LossFunction.getILossFunction` gives them, as the
Keras loss with the same math where there is one. Where DL4J's math differs from every Keras loss it
is kept: `XENT`, `L1`, `L2`, `RMSE_XENT`, `HINGE`, `SQUARED_HINGE`, `POISSON`/`EXPLL` (LossPoisson)
sum over the outputs (Keras's losses average them); `KL_DIVERGENCE`/`RECONSTRUCTION_CROSSENTROPY`
(LossKLD) clip at 1e-5 (Keras at 1e-7); `SQUARED_LOSS` is LossMSE.
"""
from __future__ import annotations

import enum

import numpy as np

from graphc.errors import GraphcError
from graphc.losses.base import Loss
from graphc.losses.hinge import CategoricalHinge, Hinge, LossHinge, LossSquaredHinge, SquaredHinge
from graphc.losses.probabilistic import (MCXENT, XENT, BinaryCrossentropy, CategoricalCrossentropy, KLDivergence,
                                         LossKLD, NegativeLogLikelihood, ReconstructionCrossEntropy,
                                         SparseCategoricalCrossentropy)
from graphc.losses.regression import (EXPLL, L1, L2, RMSE_XENT, CosineSimilarity, Huber, LogCosh, LossPoisson,
                                      MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
                                      MeanSquaredLogarithmicError, Poisson, SquaredLoss)


class LossError(GraphcError):
    """A loss name or config graphc does not know."""


CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Huber, LogCosh,
    CosineSimilarity, Poisson, L1, L2, RMSE_XENT, Hinge, SquaredHinge, CategoricalHinge, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, XENT, MCXENT, NegativeLogLikelihood,
    SquaredLoss, LossPoisson, EXPLL, LossKLD, ReconstructionCrossEntropy, LossHinge, LossSquaredHinge)}

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
    """DL4J's `LossFunctions.LossFunction` members graphc builds (value: the loss class; each its own, so
    that no member is an alias of another and a configuration keeps the name it was given)."""
    MSE = "MeanSquaredError"                 # LossMSE
    L1 = "L1"                                # LossL1
    L2 = "L2"                                # LossL2
    XENT = "XENT"                            # LossBinaryXENT
    MCXENT = "MCXENT"                        # LossMCXENT
    SPARSE_MCXENT = "SparseCategoricalCrossentropy"
    NEGATIVELOGLIKELIHOOD = "NegativeLogLikelihood"
    COSINE_PROXIMITY = "CosineSimilarity"    # LossCosineProximity
    HINGE = "LossHinge"
    SQUARED_HINGE = "LossSquaredHinge"
    KL_DIVERGENCE = "LossKLD"
    MEAN_ABSOLUTE_ERROR = "MeanAbsoluteError"  # LossMAE
    MEAN_ABSOLUTE_PERCENTAGE_ERROR = "MeanAbsolutePercentageError"
    MEAN_SQUARED_LOGARITHMIC_ERROR = "MeanSquaredLogarithmicError"
    POISSON = "LossPoisson"
    RMSE_XENT = "RMSE_XENT"
    SQUARED_LOSS = "SquaredLoss"             # LossMSE
    RECONSTRUCTION_CROSSENTROPY = "ReconstructionCrossEntropy"  # LossKLD
    EXPLL = "EXPLL"                          # LossPoisson


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
        if key in LossFunction.__members__:  # DL4J's member names are upper case, Keras's names lower
            return CLASSES[LossFunction[key].value](**kwargs)
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
