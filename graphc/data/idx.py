"""MNIST's IDX files (`train-images-idx3-ubyte`, `...-labels-idx1-ubyte`, gzipped or not).

Format: two zero bytes, a type code, the number of dimensions, then each dimension as a big-endian
uint32, then the data in big-endian order. The header is checked against the file's length before
anything is allocated.
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np

from graphc.data.errors import DataError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 4 << 30  # a header claiming more than this is refused before reading on


def _raw(path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as f:
                return f.read(MAX_BYTES + 1)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: not a readable gzip file ({e}); give an IDX file or its .gz") from None
    with open(path, "rb") as f:
        return f.read(MAX_BYTES + 1)


def read_idx(path) -> np.ndarray:
    """The array an IDX file holds, in native byte order (uint8 images stay uint8)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such IDX file")
    data = _raw(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (the first two bytes must be zero); give an MNIST "
                        f"images or labels file")
    code, ndim = data[2], data[3]
    if code not in _TYPES:
        raise DataError(f"{path}: unknown IDX element type 0x{code:02x}; expected one of "
                        f"{[hex(c) for c in _TYPES]}")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: IDX header is truncated ({ndim} dimensions declared, {len(data)} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = np.dtype(_TYPES[code])
    want = int(np.prod(dims, dtype=object)) * dtype.itemsize
    have = len(data) - 4 - 4 * ndim
    if want != have:
        raise DataError(f"{path}: IDX header declares shape {list(dims)} ({want} bytes of data) but the "
                        f"file holds {have} bytes; the file is truncated or not IDX")
    arr = np.frombuffer(data, dtype, offset=4 + 4 * ndim).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write `array` as an IDX file (gzipped when `path` ends in .gz)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"{path}: IDX cannot hold dtype {array.dtype}")
    payload = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.astype(np.dtype(_TYPES[code])).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)
