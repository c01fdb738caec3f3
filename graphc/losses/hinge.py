"""Hinge losses (Keras): hinge, squared hinge, categorical hinge; DL4J's LossHinge and LossSquaredHinge
(HINGE, SQUARED_HINGE), which sum over the outputs where Keras averages. Labels in {0, 1} are read as
{-1, 1} when every label is 0 or 1, as Keras's `convert_binary_labels_to_hinge` does (DL4J expects
-1/1 labels, on which both readings agree)."""
from __future__ import annotations

from graphc.losses.base import Loss, cast, mean_last, scalar, sum_last


def _signed_labels(em, y_true):
    # y + all_binary * (y - 1): 2y - 1 when every label is 0 or 1, else y (labels only, no Where)
    zero, one = scalar(em, 0.0, y_true), scalar(em, 1.0, y_true)
    binary = em.op("Or", em.op("Equal", y_true, zero), em.op("Equal", y_true, one))
    every = em.reduce("ReduceMin", cast(em, binary, em.type(y_true).dtype), list(range(em.rank(y_true))),
                      keepdims=False)
    return em.op("Add", y_true, em.op("Mul", every, em.op("Sub", y_true, one)))


def _margin(em, y_true, y_pred):
    return em.op("Relu", em.op("Sub", scalar(em, 1.0, y_pred), em.op("Mul", _signed_labels(em, y_true), y_pred)))


class Hinge(Loss):
    keras_name = "hinge"
    over_outputs = staticmethod(mean_last)  # how the outputs' margins make one sample's loss

    def per_sample(self, em, y_true, y_pred):
        return self.over_outputs(em, _margin(em, y_true, y_pred))


class SquaredHinge(Hinge):
    keras_name = "squared_hinge"

    def per_sample(self, em, y_true, y_pred):
        m = _margin(em, y_true, y_pred)
        return self.over_outputs(em, em.op("Mul", m, m))


class CategoricalHinge(Loss):
    keras_name = "categorical_hinge"

    def per_sample(self, em, y_true, y_pred):
        pos = sum_last(em, em.op("Mul", y_true, y_pred))
        neg = em.reduce("ReduceMax", em.op("Mul", em.op("Sub", scalar(em, 1.0, y_true), y_true), y_pred), [-1],
                        keepdims=False)
        return em.op("Relu", em.op("Add", em.op("Sub", neg, pos), scalar(em, 1.0, y_pred)))


class LossHinge(Hinge):
    """DL4J's `LossHinge`: sum over the outputs of max(0, 1 - label * output)."""
    keras_name = "loss_hinge"
    over_outputs = staticmethod(sum_last)


class LossSquaredHinge(SquaredHinge):
    """DL4J's `LossSquaredHinge`: sum over the outputs of max(0, 1 - label * output)^2."""
    keras_name = "loss_squared_hinge"
    over_outputs = staticmethod(sum_last)
