"""Readers without downloads: IRIS and digits (scikit-learn's packaged files), MNIST IDX files the
tests write (gz too, malformed ones), LFW-style image folders (Pillow), CSV with a label column."""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

from graphc.data import (DataError, MnistDataSetIterator, load_digits, load_image_folder, load_iris, load_mnist,
                         read_csv, read_idx, resize_bilinear, write_idx)

sklearn = pytest.importorskip("sklearn.datasets")


def test_iris_and_digits():
    x, y, names = load_iris()
    assert x.shape == (150, 4) and x.dtype == np.float32 and np.bincount(y).tolist() == [50, 50, 50]
    assert names == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(x, sklearn.load_iris().data.astype(np.float32))
    d = load_digits()
    assert d.features.shape == (1797, 8, 8, 1) and d.labels.max() == 9
    big = load_digits(size=28)
    assert big.features.shape == (1797, 28, 28, 1) and 0 <= big.features.min() and big.features.max() <= 16
    # upscaling keeps the mean intensity of each image about the same
    np.testing.assert_allclose(big.features.mean((1, 2, 3)), d.features.mean((1, 2, 3)), atol=0.3)
    assert load_digits(flatten=True).features.shape == (1797, 64)


def test_bilinear_resize_against_pillow():
    PIL = pytest.importorskip("PIL.Image")
    img = np.random.default_rng(0).random((1, 8, 8)).astype(np.float32)
    want = np.asarray(PIL.fromarray(img[0], mode="F").resize((12, 12), PIL.BILINEAR))
    # Pillow's bilinear filter matches half-pixel interpolation when upscaling
    np.testing.assert_allclose(resize_bilinear(img, (12, 12))[0], want, atol=1e-5)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, gz, dtype):
    arr = (np.random.default_rng(0).random((3, 4, 5)) * 100).astype(dtype)
    p = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(p, arr)
    back = read_idx(p)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)


def test_idx_bytes_are_big_endian(tmp_path):
    p = tmp_path / "labels-idx1-ubyte"
    p.write_bytes(bytes([0, 0, 0x0B, 1]) + struct.pack(">I", 2) + struct.pack(">hh", 258, -3))
    assert read_idx(p).tolist() == [258, -3]


@pytest.mark.parametrize("payload,match", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX element type 0x07"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "header is truncated"),
    (b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + b"\x00" * 5, r"declares shape \[2, 3\] \(6 bytes.*holds 5"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"\x00" * 3, "holds 3 bytes"),
    (b"\x00\x00\x08\x02" + struct.pack(">II", 2**31, 2**31), "truncated or not IDX"),
    (b"\x1f\x8b\x08\x00garbage", "not a readable gzip file"),
    (b"", "not an IDX file"),
])
def test_malformed_idx_names_the_file(tmp_path, payload, match):
    p = tmp_path / "bad-idx3-ubyte"
    p.write_bytes(payload)
    with pytest.raises(DataError, match=match) as e:
        read_idx(p)
    assert str(p) in str(e.value)


