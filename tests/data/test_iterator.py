"""BatchIterator: batching, seeded shuffling, last partial batch, reset, prefetch, dicts by name."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphc.data import BatchIterator, DataError, DataSetIterator, IrisDataSetIterator


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), bs=st.integers(1, 12), shuffle=st.booleans(), drop=st.booleans(), seed=st.integers(0, 99))
def test_every_sample_once_per_epoch(n, bs, shuffle, drop, seed):
    if drop and n < bs:
        with pytest.raises(DataError, match="no full batch"):
            BatchIterator(np.arange(n), batch_size=bs, drop_last=drop)
        return
    x = np.arange(n)
    it = BatchIterator(x, x * 10, batch_size=bs, shuffle=shuffle, seed=seed, drop_last=drop)
    batches = list(it)
    assert len(batches) == len(it) == (n // bs if drop else -(-n // bs))
    seen = np.concatenate([b.features for b in batches])
    assert all(len(b.features) == bs for b in batches[:-1])
    assert len(seen) == (n // bs * bs if drop else n) and len(set(seen)) == len(seen)
    assert all(np.array_equal(b.labels, b.features * 10) for b in batches)
    if not shuffle:
        assert np.array_equal(seen, x[:len(seen)])


def test_seeded_shuffle_is_reproducible_and_changes_per_epoch():
    x = np.arange(50)
    a, b = BatchIterator(x, batch_size=7, shuffle=True, seed=3), BatchIterator(x, batch_size=7, shuffle=True, seed=3)
    e0a = np.concatenate([t.features for t in a])
    e0b = np.concatenate([t.features for t in b])
    assert np.array_equal(e0a, e0b) and not np.array_equal(e0a, x)
    e1a = np.concatenate([t.features for t in a])  # a second pass is the next epoch
    assert not np.array_equal(e1a, e0a) and sorted(e1a) == list(x)
    b.reset()
    assert np.array_equal(np.concatenate([t.features for t in b]), e1a)
    assert a.epoch == b.epoch == 1


def test_cursor_api_and_reset():
    it = DataSetIterator(np.arange(5), batch_size=2)
    got = []
    while it.has_next():
        got.append(it.next().features.tolist())
    assert got == [[0, 1], [2, 3], [4]]
    with pytest.raises(StopIteration):
        it.next()
    it.reset()
    assert it.has_next() and it.next().features.tolist() == [0, 1]


def test_dicts_by_name_and_sample_weights():
    rng = np.random.default_rng(0)
    xa, xb, y = rng.random((9, 3)), rng.random((9, 2, 2)), rng.integers(0, 3, 9)
    w = rng.random(9)
    it = BatchIterator({"a": xa, "b": xb}, {"out": y}, batch_size=4, shuffle=True, seed=1, sample_weight=w)
    rows = []
    for batch in it:
        assert set(batch.features) == {"a", "b"} and set(batch.labels) == {"out"}
        assert batch.features["b"].shape[1:] == (2, 2)
        rows += [int(np.flatnonzero((xa == r).all(1))[0]) for r in batch.features["a"]]
        np.testing.assert_array_equal(batch.labels["out"], y[rows[-len(batch.sample_weight):]])
        np.testing.assert_array_equal(batch.sample_weight, w[rows[-len(batch.sample_weight):]])
    assert sorted(rows) == list(range(9))


def test_prefetch_yields_the_same_batches_from_another_thread():
    x = np.arange(100).reshape(50, 2)
    it = BatchIterator(x, batch_size=8, shuffle=True, seed=5)
    plain = [b.features for b in it]
    it2 = BatchIterator(x, batch_size=8, shuffle=True, seed=5)
    threads = set()

    class Spy:
        def __len__(self):
            return len(it2)

        def __iter__(self):
            for b in it2:
                threads.add(threading.current_thread().name)
                yield b

    from graphc.data import Prefetch
    fetched = [b.features for b in Prefetch(Spy(), buffer=3)]
    assert threads == {"graphc-prefetch"}
    assert len(fetched) == len(plain) and all(np.array_equal(p, f) for p, f in zip(plain, fetched))
    assert len(it.prefetch(2)) == len(plain)
    # stopping early stops the worker; a second pass is the next epoch
    for _ in it.prefetch(1):
        break
    assert len(list(it.prefetch(2))) == len(plain)


def test_prefetch_passes_errors_to_the_consumer():
    def bad():
        yield 1
        raise DataError("broken source")

    from graphc.data import Prefetch

    class Source:
        def __iter__(self):
            return bad()

    with pytest.raises(DataError, match="broken source"):
        list(Prefetch(Source()))


@pytest.mark.parametrize("kwargs,match", [
    (dict(features=np.zeros((0, 3))), "empty"),
    (dict(features=np.zeros((4, 3)), labels=np.zeros(5)), "different numbers of samples"),
    (dict(features={"a": np.zeros(3), "b": np.zeros(2)}), "different numbers of samples"),
    (dict(features=np.zeros(3), batch_size=0), "batch_size"),
    (dict(features={}), "empty"),
    (dict(features=np.float32(1.0)), "scalar"),
])
def test_bad_data(kwargs, match):
    with pytest.raises(DataError, match=match):
        BatchIterator(**kwargs)


def test_iris_iterator_is_dl4j_shaped():
    it = IrisDataSetIterator(batch_size=50)
    batches = list(it)
    assert [b.features.shape for b in batches] == [(50, 4)] * 3
    assert batches[0].labels.shape == (50, 3) and np.all(batches[0].labels.sum(1) == 1)
