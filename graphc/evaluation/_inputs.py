"""Shared input handling: labels/predictions as arrays (one-hot, indices or probabilities), time
series flattened under a mask, and the error that names the evaluation and both shapes."""
from __future__ import annotations

import numpy as np

from graphc.errors import ShapeError


def as_rows(what: str, labels, predictions, mask=None):
    """Labels and predictions as 2-D (or 1-D) arrays of rows, time steps flattened, masked rows dropped."""
    y, p = np.asarray(labels), np.asarray(predictions)
    if y.shape[:1] != p.shape[:1] or y.ndim == 0:
        raise ShapeError(f"{what}: labels of shape {y.shape} do not fit predictions of shape {p.shape}; "
                         f"give one label row per prediction row")
    if p.ndim == 3 or (y.ndim == 3):  # (batch, time, classes) time series
        if y.shape[:2] != p.shape[:2]:
            raise ShapeError(f"{what}: time-series labels {y.shape} do not fit predictions {p.shape}")
        keep = None if mask is None else np.asarray(mask).reshape(-1).astype(bool)
        y = y.reshape((-1,) + y.shape[2:])
        p = p.reshape((-1,) + p.shape[2:])
        if keep is not None:
            if keep.shape[0] != y.shape[0]:
                raise ShapeError(f"{what}: mask of {keep.shape[0]} steps for {y.shape[0]} time steps")
            y, p = y[keep], p[keep]
    elif mask is not None:
        keep = np.asarray(mask).reshape(-1).astype(bool)
        if keep.shape[0] != y.shape[0]:
            raise ShapeError(f"{what}: mask of {keep.shape[0]} rows for {y.shape[0]} rows")
        y, p = y[keep], p[keep]
    return y, p


def class_indices(what: str, arr, n_classes: int | None, threshold: float = 0.5, role: str = "labels"):
    """Class indices from one-hot/probability rows, a single sigmoid column, or index vectors."""
    a = np.asarray(arr)
    if a.ndim == 2 and a.shape[1] > 1:
        if n_classes is not None and a.shape[1] != n_classes:
            raise ShapeError(f"{what}: {role} have {a.shape[1]} columns, expected {n_classes} classes")
        return a.argmax(1), a.shape[1]
    a = a.reshape(-1) if a.ndim == 2 else a
    if a.ndim != 1:
        raise ShapeError(f"{what}: {role} of shape {np.shape(arr)} are neither class indices nor rows of scores")
    if np.issubdtype(a.dtype, np.floating) and np.any((a != np.round(a)) | (a < 0)):
        return (a >= threshold).astype(np.int64), 2  # one sigmoid output: positive above the threshold
    idx = a.astype(np.int64)
    if idx.size and idx.min() < 0:
        raise ShapeError(f"{what}: {role} hold a negative class index {idx.min()}")
    return idx, None
