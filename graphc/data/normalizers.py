"""Normalizers fitted on data (DL4J's `DataNormalization`): standardize, min-max to a range, image
pixel scaling. `fit` takes an array or a batch iterator (statistics accumulated batch by batch, in
float64), `transform` and `revert` map features there and back; the state is plain arrays plus a
config, saved to `.npz` or JSON (`save`/`load`) so it travels with a model.

Statistics are per feature: over every axis but the last (columns of a table, channels of NHWC images).
"""
from __future__ import annotations

import json
import os

import numpy as np

from graphc.data.errors import DataError


def _batches(data):
    if isinstance(data, np.ndarray) or not hasattr(data, "__iter__") or isinstance(data, (list, tuple)):
        yield np.asarray(data)
        return
    for b in data:
        yield np.asarray(b.features if hasattr(b, "features") else (b[0] if isinstance(b, tuple) else b))


class Normalizer:
    """Base: subclasses name their fitted arrays in `_arrays` and implement `_fit`/`transform`/`revert`."""

    _arrays: tuple[str, ...] = ()

    def get_config(self) -> dict:
        return {}

    def state(self) -> dict:
        """The fitted arrays by name."""
        return {k: getattr(self, k) for k in self._arrays if getattr(self, k, None) is not None}

    @property
    def fitted(self) -> bool:
        return all(getattr(self, k, None) is not None for k in self._arrays)

    def _need_fit(self, x):
        if not self.fitted:
            raise DataError(f"{type(self).__name__} is not fitted: call fit(data) before transform/revert")
        x = np.asarray(x)
        n = getattr(self, self._arrays[0]).shape[0]
        if x.ndim == 0 or x.shape[-1] != n:
            raise DataError(f"{type(self).__name__} was fitted on {n} features, got data of shape {x.shape}")
        return x

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    # ---- serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"class_name": type(self).__name__, "config": self.get_config(),
                "arrays": {k: v.tolist() for k, v in self.state().items()}}

    @classmethod
    def from_config(cls, config: dict, arrays: dict | None = None):
        obj = cls(**config)
        for k, v in (arrays or {}).items():
            if k not in cls._arrays:
                raise DataError(f"{cls.__name__}: unknown array {k!r} in saved state")
            setattr(obj, k, np.asarray(v, np.float64))
        return obj

    def save(self, path) -> None:
        path = os.fspath(path)
        if path.endswith(".json"):
            with open(path, "w") as f:
                json.dump(self.to_dict(), f)
        else:
            header = json.dumps({"class_name": type(self).__name__, "config": self.get_config()})
            np.savez(path, __normalizer__=np.array(header), **self.state())

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()} fitted={self.fitted}>"


class NormalizerStandardize(Normalizer):
    """(x - mean) / std per feature; a feature with zero spread is only centred."""

    _arrays = ("mean", "std")

    def __init__(self):
        self.mean = self.std = None

    def fit(self, data):
        # sums of (x - shift) with the first batch's mean as shift: a constant feature gets std 0 exactly
        n, s, ss, shift = 0, None, None, None
        for x in _batches(data):
            x = x.reshape(-1, x.shape[-1]).astype(np.float64)
            if s is not None and x.shape[1] != s.shape[0]:
                raise DataError(f"NormalizerStandardize.fit: batches with {s.shape[0]} and {x.shape[1]} features")
            if not x.shape[0]:
                continue
            if shift is None:
                shift, s, ss = x.mean(0), np.zeros(x.shape[1]), np.zeros(x.shape[1])
            d = x - shift
            s, ss, n = s + d.sum(0), ss + (d * d).sum(0), n + x.shape[0]
        if not n:
            raise DataError("NormalizerStandardize.fit: the data set is empty")
        self.mean = shift + s / n
        self.std = np.sqrt(np.maximum(ss / n - (s / n) ** 2, 0.0))
        return self

    def _scale(self):
        return np.where(self.std > 0, self.std, 1.0)

    def transform(self, x):
        x = self._need_fit(x)
        return ((x - self.mean) / self._scale()).astype(np.float32)

    def revert(self, x):
        x = self._need_fit(x)
        return (x * self._scale() + self.mean).astype(np.float32)


