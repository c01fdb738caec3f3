"""Keras's metrics for `fit`/`evaluate`, computed from each batch's predictions (numpy), averaged
over the samples of an epoch as Keras's `MeanMetricWrapper` does (precision and recall: ratios of
counts summed over the epoch, as Keras's `Precision`/`Recall`). "accuracy"/"acc" picks the
variant the loss implies, as Keras's `compile` does."""
from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError


class MetricError(GraphcError):
    """A metric name graphc does not know."""


def binary_accuracy(y, p, threshold=0.5):
    return np.mean(np.equal(y, (p > threshold).astype(y.dtype)), axis=-1)


def categorical_accuracy(y, p):
    return np.equal(np.argmax(y, -1), np.argmax(p, -1)).astype(np.float32)


def sparse_categorical_accuracy(y, p):
    y = np.asarray(y).reshape(p.shape[:-1]) if np.size(y) == np.prod(p.shape[:-1]) else y
    return np.equal(y.astype(np.int64), np.argmax(p, -1)).astype(np.float32)


def _top_k(labels, p, k):
    top = np.argsort(-p, axis=-1)[..., :k]
    return np.any(top == labels[..., None], axis=-1).astype(np.float32)


def top_k_categorical_accuracy(y, p, k=5):
    return _top_k(np.argmax(y, -1), p, k)


def sparse_top_k_categorical_accuracy(y, p, k=5):
    return _top_k(np.asarray(y).reshape(p.shape[:-1]).astype(np.int64), p, k)


def mean_absolute_error(y, p):
    return np.mean(np.abs(p - y), axis=-1)


def mean_squared_error(y, p):
    return np.mean(np.square(p - y), axis=-1)


def precision(y, p, threshold=0.5):
    """(true positives, predicted positives): a ratio of sums over the epoch, as Keras's Precision."""
    pred = p > threshold
    return (pred & (y > 0.5)).astype(np.float64), pred.astype(np.float64)


def recall(y, p, threshold=0.5):
    """(true positives, actual positives), as Keras's Recall."""
    actual = y > 0.5
    return ((p > threshold) & actual).astype(np.float64), actual.astype(np.float64)


FUNCTIONS = {f.__name__: f for f in (precision, recall, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                                     top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
                                     mean_absolute_error, mean_squared_error)}
ALIASES = {"mae": "mean_absolute_error", "mse": "mean_squared_error", "top_k": "top_k_categorical_accuracy"}


def resolve(name, loss) -> tuple[str, callable]:
    """(the name logs use, the per-sample function) for a metric name and the output's Loss."""
    if callable(name) and not isinstance(name, str):
        return getattr(name, "__name__", "metric"), name
    key = str(name)
    if key in ("accuracy", "acc"):
        kind = type(loss).__name__
        fn = (sparse_categorical_accuracy if getattr(loss, "sparse", False) else
              binary_accuracy if kind in ("BinaryCrossentropy", "XENT") else categorical_accuracy)
        return key, fn
    fn = FUNCTIONS.get(ALIASES.get(key, key))
    if fn is None:
        raise MetricError(f"unknown metric {name!r}; known: accuracy, {', '.join(sorted([*FUNCTIONS, *ALIASES]))}")
    return key, fn


class Mean:
    """A running mean over samples."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, values, weight=None):
        if isinstance(values, tuple):  # (numerators, denominators): a ratio of sums
            self.total += float(np.sum(values[0]))
            self.count += float(np.sum(values[1]))
            return
        values = np.asarray(values, np.float64)
        if weight is None:
            self.total += float(values.sum())
            self.count += int(values.size)
        else:
            self.total += float(values) * weight
            self.count += weight

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0
