"""Normalizers against numpy: fitted on arrays and on batch iterators alike, revert inverts, save/load."""
from __future__ import annotations

import numpy as np
import pytest

from graphc.data import (BatchIterator, DataError, ImagePreProcessingScaler, NormalizerMinMaxScaler,
                         NormalizerStandardize, load_normalizer)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, [1.0, 5.0, 0.1], size=(200, 3)).astype(np.float32)
    x[:, 2] = 7.0  # a constant feature
    return x


def test_standardize_matches_numpy_and_reverts():
    x = _data()
    n = NormalizerStandardize().fit(x)
    np.testing.assert_allclose(n.mean, x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(n.std, x.std(0), rtol=1e-4, atol=1e-6)
    z = n.transform(x)
    np.testing.assert_allclose(z[:, :2].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :2].std(0), 1, atol=1e-4)
    assert n.std[2] == 0 and np.all(z[:, 2] == 0)  # zero spread: only centred
    np.testing.assert_allclose(n.revert(z), x, rtol=1e-5, atol=1e-5)


def test_fit_on_batches_equals_fit_on_array():
    x = _data()
    a, b = NormalizerStandardize().fit(x), NormalizerStandardize().fit(BatchIterator(x, batch_size=17))
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    np.testing.assert_allclose(a.std, b.std, rtol=1e-9)
    m1, m2 = NormalizerMinMaxScaler(-1, 1).fit(x), NormalizerMinMaxScaler(-1, 1).fit(BatchIterator(x, batch_size=9))
    np.testing.assert_array_equal(m1.data_min, m2.data_min)


def test_min_max_to_a_range():
    x = _data()
    n = NormalizerMinMaxScaler(min_range=-1, max_range=2).fit(x)
    z = n.transform(x)
    np.testing.assert_allclose(z[:, :2].min(0), -1, atol=1e-6)
    np.testing.assert_allclose(z[:, :2].max(0), 2, atol=1e-6)
    np.testing.assert_allclose(n.revert(z), x, rtol=1e-5, atol=1e-5)


def test_image_scaler_per_channel_images():
    img = np.random.default_rng(1).integers(0, 256, (4, 5, 5, 3)).astype(np.uint8)
    s = ImagePreProcessingScaler()
    np.testing.assert_allclose(s.transform(img), img / 255.0, rtol=1e-6)
    np.testing.assert_allclose(s.revert(s.transform(img)), img, atol=1e-4)
    assert ImagePreProcessingScaler(-1, 1).transform(np.array([0, 255])).tolist() == [-1.0, 1.0]
    # statistics per channel over N, H, W
    st = NormalizerStandardize().fit(img)
    np.testing.assert_allclose(st.mean, img.reshape(-1, 3).mean(0), rtol=1e-9)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
@pytest.mark.parametrize("make", [lambda: NormalizerStandardize(), lambda: NormalizerMinMaxScaler(0.2, 0.8),
                                  lambda: ImagePreProcessingScaler(0, 1, max_pixel=16)])
def test_save_and_load(tmp_path, suffix, make):
    x = _data() * 2
    n = make().fit(x)
    path = tmp_path / f"norm{suffix}"
    n.save(path)
    back = load_normalizer(path)
    assert type(back) is type(n) and back.get_config() == n.get_config()
    np.testing.assert_array_equal(back.transform(x), n.transform(x))


def test_errors(tmp_path):
    with pytest.raises(DataError, match="not fitted"):
        NormalizerStandardize().transform(np.zeros((2, 3)))
    n = NormalizerStandardize().fit(np.zeros((4, 3)))
    with pytest.raises(DataError, match="fitted on 3 features, got data of shape \\(2, 5\\)"):
        n.transform(np.zeros((2, 5)))
    with pytest.raises(DataError, match="empty"):
        NormalizerMinMaxScaler().fit(np.zeros((0, 3)))
    with pytest.raises(DataError, match="max_range"):
        NormalizerMinMaxScaler(1, 1)
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="x.npz: not a saved normalizer"):
        load_normalizer(bad)
