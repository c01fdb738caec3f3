"""Data sets that need no download: IRIS and digits from scikit-learn's packaged files, MNIST from IDX
files in a folder; DL4J's iterator names over them."""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from graphc.data.errors import DataError
from graphc.data.idx import read_idx
from graphc.data.iterator import BatchIterator


class Labeled(NamedTuple):
    features: np.ndarray
    labels: np.ndarray
    class_names: list


def one_hot(labels, n_classes: int | None = None) -> np.ndarray:
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    n = int(n_classes or (labels.max() + 1 if labels.size else 0))
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise DataError(f"class labels must lie in [0, {n}); got [{labels.min()}, {labels.max()}]")
    return np.eye(n, dtype=np.float32)[labels]


def _sklearn():
    try:
        import sklearn.datasets as d
    except ImportError:
        raise DataError("load_iris/load_digits read scikit-learn's packaged data: pip install scikit-learn") from None
    return d


def load_iris() -> Labeled:
    """Fisher's IRIS: 150 x 4 float32 features, int64 labels 0..2."""
    b = _sklearn().load_iris()
    return Labeled(b.data.astype(np.float32), b.target.astype(np.int64), list(b.target_names))


def resize_bilinear(images: np.ndarray, size) -> np.ndarray:
    """Resize (N, H, W[, C]) images to `size` (h, w) with bilinear interpolation (half-pixel centres)."""
    h, w = size
    n, H, W = images.shape[:3]

    def axis(out, inp):
        src = np.clip((np.arange(out) + 0.5) * inp / out - 0.5, 0, inp - 1)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, inp - 1)
        return lo, hi, (src - lo).astype(np.float32)

    y0, y1, fy = axis(h, H)
    x0, x1, fx = axis(w, W)
    img = images.astype(np.float32)
    fy = fy.reshape((1, h, 1) + (1,) * (img.ndim - 3))
    fx = fx.reshape((1, 1, w) + (1,) * (img.ndim - 3))
    rows = img[:, y0] * (1 - fy) + img[:, y1] * fy
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


def load_digits(size: int = 8, flatten: bool = False) -> Labeled:
    """scikit-learn's 1,797 handwritten digits, pixel values 0..16, as (N, size, size, 1) float32
    images (bilinear upscaling when `size` > 8, e.g. 28 for MNIST-shaped networks) or flattened."""
    b = _sklearn().load_digits()
    x = b.images.astype(np.float32)
    if size != 8:
        x = resize_bilinear(x, (size, size))
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    return Labeled(x, b.target.astype(np.int64), [str(c) for c in b.target_names])


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    alt = stem.replace("-idx", ".idx")  # the copies some mirrors ship
    for name in (alt, alt + ".gz"):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            return p
    raise DataError(f"{folder}: no {stem} (or .gz) in this folder; put the MNIST IDX files there")


def load_mnist(folder, train: bool = True) -> Labeled:
    """MNIST from the four IDX files in `folder`: (N, 28, 28) uint8 images and int64 labels."""
    prefix = "train" if train else "t10k"
    images = read_idx(ipath := _find(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(lpath := _find(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{ipath}: expected images of rank 3 and labels of rank 1, got {images.shape} and "
                        f"{labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{ipath} holds {len(images)} images but {lpath} holds {len(labels)} labels")
    return Labeled(images, labels.astype(np.int64), [str(i) for i in range(10)])


def IrisDataSetIterator(batch_size: int = 150, num_examples: int = 150, shuffle: bool = False,
                        seed: int | None = None) -> BatchIterator:
    """DL4J's `IrisDataSetIterator`: IRIS features and one-hot labels."""
    d = load_iris()
    return BatchIterator(d.features[:num_examples], one_hot(d.labels[:num_examples], 3), batch_size,
                         shuffle=shuffle, seed=seed)


def MnistDataSetIterator(batch_size: int, train: bool = True, seed: int | None = None, folder=None,
                         num_examples: int | None = None, shuffle: bool = True, binarize: bool = False,
                         flatten: bool = True) -> BatchIterator:
    """DL4J's `MnistDataSetIterator` over the IDX files in `folder`: pixels scaled to [0, 1] (or 0/1
    when `binarize`), flattened to 784 columns unless `flatten=False` ((N, 28, 28, 1)); one-hot labels."""
    if folder is None:
        raise DataError("MnistDataSetIterator reads IDX files from a folder: give folder=... (graphc downloads nothing)")
    d = load_mnist(folder, train)
    x = d.features[:num_examples].astype(np.float32) / 255.0
    if binarize:
        x = (x > 0.5).astype(np.float32)
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    return BatchIterator(x, one_hot(d.labels[:num_examples], 10), batch_size, shuffle=shuffle, seed=seed)
