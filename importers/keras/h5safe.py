"""HDF5 files as untrusted input: audited before any data is read, read only within limits.

`open_h5` opens a file (a path or in-memory bytes) and runs two checks before returning it:

- `check_global_heaps`: libhdf5 (2.0 included) loops forever decoding a global heap collection
  whose object header is zeroed (size 0, so its walk never advances); Keras keeps every string
  attribute (`model_config`, `weight_names`) in such collections. Each collection is walked here,
  in Python, the way libhdf5's `H5HG__cache_heap_deserialize` walks it, and a walk that would not
  advance or overruns its collection is refused. That costs one `find` over the bytes and a few steps per string,
  instead of a watchdog process around every read.
- `audit`: every link under the root is inspected without being followed (`getlink=True`).
  External links, datasets with external storage (`Dataset.external`) and virtual datasets
  would make libhdf5 read other files, so they are refused wherever they point (Keras never
  writes them); a soft link is fine when its target is inside the file. Every dataset's declared
  size and dtype is checked against `graphc.limits` before anything is read.

`read_array` then reads one audited dataset; any h5py error becomes a `ModelFormatError`.
"""
from __future__ import annotations

import io
import mmap
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from graphc import limits
from graphc.errors import GraphcError, ModelFormatError

# Errors h5py raises for damaged or inconsistent files.
H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError, OverflowError)

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# A global heap collection: "GCOL", version 1, 3 reserved bytes, its size (a "length", whose width
# the superblock gives); each object: 2-byte index, 2-byte refcount, 4 reserved bytes, its size.
# libhdf5 pads both headers to a multiple of 8 (H5HG_ALIGN), so the size sits at byte 8 of each.
_SIZE_AT = 8


def open_h5(src, where: str) -> h5py.File:
    """An audited read-only `h5py.File` from a path or bytes; `where` names it in errors."""
    if isinstance(src, (bytes, bytearray)):
        check_global_heaps(src, where)
        target = io.BytesIO(src)
    else:
        try:
            with open(src, "rb") as fh:
                if Path(src).stat().st_size:
                    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                        check_global_heaps(data, where)
        except OSError as e:
            raise ModelFormatError(f"{where}: cannot read ({e.strerror or e})") from None
        target = src
    try:
        f = h5py.File(target, "r")
    except H5_ERRORS as e:
        raise ModelFormatError(f"{where}: not a readable HDF5 file (truncated or not Keras?): {e}") from None
    try:
        audit(f, where)
    except BaseException:
        f.close()
        raise
    return f


def _sizeof_lengths(data) -> int | None:
    """Width in bytes of a "length" field, from the superblock (at 0 or after a user block)."""
    at = 0
    while at + 16 <= len(data):
        if bytes(data[at:at + 8]) == _SIGNATURE:
            return data[at + 14] if data[at + 8] in (0, 1) else data[at + 10]
        at = 512 if at == 0 else at * 2
    return None


def check_global_heaps(data, where: str) -> None:
    """Refuse a global heap collection whose object walk would not terminate inside it."""
    width = _sizeof_lengths(data)
    if width not in (2, 4, 8):
        return  # no superblock found: libhdf5 will refuse the file before reading any heap
    head = (_SIZE_AT + width + 7) // 8 * 8  # the collection's header and each object's, padded
    end, pos = len(data), 0
    while True:
        pos = data.find(b"GCOL", pos)
        if pos < 0:
            return
        start, pos = pos, pos + 4
        if start + head > end or data[start + 4] != 1 or bytes(data[start + 5:start + 8]) != b"\0\0\0":
            continue  # not a collection header (weight bytes that happen to spell GCOL)
        size = int.from_bytes(data[start + _SIZE_AT:start + _SIZE_AT + width], "little")
        if size < head or start + size > end:
            continue  # libhdf5 refuses such a collection itself when it is read
        p, stop = start + head, start + size
        while p < stop:
            if p + head > stop:
                break  # a tail too small for an object is free space
            index = int.from_bytes(data[p:p + 2], "little")
            obj = int.from_bytes(data[p + _SIZE_AT:p + _SIZE_AT + width], "little")
            step = obj if index == 0 else head + (obj + 7) // 8 * 8
            if step <= 0 or p + step > stop:
                raise ModelFormatError(
                    f"{where}: damaged HDF5 global heap at byte {start} (object at byte {p} declares "
                    f"{obj} bytes); libhdf5 cannot read it safely, so the file is refused")
            p += step