def _mnist_folder(tmp_path, n=10, gz=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", labels)
    return images, labels


def test_mnist_iterator_from_a_folder(tmp_path):
    images, labels = _mnist_folder(tmp_path)
    d = load_mnist(tmp_path)
    assert np.array_equal(d.features, images) and np.array_equal(d.labels, labels)
    it = MnistDataSetIterator(4, train=True, folder=tmp_path, shuffle=False)
    b = next(iter(it))
    assert b.features.shape == (4, 784) and b.labels.shape == (4, 10)
    np.testing.assert_allclose(b.features[0], images[0].reshape(-1) / 255.0, rtol=1e-6)
    assert b.labels.argmax(1).tolist() == labels[:4].tolist()
    with pytest.raises(DataError, match="no t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, train=False)
    with pytest.raises(DataError, match="give folder="):
        MnistDataSetIterator(4)


def test_mnist_image_and_label_counts_must_agree(tmp_path):
    _mnist_folder(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="holds 10 images but .* holds 3 labels"):
        load_mnist(tmp_path)


def test_lfw_image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    people = {"Ada_Lovelace": 2, "Alan_Turing": 3, "Grace_Hopper": 1}
    originals = {}
    for person, count in people.items():
        (tmp_path / person).mkdir()
        for i in range(1, count + 1):
            arr = rng.integers(0, 256, (20 + i, 16, 3)).astype(np.uint8)
            name = f"{person}_{i:04d}." + ("png" if i % 2 else "jpg")
            Image.fromarray(arr).save(tmp_path / person / name)
            originals[(person, i)] = arr
    (tmp_path / "README.txt").write_text("not a class folder")
    x, y, classes = load_image_folder(tmp_path, size=(8, 6))
    assert classes == sorted(people) and x.shape == (6, 8, 6, 3) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [2, 3, 1]
    want = np.asarray(Image.fromarray(originals[("Ada_Lovelace", 1)]).resize((6, 8), Image.BILINEAR), np.float32)
    np.testing.assert_array_equal(x[0], want)  # PNG is lossless
    gray = load_image_folder(tmp_path, size=8, grayscale=True, min_images_per_class=2)
    assert gray.features.shape == (5, 8, 8, 1) and gray.class_names == ["Ada_Lovelace", "Alan_Turing"]


def test_image_folder_errors(tmp_path):
    pytest.importorskip("PIL.Image")
    with pytest.raises(DataError, match="no such image folder"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "Someone").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_image_folder(tmp_path)
    bad = tmp_path / "Someone" / "Someone_0001.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="Someone_0001.jpg: not a readable image"):
        load_image_folder(tmp_path)
    bad.unlink()
    outside = tmp_path.parent / f"{tmp_path.name}_outside.png"
    outside.write_bytes(b"x")
    os.symlink(outside, tmp_path / "Someone" / "Someone_0002.png")
    with pytest.raises(DataError, match="leads out of the image folder"):
        load_image_folder(tmp_path)


def test_csv_label_by_name_and_index(tmp_path):
    p = tmp_path / "iris.csv"
    p.write_text("sepal,petal,species\n1.0,2.5,setosa\n3,4,virginica\n\n5,6,setosa\n")
    x, y, classes = read_csv(p, label_column="species")
    assert x.tolist() == [[1.0, 2.5], [3, 4], [5, 6]] and y.tolist() == [0, 1, 0]
    assert classes == ["setosa", "virginica"]
    assert read_csv(p, label_column=-1).labels.tolist() == [0, 1, 0]  # header detected
    q = tmp_path / "plain.csv"
    q.write_text("2;0.5;1.5\n0;1;1\n1;2;2\n")
    x, y, classes = read_csv(q, label_column=0, delimiter=";")
    assert y.tolist() == [2, 0, 1] and x.shape == (3, 2) and classes == ["0", "1", "2"]
    r = read_csv(q, label_column=2, delimiter=";", regression=True)
    assert r.labels.dtype == np.float32 and r.labels.tolist() == [1.5, 1, 2]


@pytest.mark.parametrize("text,kw,match", [
    ("a,b,c\n1,2,0\n1,2\n", {}, r"line 3: 2 fields, expected 3"),
    ("1,2,0\n1,x,1\n", {"header": False}, r"line 2: feature 'x' is not a number"),
    ("a,b\n1,0\n", {"label_column": "c"}, r"no column named 'c'"),
    ("1,2\n", {"label_column": 5}, "out of range"),
    ("1,0.5\n2,1.5\n", {}, "class indices"),
    ("", {}, "no data rows"),
    ("1,2,x\n1,2,y\n", {"regression": True}, r"line 1: label 'x' is not a number"),
])
def test_bad_csv_rows(tmp_path, text, kw, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=match) as e:
        read_csv(p, **kw)
    assert "bad.csv" in str(e.value)
