"""Regression losses: squared/absolute/log/percentage errors, Huber, log-cosh, cosine similarity,
Poisson (Keras's formulas, as `keras.losses` computes them), and DL4J's forms: the summed L1, L2,
RMSE_XENT and LossPoisson (POISSON, EXPLL), and SQUARED_LOSS (DL4J 0.9's LossMSE)."""
from __future__ import annotations

import numpy as np

from graphc.losses.base import EPSILON, Loss, mean_last, scalar, sum_last


def _diff(em, y_true, y_pred):
    return em.op("Sub", y_pred, y_true)


class MeanSquaredError(Loss):
    keras_name = "mean_squared_error"

    def per_sample(self, em, y_true, y_pred):
        d = _diff(em, y_true, y_pred)
        return mean_last(em, em.op("Mul", d, d))


class MeanAbsoluteError(Loss):
    keras_name = "mean_absolute_error"

    def per_sample(self, em, y_true, y_pred):
        return mean_last(em, em.op("Abs", _diff(em, y_true, y_pred)))


class MeanAbsolutePercentageError(Loss):
    keras_name = "mean_absolute_percentage_error"

    def per_sample(self, em, y_true, y_pred):
        denom = em.op("Max", em.op("Abs", y_true), scalar(em, EPSILON, y_pred))
        rel = em.op("Abs", em.op("Div", _diff(em, y_true, y_pred), denom))
        return em.op("Mul", mean_last(em, rel), scalar(em, 100.0, y_pred))


class MeanSquaredLogarithmicError(Loss):
    keras_name = "mean_squared_logarithmic_error"

    def per_sample(self, em, y_true, y_pred):
        eps, one = scalar(em, EPSILON, y_pred), scalar(em, 1.0, y_pred)
        lp = em.op("Log", em.op("Add", em.op("Max", y_pred, eps), one))
        lt = em.op("Log", em.op("Add", em.op("Max", y_true, eps), one))
        d = em.op("Sub", lp, lt)
        return mean_last(em, em.op("Mul", d, d))


class Huber(Loss):
    keras_name = "huber_loss"

    def __init__(self, delta: float = 1.0, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(reduction, name, dtype)
        self.delta = float(delta)

    def _extra_config(self):
        return {"delta": self.delta}

    def per_sample(self, em, y_true, y_pred):
        # 0.5 q^2 + delta (|e| - q) with q = min(|e|, delta): Keras's two branches without a Where
        a = em.op("Abs", _diff(em, y_true, y_pred))
        delta = scalar(em, self.delta, y_pred)
        q = em.op("Min", a, delta)
        quad = em.op("Mul", scalar(em, 0.5, y_pred), em.op("Mul", q, q))
        return mean_last(em, em.op("Add", quad, em.op("Mul", delta, em.op("Sub", a, q))))


class LogCosh(Loss):
    keras_name = "log_cosh"

    def per_sample(self, em, y_true, y_pred):
        # log(cosh(x)) = x + softplus(-2x) - log 2, finite for large |x|
        x = _diff(em, y_true, y_pred)
        sp = em.op("Softplus", em.op("Mul", x, scalar(em, -2.0, y_pred)))
        return mean_last(em, em.op("Sub", em.op("Add", x, sp), scalar(em, np.log(2.0), y_pred)))


class CosineSimilarity(Loss):
    keras_name = "cosine_similarity"

    def __init__(self, axis: int = -1, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(reduction, name, dtype)
        self.axis = int(axis)

    def _extra_config(self):
        return {"axis": self.axis}

    def _normalize(self, em, x):
        # x / max(||x||, eps), with the max taken under the root so the gradient stays finite at 0
        ss = em.reduce("ReduceSum", em.op("Mul", x, x), [self.axis], keepdims=True)
        return em.op("Div", x, em.op("Sqrt", em.op("Max", ss, scalar(em, EPSILON * EPSILON, x))))

    def per_sample(self, em, y_true, y_pred):
        prod = em.op("Mul", self._normalize(em, y_true), self._normalize(em, y_pred))
        return em.op("Neg", sum_last(em, prod, self.axis))


class Poisson(Loss):
    keras_name = "poisson"
    over_outputs = staticmethod(mean_last)  # how the outputs' terms make one sample's loss

    def per_sample(self, em, y_true, y_pred):
        log = em.op("Log", em.op("Add", y_pred, scalar(em, EPSILON, y_pred)))
        return self.over_outputs(em, em.op("Sub", y_pred, em.op("Mul", y_true, log)))


class L2(Loss):
    """DL4J's `LossL2`: the squared error summed over the outputs (MSE times the number of outputs)."""
    keras_name = "l2"

    def per_sample(self, em, y_true, y_pred):
        d = _diff(em, y_true, y_pred)
        return sum_last(em, em.op("Mul", d, d))


class L1(Loss):
    """DL4J's `LossL1`: the absolute error summed over the outputs."""
    keras_name = "l1"

    def per_sample(self, em, y_true, y_pred):
        return sum_last(em, em.op("Abs", _diff(em, y_true, y_pred)))


class RMSE_XENT(L1):
    """DL4J's `RMSE_XENT`: sum over the outputs of sqrt((label - output)^2), i.e. of |label - output|
    (written with Abs, whose gradient is finite where the two agree)."""
    keras_name = "rmse_xent"


class SquaredLoss(MeanSquaredError):
    """DL4J's `SQUARED_LOSS`: DL4J 0.9's LossFunction.getILossFunction gives LossMSE for it, the squared
    error averaged over the outputs (the pre-0.9 LossFunctions.score summed it: that is `L2`)."""
    keras_name = "squared_loss"


class LossPoisson(Poisson):
    """DL4J's `LossPoisson` (POISSON, EXPLL): output - label * log(output) summed over the outputs (Keras's
    Poisson averages them); Keras's log(output + 1e-7) keeps a zero output finite."""
    keras_name = "loss_poisson"
    over_outputs = staticmethod(sum_last)


class EXPLL(LossPoisson):
    """DL4J's `EXPLL` (exponential log likelihood, Poisson regression): DL4J 0.9 maps it to LossPoisson."""
    keras_name = "expll"