def audit(f: h5py.File, where: str) -> None:
    """Walk every link of `f` without following it; refuse links and storage that leave the file,
    and datasets whose declared size or dtype no weight can have."""
    total, seen, objects, soft = 0, set(), 0, []
    stack = [(f, "/")]
    try:
        while stack:
            group, path = stack.pop()
            for name in group:
                objects += 1
                if objects > limits.MAX_H5_OBJECTS:
                    raise ModelFormatError(f"{where}: more than {limits.MAX_H5_OBJECTS:,} HDF5 objects; "
                                           f"not a Keras weights file")
                full = f"{path}{name}"
                link = group.get(name, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    raise ModelFormatError(f"{where}: {full} is an external link to {link.filename!r}:"
                                           f"{link.path}; refusing to read anything outside the model file")
                if isinstance(link, h5py.SoftLink):
                    soft.append((group, name, full, link.path))
                    continue  # its target is reached through its hard link
                obj = group.get(name)
                addr = h5py.h5o.get_info(obj.id).addr
                if addr in seen:
                    continue  # hard links may join groups into cycles
                seen.add(addr)
                if isinstance(obj, h5py.Group):
                    stack.append((obj, full + "/"))
                elif isinstance(obj, h5py.Dataset):
                    total += _check_dataset(obj, where, full)
                    limits.check_bytes(total, where, "the weights file in total")
        # resolved only now: with every external link refused above, no path can leave the file
        for group, name, full, target in soft:
            if group.get(name) is None:
                raise ModelFormatError(f"{where}: {full} is a soft link to {target!r}, which does not exist "
                                       f"in the file")
    except GraphcError:
        raise
    except H5_ERRORS as e:
        raise ModelFormatError(f"{where}: damaged HDF5 structure ({type(e).__name__}: {e})") from None


def _check_dataset(ds: h5py.Dataset, where: str, path: str) -> int:
    if ds.external:
        files = sorted({str(e[0]) for e in ds.external})
        raise ModelFormatError(f"{where}: dataset {path} keeps its data in external file(s) {files}; "
                               f"refusing to read anything outside the model file")
    if ds.is_virtual:
        sources = sorted({m.file_name for m in ds.virtual_sources()})
        raise ModelFormatError(f"{where}: dataset {path} is a virtual dataset over {sources}; "
                               f"refusing to read anything outside the model file")
    shape = ds.shape or ()
    if ds.dtype.kind not in "fiub":
        return 0  # strings and compounds are refused by read_array, should a weight be one
    limits.check_shape(shape, ds.dtype.itemsize, where, f"dataset {path}")
    return int(np.prod(shape, dtype=np.int64)) * ds.dtype.itemsize


def read_array(ds, where: str, what: str) -> np.ndarray:
    """The numeric array stored in audited dataset `ds` (`what` names it in errors)."""
    if not isinstance(ds, h5py.Dataset):
        raise ModelFormatError(f"{where}: {what} is a {type(ds).__name__}, expected a weight dataset; "
                               f"the file is damaged")
    try:
        kind = ds.dtype.kind
        if kind not in "fiub":
            raise ModelFormatError(f"{where}: {what} holds {ds.dtype} values, not numbers; a weight must be "
                                   f"a numeric array")
        limits.check_shape(ds.shape or (), ds.dtype.itemsize, where, what)
        return np.asarray(ds[()])
    except GraphcError:
        raise
    except H5_ERRORS as e:
        raise ModelFormatError(f"{where}: cannot read {what} ({e}); the file is damaged") from None


def read_attr(obj, name: str, where: str, default=None):
    """Attribute `name` of `obj`, or `default`; a damaged attribute is a `ModelFormatError`."""
    try:
        if name not in obj.attrs:
            return default
        return obj.attrs[name]
    except H5_ERRORS as e:
        raise ModelFormatError(f"{where}: cannot read attribute {name!r} of {obj.name} ({e}); "
                               f"the file is damaged") from None


@contextmanager
def reading(where: str):
    """Turn an h5py error escaping from a walk over an audited file into a `ModelFormatError`
    (a weight group renamed or replaced by a dataset, a damaged attribute, ...)."""
    try:
        yield
    except GraphcError:
        raise
    except H5_ERRORS as e:
        raise ModelFormatError(f"{where}: the weights do not have the layout Keras writes, or the file is "
                               f"damaged ({type(e).__name__}: {e})") from None
