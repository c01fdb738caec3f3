"""DL4J's `DataSet`: features and labels of one mini-batch, with optional masks, and the ways a
network's `fit` takes data (`datasets`)."""
from __future__ import annotations

import numpy as np

from graphc.errors import InputError


class DataSet:
    """Features, labels and, for sequences, per-step masks ([batch, time]: 1 where a step counts)."""

    def __init__(self, features, labels=None, features_mask=None, labels_mask=None):
        self.features = np.asarray(features, np.float32) if not _is_int(features) else np.asarray(features)
        self.labels = None if labels is None else np.asarray(labels, np.float32)
        self.features_mask = None if features_mask is None else np.asarray(features_mask, np.float32)
        self.labels_mask = None if labels_mask is None else np.asarray(labels_mask, np.float32)
        n = len(self.features)
        for what, a in (("labels", self.labels), ("features_mask", self.features_mask),
                        ("labels_mask", self.labels_mask)):
            if a is not None and len(a) != n:
                raise InputError(f"DataSet: {n} feature rows but {len(a)} rows of {what}; give one per sample")

    def num_examples(self) -> int:
        return len(self.features)

    def __len__(self):
        return self.num_examples()

    def _take(self, idx) -> "DataSet":
        pick = (lambda a: None if a is None else a[idx])
        return DataSet(self.features[idx], pick(self.labels), pick(self.features_mask), pick(self.labels_mask))

    def shuffle(self, seed=None) -> "DataSet":
        return self._take(np.random.default_rng(seed).permutation(len(self)))

    def split_test_and_train(self, n_train) -> tuple["DataSet", "DataSet"]:
        """(train, test): the first `n_train` samples (or that fraction) train."""
        cut = int(round(n_train * len(self))) if isinstance(n_train, float) and n_train < 1 else int(n_train)
        return self._take(slice(0, cut)), self._take(slice(cut, None))

    def batch_by(self, size: int) -> list["DataSet"]:
        return [self._take(slice(i, i + size)) for i in range(0, len(self), int(size))]

    def __repr__(self):
        return (f"<DataSet features={list(self.features.shape)} "
                f"labels={None if self.labels is None else list(self.labels.shape)}>")


def _is_int(a) -> bool:
    return np.issubdtype(np.asarray(a).dtype, np.integer)


def as_dataset(item) -> DataSet:
    """A DataSet from a DataSet, a graphc.data Batch, or an (x, y) pair."""
    if isinstance(item, DataSet):
        return item
    if hasattr(item, "features"):
        return DataSet(item.features, getattr(item, "labels", None))
    if isinstance(item, (tuple, list)) and len(item) in (2, 3, 4):
        return DataSet(*item)
    raise InputError(f"cannot read a mini-batch from {type(item).__name__}; give a graphc.dl4j.DataSet, a "
                     f"graphc.data batch or (features, labels)")


def is_one_batch(data, labels=None) -> bool:
    """One mini-batch (arrays, a DataSet, a MultiDataSet, a graphc.data Batch) rather than an iterator
    of them: a graphc.data BatchIterator has `features` too, but it iterates; a Batch is a tuple."""
    return labels is not None or isinstance(data, np.ndarray) or \
        (hasattr(data, "features") and (isinstance(data, tuple) or not hasattr(data, "__iter__")))


def datasets(data, labels=None, of=None):
    """The mini-batches of what `fit`/`evaluate` were given: a DataSet, arrays (one batch), or an
    iterator/iterable of DataSets or batches (reset first when it can be); `of` reads one batch
    (`as_dataset`; a ComputationGraph's `MultiDataSet.of`)."""
    as_dataset_ = of or as_dataset
    if labels is not None or isinstance(data, np.ndarray):
        yield as_dataset_((data, labels))
        return
    if is_one_batch(data):
        yield as_dataset_(data)
        return
    if hasattr(data, "reset"):
        data.reset()
    try:
        it = iter(data)
    except TypeError:
        raise InputError(f"cannot train on {type(data).__name__}; give a DataSet, (features, labels) arrays or "
                         f"an iterator of DataSets") from None
    for item in it:
        yield as_dataset_(item)