class NormalizerMinMaxScaler(Normalizer):
    """Each feature mapped from its fitted [min, max] onto [min_range, max_range]."""

    _arrays = ("data_min", "data_max")

    def __init__(self, min_range: float = 0.0, max_range: float = 1.0):
        if not max_range > min_range:
            raise DataError(f"NormalizerMinMaxScaler: max_range {max_range} must exceed min_range {min_range}")
        self.min_range, self.max_range = float(min_range), float(max_range)
        self.data_min = self.data_max = None

    def get_config(self):
        return {"min_range": self.min_range, "max_range": self.max_range}

    def fit(self, data):
        lo = hi = None
        for x in _batches(data):
            x = x.reshape(-1, x.shape[-1]).astype(np.float64)
            if not x.size:
                continue
            lo = x.min(0) if lo is None else np.minimum(lo, x.min(0))
            hi = x.max(0) if hi is None else np.maximum(hi, x.max(0))
        if lo is None:
            raise DataError("NormalizerMinMaxScaler.fit: the data set is empty")
        self.data_min, self.data_max = lo, hi
        return self

    def _span(self):
        span = self.data_max - self.data_min
        return np.where(span > 0, span, 1.0)

    def transform(self, x):
        x = self._need_fit(x)
        unit = (x - self.data_min) / self._span()
        return (unit * (self.max_range - self.min_range) + self.min_range).astype(np.float32)

    def revert(self, x):
        x = self._need_fit(x)
        unit = (x - self.min_range) / (self.max_range - self.min_range)
        return (unit * self._span() + self.data_min).astype(np.float32)


class ImagePreProcessingScaler(Normalizer):
    """Pixels 0..max_pixel (255 for 8 bits) onto [min_range, max_range]; nothing to fit."""

    def __init__(self, min_range: float = 0.0, max_range: float = 1.0, max_bits: int = 8, max_pixel=None):
        self.min_range, self.max_range = float(min_range), float(max_range)
        self.max_bits = int(max_bits)
        self.max_pixel = float(max_pixel) if max_pixel is not None else float(2 ** self.max_bits - 1)

    def get_config(self):
        return {"min_range": self.min_range, "max_range": self.max_range, "max_bits": self.max_bits,
                "max_pixel": self.max_pixel}

    def fit(self, data):
        return self

    def _need_fit(self, x):
        return np.asarray(x)

    def transform(self, x):
        x = self._need_fit(x).astype(np.float64)
        return (x / self.max_pixel * (self.max_range - self.min_range) + self.min_range).astype(np.float32)

    def revert(self, x):
        x = self._need_fit(x).astype(np.float64)
        return ((x - self.min_range) / (self.max_range - self.min_range) * self.max_pixel).astype(np.float32)


CLASSES = {c.__name__: c for c in (NormalizerStandardize, NormalizerMinMaxScaler, ImagePreProcessingScaler)}
CLASSES.update(standardize=NormalizerStandardize, min_max=NormalizerMinMaxScaler, image=ImagePreProcessingScaler)


def from_dict(d: dict) -> Normalizer:
    cls = CLASSES.get(d.get("class_name"))
    if cls is None:
        raise DataError(f"unknown normalizer {d.get('class_name')!r}; known: {sorted(CLASSES)}")
    return cls.from_config(d.get("config") or {}, d.get("arrays"))


def load(path) -> Normalizer:
    """A normalizer saved by `Normalizer.save` (.npz or .json)."""
    path = os.fspath(path)
    try:
        if path.endswith(".json"):
            with open(path) as f:
                return from_dict(json.load(f))
        with np.load(path, allow_pickle=False) as z:
            head = json.loads(str(z["__normalizer__"]))
            return from_dict({**head, "arrays": {k: z[k] for k in z.files if k != "__normalizer__"}})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a saved normalizer ({e})") from None
