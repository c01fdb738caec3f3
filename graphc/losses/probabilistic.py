"""Probabilistic losses: binary, categorical and sparse categorical cross-entropy (probabilities or
logits, label smoothing), KL divergence, and DL4J's XENT, MCXENT, negative log-likelihood and LossKLD
(KL_DIVERGENCE, RECONSTRUCTION_CROSSENTROPY).

Probabilities are handled as Keras's torch backend does: categorical outputs renormalized to sum 1,
then clipped to [eps, 1 - eps] before the log; logits go through LogSoftmax / the stable
`max(x, 0) - x t + log(1 + exp(-|x|))`.
"""
from __future__ import annotations

import numpy as np

from graphc.losses.base import EPSILON, Loss, cast, mean_last, scalar, sum_last


def _clip(em, p, lo=EPSILON, hi=1.0 - EPSILON):
    return em.op("Clip", p, scalar(em, lo, p), scalar(em, hi, p))


def binary_elementwise(em, t, x, from_logits: bool):
    """The binary cross-entropy of each element (no reduction)."""
    if from_logits:
        softplus = em.op("Softplus", em.op("Neg", em.op("Abs", x)))
        return em.op("Add", em.op("Sub", em.op("Relu", x), em.op("Mul", x, t)), softplus)
    p = _clip(em, x)
    one = scalar(em, 1.0, x)
    pos = em.op("Mul", t, em.op("Log", p))
    neg = em.op("Mul", em.op("Sub", one, t), em.op("Log", em.op("Sub", one, p)))
    return em.op("Neg", em.op("Add", pos, neg))


def log_probs(em, x, from_logits: bool, axis: int = -1):
    if from_logits:
        return em.op("LogSoftmax", x, axis=axis)
    total = em.reduce("ReduceSum", x, [axis], keepdims=True)
    return em.op("Log", _clip(em, em.op("Div", x, total)))


class _Smoothed(Loss):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(reduction, name, dtype)
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), float(label_smoothing), int(axis)

    def _extra_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryCrossentropy(_Smoothed):
    keras_name = "binary_crossentropy"

    def per_sample(self, em, y_true, y_pred):
        if self.label_smoothing:
            ls = self.label_smoothing
            y_true = em.op("Add", em.op("Mul", y_true, scalar(em, 1.0 - ls, y_pred)), scalar(em, 0.5 * ls, y_pred))
        return mean_last(em, binary_elementwise(em, y_true, y_pred, self.from_logits), self.axis)


class CategoricalCrossentropy(_Smoothed):
    keras_name = "categorical_crossentropy"

    def per_sample(self, em, y_true, y_pred):
        if self.label_smoothing:
            ls, n = self.label_smoothing, em.shape(y_pred)[self.axis]
            if not isinstance(n, int):
                n = cast(em, em.op("Gather", em.op("Shape", y_pred), em.ints([self.axis]), axis=0), em.type(y_pred).dtype)
                share = em.op("Div", scalar(em, ls, y_pred), n)
            else:
                share = scalar(em, ls / n, y_pred)
            y_true = em.op("Add", em.op("Mul", y_true, scalar(em, 1.0 - ls, y_pred)), share)
        lp = log_probs(em, y_pred, self.from_logits, self.axis)
        return em.op("Neg", sum_last(em, em.op("Mul", y_true, lp), self.axis))


class SparseCategoricalCrossentropy(Loss):
    keras_name = "sparse_categorical_crossentropy"
    sparse = True

    def __init__(self, from_logits: bool = False, ignore_class=None, axis: int = -1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(reduction, name, dtype)
        if ignore_class is not None:
            from graphc.errors import UnsupportedOpError

            raise UnsupportedOpError(f"loss {self.name!r}: ignore_class is not supported; "
                                     f"pass a mask over the ignored samples instead")
        if int(axis) != -1:
            from graphc.errors import UnsupportedOpError

            raise UnsupportedOpError(f"loss {self.name!r}: only axis=-1 (classes last) is supported")
        self.from_logits, self.ignore_class, self.axis = bool(from_logits), ignore_class, -1

    def _extra_config(self):
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class}

    def per_sample(self, em, y_true, y_pred):
        n = em.shape(y_pred)[-1]
        depth = em.ints([n]) if isinstance(n, int) else em.op("Gather", em.op("Shape", y_pred), em.ints([-1]), axis=0)
        idx = y_true
        if np.dtype(em.type(idx).dtype).kind == "f":
            idx = em.op("Round", idx)
        onehot = em.op("OneHot", cast(em, idx, np.int64), depth,
                       em.const(np.array([0.0, 1.0], np.dtype(em.type(y_pred).dtype)), name="onehot_values"), axis=-1)
        lp = log_probs(em, y_pred, self.from_logits)
        return em.op("Neg", sum_last(em, em.op("Mul", onehot, lp)))


class KLDivergence(Loss):
    keras_name = "kl_divergence"
    epsilon = EPSILON  # labels and outputs are clipped to [epsilon, 1]

    def per_sample(self, em, y_true, y_pred):
        t, p = _clip(em, y_true, self.epsilon, 1.0), _clip(em, y_pred, self.epsilon, 1.0)
        return sum_last(em, em.op("Mul", t, em.op("Log", em.op("Div", t, p))))


class XENT(Loss):
    """DL4J's `LossBinaryXENT`: binary cross-entropy summed over the outputs (Keras averages them)."""
    keras_name = "xent"

    def __init__(self, from_logits: bool = False, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(reduction, name, dtype)
        self.from_logits = bool(from_logits)

    def _extra_config(self):
        return {"from_logits": self.from_logits}

    def per_sample(self, em, y_true, y_pred):
        return sum_last(em, binary_elementwise(em, y_true, y_pred, self.from_logits))


class MCXENT(CategoricalCrossentropy):
    """DL4J's multi-class cross-entropy (softmax outputs): Keras's categorical cross-entropy."""
    keras_name = "mcxent"


class NegativeLogLikelihood(CategoricalCrossentropy):
    """DL4J's `LossNegativeLogLikelihood`, which DL4J defines as MCXENT over probabilities."""
    keras_name = "negative_log_likelihood"


class LossKLD(KLDivergence):
    """DL4J's `LossKLD`: sum of label * log(label / output) over the outputs, both clipped to
    [Nd4j.EPS_THRESHOLD = 1e-5, 1] (Keras clips at 1e-7)."""
    keras_name = "loss_kld"
    epsilon = 1e-5


class ReconstructionCrossEntropy(LossKLD):
    """DL4J's `RECONSTRUCTION_CROSSENTROPY`: DL4J 0.9's LossFunction.getILossFunction gives LossKLD for it
    (the pre-0.9 LossFunctions.score computed a binary cross-entropy: that is `XENT`)."""
    keras_name = "reconstruction_crossentropy"
