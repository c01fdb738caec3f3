"""`Evaluation` (DL4J's): a confusion matrix accumulated over batches, and accuracy, per-class and
averaged precision/recall/F1 and a readable `stats()` report from it.

Undefined values follow scikit-learn's `zero_division=0`: a class never predicted has precision 0,
a class never present has recall 0, and F1 is 0 where precision + recall is 0; the macro average
counts them (as scikit-learn does with `labels=range(n_classes)`). DL4J instead leaves such classes
out of the macro average: pass `undefined="exclude"` for that. `stats()` lists every such class.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import ShapeError
from graphc.evaluation._inputs import as_rows, class_indices


class Evaluation:
    """Classification metrics; `eval(labels, predictions)` may be called once per batch."""

    def __init__(self, n_classes: int | None = None, labels: list | None = None, threshold: float = 0.5,
                 undefined: str = "zero"):
        if undefined not in ("zero", "exclude"):
            raise ShapeError(f"Evaluation: undefined={undefined!r}, expected 'zero' (scikit-learn) or "
                             f"'exclude' (DL4J)")
        self.class_names = list(labels) if labels is not None else None
        self.n_classes = n_classes or (len(labels) if labels is not None else None)
        self.threshold, self.undefined = float(threshold), undefined
        self.matrix = None if self.n_classes is None else np.zeros((self.n_classes, self.n_classes), np.int64)

    # ---- accumulation -----------------------------------------------------------------------
    def eval(self, labels, predictions, mask=None) -> "Evaluation":
        y, p = as_rows("Evaluation", labels, predictions, mask)
        ti, nt = class_indices("Evaluation", y, self.n_classes, self.threshold, "labels")
        pi, npred = class_indices("Evaluation", p, self.n_classes or nt, self.threshold, "predictions")
        n = max(int(x) for x in (nt or 0, npred or 0, self.n_classes or 0, ti.max(initial=-1) + 1,
                                 pi.max(initial=-1) + 1))
        self._grow(n)
        np.add.at(self.matrix, (ti, pi), 1)
        return self

    def _grow(self, n: int) -> None:
        if self.matrix is None:
            self.matrix = np.zeros((n, n), np.int64)
        elif n > self.matrix.shape[0]:
            if self.class_names is not None or self.n_classes is not None:
                raise ShapeError(f"Evaluation: class index {n - 1} is out of range for {self.matrix.shape[0]} classes")
            m = np.zeros((n, n), np.int64)
            m[:self.matrix.shape[0], :self.matrix.shape[0]] = self.matrix
            self.matrix = m

    def merge(self, other: "Evaluation") -> "Evaluation":
        """Add another evaluation's counts (e.g. one per Spark partition)."""
        if other.matrix is None:
            return self
        self._grow(other.matrix.shape[0])
        if other.matrix.shape[0] != self.matrix.shape[0]:
            raise ShapeError(f"Evaluation.merge: {other.matrix.shape[0]} classes into {self.matrix.shape[0]}")
        self.matrix += other.matrix
        return self

    def reset(self) -> None:
        if self.matrix is not None:
            self.matrix[...] = 0

    # ---- counts ---------------------------------------------------------------------------------
    def _m(self):
        if self.matrix is None or self.matrix.sum() == 0:
            raise ShapeError("Evaluation: nothing evaluated yet; call eval(labels, predictions) first")
        return self.matrix

    def confusion_matrix(self) -> np.ndarray:
        """Rows: actual class, columns: predicted class."""
        return self._m().copy()

    def true_positives(self):
        return np.diag(self._m()).copy()

    def false_positives(self):
        return self._m().sum(0) - np.diag(self._m())

    def false_negatives(self):
        return self._m().sum(1) - np.diag(self._m())

    @property
    def n_samples(self) -> int:
        return int(self._m().sum())

    def accuracy(self) -> float:
        m = self._m()
        return float(np.trace(m) / m.sum())

    # ---- per class and averaged -----------------------------------------------------------------
    def _per_class(self, num, den):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.maximum(den, 1), 0.0), den > 0

    def _precisions(self):
        return self._per_class(self.true_positives(), self._m().sum(0))

    def _recalls(self):
        return self._per_class(self.true_positives(), self._m().sum(1))

    def _f1s(self):
        (p, dp), (r, dr) = self._precisions(), self._recalls()
        s = p + r
        return np.where(s > 0, 2 * p * r / np.where(s > 0, s, 1), 0.0), dp & dr

    def _pick(self, values, defined, cls, average):
        if cls is not None:
            return float(values[int(cls)])
        if average == "micro":
            return self.accuracy()  # single-label: micro precision = recall = F1 = accuracy
        if average == "weighted":
            support = self._m().sum(1)
            return float((values * support).sum() / support.sum())
        if average != "macro":
            raise ShapeError(f"Evaluation: average={average!r}, expected 'macro', 'micro' or 'weighted'")
        if self.undefined == "exclude":
            return float(values[defined].mean()) if defined.any() else 0.0
        return float(values.mean())

    def precision(self, cls: int | None = None, average: str = "macro") -> float:
        return self._pick(*self._precisions(), cls, average)

    def recall(self, cls: int | None = None, average: str = "macro") -> float:
        return self._pick(*self._recalls(), cls, average)

    def f1(self, cls: int | None = None, average: str = "macro") -> float:
        return self._pick(*self._f1s(), cls, average)

    def _name(self, i: int) -> str:
        return str(self.class_names[i]) if self.class_names and i < len(self.class_names) else str(i)

    # ---- the report --------------------------------------------------------------------------
    def notes(self) -> list[str]:
        m = self._m()
        out = []
        for i in np.flatnonzero(m.sum(0) == 0):
            out.append(f"class {self._name(i)} was never predicted: its precision is undefined, counted as 0"
                       + (" and left out of the macro average" if self.undefined == "exclude" else ""))
        for i in np.flatnonzero(m.sum(1) == 0):
            out.append(f"class {self._name(i)} never occurs in the labels: its recall is undefined, counted as 0"
                       + (" and left out of the macro average" if self.undefined == "exclude" else ""))
        return out

    def stats(self) -> str:
        m = self._m()
        (p, _), (r, _), (f, _) = self._precisions(), self._recalls(), self._f1s()
        names = [self._name(i) for i in range(m.shape[0])]
        w = max(8, *(len(n) for n in names))
        lines = ["========================Evaluation Metrics========================",
                 f" # of classes:    {m.shape[0]}",
                 f" # of samples:    {int(m.sum())}",
                 f" Accuracy:        {self.accuracy():.4f}",
                 f" Precision:       {self.precision():.4f}   (macro)",
                 f" Recall:          {self.recall():.4f}   (macro)",
                 f" F1 Score:        {self.f1():.4f}   (macro)",
                 "",
                 f" {'class':<{w}}  precision  recall     f1         support"]
        for i, n in enumerate(names):
            lines.append(f" {n:<{w}}  {p[i]:<9.4f}  {r[i]:<9.4f}  {f[i]:<9.4f}  {int(m[i].sum())}")
        lines += ["", "=========================Confusion Matrix=========================",
                  " rows: actual class, columns: predicted class"]
        cw = max(len(str(int(m.max()))), *(len(n) for n in names)) + 1
        lines.append(" " * (w + 2) + "".join(f"{n:>{cw}}" for n in names))
        for i, n in enumerate(names):
            lines.append(f" {n:<{w}} " + "".join(f"{int(v):>{cw}}" for v in m[i]))
        notes = self.notes()
        if notes:
            lines += ["", " Notes:"] + [f"  - {t}" for t in notes]
        lines.append("==================================================================")
        return "\n".join(lines)

    def __str__(self):
        return self.stats()
