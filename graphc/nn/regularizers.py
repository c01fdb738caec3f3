"""Keras's weight regularizers, kept with their configs; `penalty(em, w)` emits the scalar loss term
Keras adds for a weight value `w` (a graph value), for the trainer to add to the loss."""
from __future__ import annotations

import numpy as np

from graphc.nn.keras_objects import KerasObject, classes_in, lookup


class Regularizer(KerasObject):
    module = "keras.regularizers"

    def penalty(self, em, w):
        raise NotImplementedError


def _sum(em, x):
    return em.op("ReduceSum", x, keepdims=0)


def _scaled(em, factor, x):
    return em.op("Mul", em.const(np.float32(factor)), x)


class L1(Regularizer):
    def __init__(self, l1=0.01):
        self.l1 = float(l1)

    def penalty(self, em, w):
        return _scaled(em, self.l1, _sum(em, em.op("Abs", w)))


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = float(l2)

    def penalty(self, em, w):
        return _scaled(em, self.l2, _sum(em, em.op("Mul", w, w)))


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def penalty(self, em, w):
        return em.op("Add", L1(self.l1).penalty(em, w), L2(self.l2).penalty(em, w))


class OrthogonalRegularizer(Regularizer):
    """`factor * mean |cos|` over pairs of distinct rows (mode 'rows') or columns of a 2-D weight."""

    def __init__(self, factor=0.01, mode="rows"):
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer mode must be 'rows' or 'columns', got {mode!r}")
        self.factor, self.mode = float(factor), mode

    def penalty(self, em, w):
        shape = em.shape(w)
        if len(shape) != 2 or not all(isinstance(d, int) for d in shape):
            raise ValueError(f"OrthogonalRegularizer needs a 2-D weight of known shape, got {list(shape)}")
        axis = 1 if self.mode == "rows" else 0
        norm = em.op("Sqrt", em.reduce("ReduceSum", em.op("Mul", w, w), [axis]))
        unit = em.op("Div", w, em.op("Max", norm, em.const(np.float32(1e-7))))
        if self.mode == "rows":
            product, size = em.op("MatMul", unit, em.transpose(unit, [1, 0])), shape[0]
        else:
            product, size = em.op("MatMul", em.transpose(unit, [1, 0]), unit), shape[1]
        off = em.op("Mul", product, em.const((1.0 - np.eye(size)).astype(np.float32)))
        pairs = size * (size - 1.0) / 2.0
        return _scaled(em, self.factor * 0.5 / pairs, _sum(em, em.op("Abs", off)))


CLASSES = classes_in(dict(globals()), Regularizer)
ALIASES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}


def get(value):
    """A regularizer from a name, a Keras config dict or an instance (None stays None)."""
    return lookup(value, CLASSES, ALIASES, "regularizer")
