"""Keras's metrics for `fit`/`evaluate`, computed from each batch's predictions (numpy), averaged
over the samples of an epoch as Keras's `MeanMetricWrapper` does (precision and recall: ratios of
counts summed over the epoch, as Keras's `Precision`/`Recall`; AUC: confusion counts at 200 thresholds
summed over the epoch, as Keras's `AUC`). "accuracy"/"acc" picks the
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


def _divide_no_nan(a, b):
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


class AUC:
    """Keras's `AUC` (not multi-label): the area under the ROC or precision-recall curve from
    true/false positive counts at `num_thresholds` thresholds, evenly spread over [0, 1] with an
    endpoint just below 0 and just above 1. Called on a batch it gives that batch's counts, shape
    (4, num_thresholds): tp, fp, tn, fn, which add up over an epoch (`AUCTracker`); `area` turns
    them into the metric. A prediction counts as positive above a threshold, found as Keras finds it
    (its bucket ceil(p * (n - 1)) - 1, predictions clipped to [0, 1]); a label is positive when not 0.
    `summation_method` "interpolation" (Keras's default) is the trapezoid rule for ROC and Davis &
    Goadrich's interpolation of the counts for PR; "minoring"/"majoring" take the lower/upper side."""

    CURVES, SUMMATIONS = ("ROC", "PR"), ("interpolation", "minoring", "majoring")

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc",
                 from_logits=False):
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if int(num_thresholds) <= 1 or curve not in self.CURVES or summation_method not in self.SUMMATIONS:
            raise MetricError(f"AUC(num_thresholds={num_thresholds!r}, curve={curve!r}, summation_method="
                              f"{summation_method!r}): num_thresholds must be > 1, curve one of {self.CURVES}, "
                              f"summation_method one of {self.SUMMATIONS}")
        self.num_thresholds, self.curve, self.summation_method = int(num_thresholds), curve, summation_method
        self.__name__, self.from_logits = name, bool(from_logits)

    @classmethod
    def from_config(cls, cfg: dict) -> "AUC":
        """From Keras's `AUC.get_config()`; its multi-label and explicit-threshold forms are refused."""
        if cfg.get("multi_label") or cfg.get("thresholds") is not None or cfg.get("label_weights") is not None:
            raise MetricError(f"AUC config {cfg}: multi_label, thresholds and label_weights are not supported; "
                              f"use the default single-label AUC with num_thresholds")
        keys = ("num_thresholds", "curve", "summation_method", "name", "from_logits")
        return cls(**{k: cfg[k] for k in keys if cfg.get(k) is not None})

    def check(self, y_shape, out_shape) -> None:
        """Refuse, before any step, labels that are not one per prediction (sparse class labels for a
        softmax output: Keras's AUC needs one-hot labels or a single sigmoid output)."""
        per = [int(np.prod([d for d in shape[1:]])) for shape in (y_shape, out_shape)]
        if all(isinstance(d, int) for d in out_shape[1:]) and per[0] != per[1]:
            raise MetricError(f"metric {self.__name__!r} (AUC) needs a label per prediction: labels of shape "
                              f"{list(y_shape)} for an output of shape {list(out_shape)}; give one-hot labels "
                              f"(categorical_crossentropy) or use a single sigmoid output, as Keras's AUC needs")

    def __call__(self, y, p):
        self.check(np.shape(y), np.shape(p))
        p = np.asarray(p, np.float32).reshape(-1)
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        pos = (np.asarray(y).reshape(-1) != 0).astype(np.float64)
        n = self.num_thresholds
        bucket = np.maximum(np.ceil(np.clip(p, 0.0, 1.0) * np.float32(n - 1)) - 1, 0).astype(np.int64)
        # predictions above threshold t are those in buckets >= t: reversed cumulative sums
        tp = np.cumsum(np.bincount(bucket, pos, n)[::-1])[::-1]
        fp = np.cumsum(np.bincount(bucket, 1.0 - pos, n)[::-1])[::-1]
        return np.stack([tp, fp, fp[0] - fp, tp[0] - tp])

    def tracker(self):
        return AUCTracker(self)

    def area(self, counts) -> float:
        tp, fp, tn, fn = counts
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr(tp, fp, fn)
        recall = _divide_no_nan(tp, tp + fn)
        x, y = (_divide_no_nan(fp, fp + tn), recall) if self.curve == "ROC" else (recall, _divide_no_nan(tp, tp + fp))
        heights = {"interpolation": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
                   "majoring": np.maximum(y[:-1], y[1:])}[self.summation_method]
        return float(np.sum((x[:-1] - x[1:]) * heights))

    @staticmethod
    def _interpolated_pr(tp, fp, fn) -> float:
        """Precision integrated over recall with tp and predicted positives linear between thresholds."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return float(np.sum(_divide_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))))


class AUCTracker:
    """The epoch's AUC: confusion counts summed over the batches, the area taken at the end."""

    def __init__(self, auc: AUC):
        self.auc, self.counts = auc, 0.0

    def update(self, counts, weight=None):
        self.counts = self.counts + counts

    def result(self) -> float:
        return self.auc.area(self.counts) if np.ndim(self.counts) else 0.0


def tracker_for(fn):
    """The running accumulator a metric function's batch values go into."""
    return fn.tracker() if hasattr(fn, "tracker") else Mean()


FUNCTIONS = {f.__name__: f for f in (precision, recall, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                                     top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
                                     mean_absolute_error, mean_squared_error)}
ALIASES = {"mae": "mean_absolute_error", "mse": "mean_squared_error", "top_k": "top_k_categorical_accuracy"}


def resolve(name, loss) -> tuple[str, callable]:
    """(the name logs use, the per-sample function) for a metric name and the output's Loss."""
    if callable(name) and not isinstance(name, str):
        return getattr(name, "__name__", "metric"), name
    if isinstance(name, dict) and name.get("class_name") == "AUC":  # a Keras config, as compile_config holds it
        auc = AUC.from_config(name.get("config") or {})
        return auc.__name__, auc
    key = str(name)
    if key in ("accuracy", "acc"):
        kind = type(loss).__name__
        fn = (sparse_categorical_accuracy if getattr(loss, "sparse", False) else
              binary_accuracy if kind in ("BinaryCrossentropy", "XENT") else categorical_accuracy)
        return key, fn
    if key in ("AUC", "auc"):  # Keras's class name and its snake case
        return "auc", AUC()
    fn = FUNCTIONS.get(ALIASES.get(key, key))
    if fn is None:
        raise MetricError(f"unknown metric {name!r}; known: accuracy, auc, {', '.join(sorted([*FUNCTIONS, *ALIASES]))}")
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
