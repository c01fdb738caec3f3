"""CSV files with one label column (by name or index), with or without a header row.

Features must be numbers; labels may be numbers (integer class indices or regression targets) or
strings (mapped to the indices of the sorted distinct names). A bad row is reported by its line.
"""
from __future__ import annotations

import csv
import os

import numpy as np

from graphc.data.datasets import Labeled
from graphc.data.errors import DataError


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def read_csv(path, label_column=-1, header: bool | None = None, delimiter: str = ",", skip_rows: int = 0,
             regression: bool = False) -> Labeled:
    """Features (float32) and labels from `path`; `header=None` detects a header row (one whose
    label and feature cells are not all numbers); `regression=True` keeps float labels."""
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [(i + 1, r) for i, r in enumerate(csv.reader(f, delimiter=delimiter))]
    except OSError as e:
        raise DataError(f"{path}: cannot read the CSV file ({e.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: not a readable UTF-8 CSV file ({e})") from None
    rows = [(n, r) for n, r in rows[skip_rows:] if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: no data rows")
    names = None
    if header is None:
        # features are numbers, so a first row with any other text among them is a header
        first = rows[0][1]
        skip = None if isinstance(label_column, str) else _col(label_column, len(first))
        header = isinstance(label_column, str) or any(not _is_number(v) for i, v in enumerate(first) if i != skip)
    if header:
        names = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise DataError(f"{path}: a header and no data rows")
    width = len(names) if names else len(rows[0][1])
    if isinstance(label_column, str):
        if not names or label_column not in names:
            raise DataError(f"{path}: no column named {label_column!r} (header: {names}); give its name or index")
        col = names.index(label_column)
    else:
        col = _col(label_column, width)
        if not 0 <= col < width:
            raise DataError(f"{path}: label column {label_column} is out of range for {width} columns")
    feats, labels = [], []
    for line, r in rows:
        if len(r) != width:
            raise DataError(f"{path}, line {line}: {len(r)} fields, expected {width}; fix or remove the row")
        try:
            feats.append([float(c) for i, c in enumerate(r) if i != col])
        except ValueError:
            bad = next(c for i, c in enumerate(r) if i != col and not _is_number(c))
            raise DataError(f"{path}, line {line}: feature {bad!r} is not a number; fix or remove the row") from None
        labels.append(r[col].strip())
    x = np.asarray(feats, np.float32)
    if all(_is_number(v) for v in labels):
        y = np.asarray([float(v) for v in labels])
        if regression:
            return Labeled(x, y.astype(np.float32), [])
        if not np.all(y == np.round(y)) or y.min() < 0:
            raise DataError(f"{path}: numeric labels must be class indices 0, 1, ... (pass regression=True "
                            f"for real-valued targets)")
        y = y.astype(np.int64)
        return Labeled(x, y, [str(i) for i in range(int(y.max()) + 1)])
    if regression:
        i = [_is_number(v) for v in labels].index(False)
        raise DataError(f"{path}, line {rows[i][0]}: label {labels[i]!r} is not a number but regression=True")
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    return Labeled(x, np.array([index[v] for v in labels], np.int64), classes)


def _col(label_column, width: int) -> int:
    return label_column + width if isinstance(label_column, int) and label_column < 0 else label_column
