"""Keras's weight constraints, kept with their configs; `project(em, w)` emits the projected value
of a weight value `w`, which the trainer assigns after each update (as Keras does)."""
from __future__ import annotations

import numpy as np

from graphc.nn.keras_objects import KerasObject, classes_in, lookup

_EPSILON = 1e-7  # keras.backend.epsilon()


class Constraint(KerasObject):
    module = "keras.constraints"

    def project(self, em, w):
        raise NotImplementedError


def _norms(em, w, axis):
    axes = [axis] if isinstance(axis, int) else list(axis)
    return em.op("Sqrt", em.reduce("ReduceSum", em.op("Mul", w, w), axes))


def _rescale(em, w, norms, desired):
    return em.op("Mul", w, em.op("Div", desired, em.op("Add", norms, em.const(np.float32(_EPSILON)))))


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def project(self, em, w):
        norms = _norms(em, w, self.axis)
        desired = em.op("Clip", norms, em.const(np.float32(0)), em.const(np.float32(self.max_value)))
        return _rescale(em, w, norms, desired)


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def project(self, em, w):
        norms = _norms(em, w, self.axis)
        clipped = em.op("Clip", norms, em.const(np.float32(self.min_value)), em.const(np.float32(self.max_value)))
        desired = em.op("Add", em.op("Mul", em.const(np.float32(self.rate)), clipped),
                        em.op("Mul", em.const(np.float32(1 - self.rate)), norms))
        return _rescale(em, w, norms, desired)


class NonNeg(Constraint):
    def __init__(self):
        pass

    def project(self, em, w):
        return em.op("Max", w, em.const(np.float32(0)))


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def project(self, em, w):
        return em.op("Div", w, em.op("Add", _norms(em, w, self.axis), em.const(np.float32(_EPSILON))))


CLASSES = classes_in(dict(globals()), Constraint)
ALIASES = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}


def get(value):
    """A constraint from a name, a Keras config dict or an instance (None stays None)."""
    return lookup(value, CLASSES, ALIASES, "constraint")
