"""`RegressionEvaluation` (DL4J's): per-column MSE, MAE, RMSE, RSE (relative squared error), R² and
Pearson correlation, accumulated over batches in float64 (sums shifted by the first batch's means so
a nearly constant column keeps its precision)."""
from __future__ import annotations

import numpy as np

from graphc.errors import ShapeError
from graphc.evaluation._inputs import as_rows


class RegressionEvaluation:
    def __init__(self, n_columns: int | None = None, column_names: list | None = None):
        self.column_names = list(column_names) if column_names is not None else None
        self.n_columns = n_columns or (len(column_names) if column_names else None)
        self._s = None

    def eval(self, labels, predictions, mask=None) -> "RegressionEvaluation":
        y, p = as_rows("RegressionEvaluation", labels, predictions, mask)
        y = y.reshape(len(y), -1).astype(np.float64)
        p = p.reshape(len(p), -1).astype(np.float64)
        if y.shape != p.shape:
            raise ShapeError(f"RegressionEvaluation: labels of shape {np.shape(labels)} do not fit predictions "
                             f"of shape {np.shape(predictions)}")
        if self.n_columns is not None and y.shape[1] != self.n_columns:
            raise ShapeError(f"RegressionEvaluation: {y.shape[1]} columns, expected {self.n_columns}")
        if not len(y):
            return self
        if self._s is None:
            self.n_columns = y.shape[1]
            z = np.zeros(y.shape[1])
            self._s = dict(n=0, sy=z.copy(), syy=z.copy(), sp=z.copy(), spp=z.copy(), syp=z.copy(), se=z.copy(),
                           ae=z.copy(), shift_y=y.mean(0), shift_p=p.mean(0))
        s = self._s
        e = p - y
        dy, dp = y - s["shift_y"], p - s["shift_p"]
        s["n"] += len(y)
        for k, v in (("sy", dy), ("syy", dy * dy), ("sp", dp), ("spp", dp * dp), ("syp", dy * dp), ("se", e * e),
                     ("ae", np.abs(e))):
            s[k] += v.sum(0)
        return self

    def merge(self, other: "RegressionEvaluation") -> "RegressionEvaluation":
        """Add another evaluation's sums (its shift is moved onto this one's)."""
        if other._s is None:
            return self
        if self._s is None:
            self._s = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in other._s.items()}
            self.n_columns = other.n_columns
            return self
        a, b = self._s, other._s
        dy, dp = b["shift_y"] - a["shift_y"], b["shift_p"] - a["shift_p"]  # b's sums moved to a's shifts
        a["syy"] += b["syy"] + 2 * dy * b["sy"] + b["n"] * dy * dy
        a["spp"] += b["spp"] + 2 * dp * b["sp"] + b["n"] * dp * dp
        a["syp"] += b["syp"] + dy * b["sp"] + dp * b["sy"] + b["n"] * dy * dp
        a["sy"] += b["sy"] + b["n"] * dy
        a["sp"] += b["sp"] + b["n"] * dp
        for k in ("se", "ae", "n"):
            a[k] += b[k]
        return self

    def _stats(self):
        if self._s is None or self._s["n"] == 0:
            raise ShapeError("RegressionEvaluation: nothing evaluated yet; call eval(labels, predictions) first")
        return self._s

    def _col(self, values, col):
        return values if col is None else float(values[int(col)])

    def mean_squared_error(self, col=None):
        s = self._stats()
        return self._col(s["se"] / s["n"], col)

    def mean_absolute_error(self, col=None):
        s = self._stats()
        return self._col(s["ae"] / s["n"], col)

    def root_mean_squared_error(self, col=None):
        return self._col(np.sqrt(self.mean_squared_error()), col)

    def _sst(self):
        s = self._stats()
        return s["syy"] - s["sy"] ** 2 / s["n"]

    def relative_squared_error(self, col=None):
        """SSE / Σ(y - ȳ)²; NaN for a constant column."""
        sst = self._sst()
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._col(np.where(sst > 0, self._stats()["se"] / np.where(sst > 0, sst, 1), np.nan), col)

    def r_squared(self, col=None):
        """1 - RSE (the coefficient of determination, as scikit-learn's `r2_score` per column)."""
        return self._col(1.0 - self.relative_squared_error(), col)

    def pearson_correlation(self, col=None):
        s = self._stats()
        n = s["n"]
        cov = s["syp"] - s["sy"] * s["sp"] / n
        vy, vp = s["syy"] - s["sy"] ** 2 / n, s["spp"] - s["sp"] ** 2 / n
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._col(cov / np.sqrt(vy * vp), col)

    def average(self, metric: str) -> float:
        """The mean over columns of a metric named like its method ('mean_squared_error', 'r_squared', ...)."""
        return float(np.mean(getattr(self, metric)()))

    def stats(self) -> str:
        self._stats()
        names = [str(self.column_names[i]) if self.column_names else f"col_{i}" for i in range(self.n_columns)]
        w = max(8, *(len(n) for n in names))
        cols = [("MSE", self.mean_squared_error()), ("MAE", self.mean_absolute_error()),
                ("RMSE", self.root_mean_squared_error()), ("RSE", self.relative_squared_error()),
                ("R^2", self.r_squared()), ("PC", self.pearson_correlation())]
        lines = [f" {'Column':<{w}}" + "".join(f"  {h:<12}" for h, _ in cols)]
        for i, n in enumerate(names):
            lines.append(f" {n:<{w}}" + "".join(f"  {v[i]:<12.5e}" for _, v in cols))
        return "\n".join(lines)

    def __str__(self):
        return self.stats()
