"""ROC curves and exact AUC (all scores kept, sorted once; ties share a rank): `ROC` for one binary
output, `ROCMultiClass` one-vs-all over the columns of a softmax output. A curve with no positive or
no negative sample has an undefined AUC: NaN (scikit-learn raises instead)."""
from __future__ import annotations

import numpy as np

from graphc.errors import ShapeError
from graphc.evaluation._inputs import as_rows


def _rankdata(a):
    """Average ranks (1-based) with ties sharing their mean rank, as scipy's `rankdata`."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    starts = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(a))
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auc_exact(labels, scores) -> float:
    """The area under the ROC curve: the Mann-Whitney statistic (ties count one half)."""
    y = np.asarray(labels).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    r = _rankdata(np.asarray(scores, np.float64))
    return float((r[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def _counts(labels, scores):
    """Distinct scores, highest first, with the true and false positives at or above each."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # the last index of each distinct score
    tps = np.cumsum(y)[last]
    return s[last], tps, (last + 1) - tps


def roc_curve(labels, scores):
    """(fpr, tpr, thresholds) at every distinct score, highest first, starting from (0, 0) at +inf."""
    y = np.asarray(labels).astype(bool)
    thr, tps, fps = _counts(y, scores)
    P, N = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return np.r_[0.0, fps / N], np.r_[0.0, tps / P], np.r_[np.inf, thr]


def average_precision(labels, scores) -> float:
    """The area under the precision-recall curve as a step sum (scikit-learn's `average_precision_score`)."""
    y = np.asarray(labels).astype(bool)
    if not y.any():
        return float("nan")
    _, tps, fps = _counts(y, scores)
    precision, recall = tps / (tps + fps), tps / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


class _Scores:
    """Labels and scores kept batch by batch, concatenated when a metric is asked for."""

    def __init__(self):
        self._y, self._s = [], []

    def merge(self, other):
        """Add another evaluation's samples (e.g. one per Spark partition)."""
        self._y += other._y
        self._s += other._s
        return self

    def _data(self):
        if not self._y or not sum(len(y) for y in self._y):
            raise ShapeError(f"{type(self).__name__}: nothing evaluated yet; call eval(labels, predictions) first")
        return np.concatenate(self._y), np.concatenate(self._s)


class ROC(_Scores):
    """One binary output: labels 0/1 (or one-hot with 2 columns), scores of the positive class."""

    def eval(self, labels, predictions, mask=None) -> "ROC":
        y, p = as_rows("ROC", labels, predictions, mask)
        y, p = self._column(y, "labels"), self._column(p, "predictions")
        if y.shape != p.shape:
            raise ShapeError(f"ROC: labels of shape {np.shape(labels)} do not fit predictions of shape "
                             f"{np.shape(predictions)}")
        if y.size and not np.all((y == 0) | (y == 1)):
            raise ShapeError("ROC: labels must be 0 or 1 (or one-hot rows); use ROCMultiClass for more classes")
        self._y.append(y.astype(bool))
        self._s.append(p.astype(np.float64))
        return self

    @staticmethod
    def _column(a, role):
        a = np.asarray(a)
        if a.ndim == 2 and a.shape[1] == 2:
            return a[:, 1]
        if a.ndim == 2 and a.shape[1] == 1:
            return a[:, 0]
        if a.ndim == 1:
            return a
        raise ShapeError(f"ROC: {role} of shape {a.shape}; give one column (or two, one-hot) per sample")

    def auc(self) -> float:
        return auc_exact(*self._data())

    def auprc(self) -> float:
        return average_precision(*self._data())

    def roc_curve(self):
        return roc_curve(*self._data())

    def stats(self) -> str:
        y, _ = self._data()
        return (f"AUC (area under ROC curve): {self.auc():.6f}\nAUPRC (average precision): {self.auprc():.6f}\n"
                f"samples: {len(y)} ({int(y.sum())} positive)")


class ROCMultiClass(_Scores):
    """One-vs-all ROC per class of a softmax output: labels one-hot or class indices."""

    def __init__(self, n_classes: int | None = None):
        super().__init__()
        self.n_classes = n_classes

    def eval(self, labels, predictions, mask=None) -> "ROCMultiClass":
        y, p = as_rows("ROCMultiClass", labels, predictions, mask)
        p = np.asarray(p, np.float64)
        if p.ndim != 2:
            raise ShapeError(f"ROCMultiClass: predictions of shape {p.shape}; give one score column per class")
        c = p.shape[1]
        if self.n_classes is not None and c != self.n_classes:
            raise ShapeError(f"ROCMultiClass: predictions have {c} columns, expected {self.n_classes}")
        self.n_classes = c
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim == 1:
            idx = y.astype(np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= c):
                raise ShapeError(f"ROCMultiClass: class indices must lie in [0, {c})")
            y = np.eye(c, dtype=bool)[idx]
        elif y.shape != p.shape:
            raise ShapeError(f"ROCMultiClass: labels of shape {y.shape} do not fit predictions of shape {p.shape}")
        self._y.append(y.astype(bool))
        self._s.append(p)
        return self

    def auc(self, cls: int) -> float:
        y, s = self._data()
        return auc_exact(y[:, cls], s[:, cls])

    def average_auc(self) -> float:
        """The macro mean of the one-vs-all AUCs (classes with an undefined AUC left out)."""
        v = np.array([self.auc(c) for c in range(self.n_classes)])
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def roc_curve(self, cls: int):
        y, s = self._data()
        return roc_curve(y[:, cls], s[:, cls])

    def stats(self) -> str:
        lines = [f" class {c}: AUC {self.auc(c):.6f}" for c in range(self.n_classes)]
        return "\n".join(lines + [f" average AUC (one-vs-all, macro): {self.average_auc():.6f}"])
