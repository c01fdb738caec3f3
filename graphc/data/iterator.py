"""`BatchIterator` (DL4J's `DataSetIterator`): mini-batches of features and labels.

Features and labels are arrays or dicts of arrays by input/output name (all with the same number of
samples). Batches keep that structure. Shuffling is seeded per epoch (`seed` and the epoch number
fix the order, however the batches are consumed); the last partial batch is kept unless
`drop_last`; `reset()` starts the next epoch; `prefetch(n)` assembles batches in a background
thread while the caller works on the previous ones.
"""
from __future__ import annotations

import queue
import threading
from typing import NamedTuple

import numpy as np

from graphc.data.errors import DataError


class Batch(NamedTuple):
    features: object  # array or dict of arrays
    labels: object = None
    sample_weight: object = None


def _arrays(name: str, data) -> dict | None:
    if data is None:
        return None
    if isinstance(data, dict):
        if not data:
            raise DataError(f"{name}: the dict of arrays is empty; give at least one array")
        return {str(k): np.asarray(v) for k, v in data.items()}
    return {"": np.asarray(data)}


def _count(parts: dict) -> int:
    sizes = {}
    for group, arrays in parts.items():
        for k, a in (arrays or {}).items():
            if a.ndim == 0:
                raise DataError(f"{group}{'[' + repr(k) + ']' if k else ''} is a scalar; give one row per sample")
            sizes[f"{group}{'[' + repr(k) + ']' if k else ''}"] = a.shape[0]
    if len(set(sizes.values())) > 1:
        raise DataError(f"arrays hold different numbers of samples: {sizes}; give the same number to each")
    return next(iter(sizes.values()))


def _take(arrays: dict | None, idx):
    if arrays is None:
        return None
    out = {k: a[idx] for k, a in arrays.items()}
    return out[""] if list(out) == [""] else out


class BatchIterator:
    """Mini-batches over `features`, `labels` and `sample_weight` (arrays or dicts by name)."""

    def __init__(self, features, labels=None, batch_size: int = 32, shuffle: bool = False, seed: int | None = None,
                 drop_last: bool = False, sample_weight=None):
        if int(batch_size) < 1:
            raise DataError(f"batch_size must be at least 1, got {batch_size}")
        self._parts = {"features": _arrays("features", features), "labels": _arrays("labels", labels),
                       "sample_weight": _arrays("sample_weight", sample_weight)}
        self.n = _count(self._parts)
        if self.n == 0:
            raise DataError("the data set is empty (0 samples); give at least one sample")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        if drop_last and self.n < self.batch_size:
            raise DataError(f"{self.n} samples make no full batch of {self.batch_size} with drop_last=True")
        self.seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self.epoch = 0
        self._order = self._make_order()
        self._pos = 0

    # ---- the order of one epoch ----------------------------------------------------------
    def _make_order(self):
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    @property
    def features(self):
        return _take(self._parts["features"], slice(None))

    @property
    def labels(self):
        return _take(self._parts["labels"], slice(None))

    # ---- DL4J-style cursor ----------------------------------------------------------------
    def has_next(self) -> bool:
        left = self.n - self._pos
        return left >= self.batch_size if self.drop_last else left > 0

    def next(self) -> Batch:
        if not self.has_next():
            raise StopIteration
        idx = self._order[self._pos:self._pos + self.batch_size]
        self._pos += len(idx)
        if not self.shuffle:
            idx = slice(int(idx[0]), int(idx[-1]) + 1)  # views, no copy
        return Batch(_take(self._parts["features"], idx), _take(self._parts["labels"], idx),
                     _take(self._parts["sample_weight"], idx))

    def reset(self) -> None:
        """Start the next epoch (a new shuffled order when shuffling)."""
        self.epoch += 1
        self._order = self._make_order()
        self._pos = 0

    def __iter__(self):
        if self._pos:
            self.reset()
        while self.has_next():
            yield self.next()

    def prefetch(self, buffer: int = 2) -> "Prefetch":
        return Prefetch(self, buffer)


class Prefetch:
    """Iterates a batch source in a background thread, `buffer` batches ahead."""

    _DONE = object()

    def __init__(self, source, buffer: int = 2):
        if int(buffer) < 1:
            raise DataError(f"prefetch buffer must be at least 1, got {buffer}")
        self.source, self.buffer = source, int(buffer)

    def __len__(self):
        return len(self.source)

    def __iter__(self):
        q: queue.Queue = queue.Queue(maxsize=self.buffer)
        stop = threading.Event()

        def put(item) -> bool:
            # wait for room, but give up once the consumer has stopped
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce():
            try:
                for batch in self.source:
                    if not put(batch):
                        return
                item = self._DONE
            except BaseException as e:  # handed to the consumer, raised there
                item = e
            put(item)

        worker = threading.Thread(target=produce, name="graphc-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                item = q.get()
                if item is self._DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()
