"""Size limits for untrusted model files, checked before anything is allocated.

A model file declares sizes (an HDF5 dataset's shape, a zip member's length, a layer's `units`,
an ONNX tensor's dims); every reader compares the declared size with these limits first, so a
hostile file fails with an error that names the limit instead of exhausting memory. The defaults
fit real models (a few GiB of weights); `GRAPHC_MAX_WEIGHT_BYTES` raises or lowers the main one.
"""
from __future__ import annotations

import os

from graphc.errors import ModelFormatError

_DEFAULT_WEIGHT_BYTES = 8 << 30

# A Keras config nests a few levels per layer (layer -> config -> initializer -> config);
# real models stay far below this, and Python's own recursion limit is 1,000.
MAX_JSON_DEPTH = 100
MAX_CONFIG_BYTES = 256 << 20
MAX_ARCHIVE_MEMBERS = 10_000
# Deflate reaches ~1,000:1 on constant data; real Keras archives are stored (1:1) or ~1.1:1.
MAX_COMPRESSION_RATIO = 200
MAX_H5_OBJECTS = 1_000_000


def max_weight_bytes() -> int:
    """Total bytes of weights one model file may declare (env `GRAPHC_MAX_WEIGHT_BYTES`)."""
    raw = os.environ.get("GRAPHC_MAX_WEIGHT_BYTES")
    if not raw:
        return _DEFAULT_WEIGHT_BYTES
    try:
        return int(raw)
    except ValueError:
        raise ModelFormatError(f"GRAPHC_MAX_WEIGHT_BYTES={raw!r} is not a whole number of bytes") from None


def check_bytes(nbytes: int, where: str, what: str) -> None:
    """Refuse `what` in `where` when it declares more than `max_weight_bytes()`."""
    limit = max_weight_bytes()
    if nbytes > limit:
        raise ModelFormatError(f"{where}: {what} declares {nbytes:,} bytes, over the limit of {limit:,} "
                               f"(GRAPHC_MAX_WEIGHT_BYTES); raise that limit if the model is really this large")


def check_shape(shape, itemsize: int, where: str, what: str) -> tuple[int, ...]:
    """`shape` as a tuple of ints after checking each dim is a non-negative int and the whole fits."""
    dims = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int) and not hasattr(d, "__index__"):
            raise ModelFormatError(f"{where}: {what} has a dimension {d!r} that is not an integer")
        d = int(d.__index__())
        if d < 0:
            raise ModelFormatError(f"{where}: {what} has a negative dimension {d}")
        dims.append(d)
    n = itemsize
    for d in dims:
        n *= d
    check_bytes(n, where, what)
    return tuple(dims)


def json_depth(obj) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        x, depth = stack.pop()
        if isinstance(x, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((v, depth + 1) for v in (x.values() if isinstance(x, dict) else x))
    return deepest
