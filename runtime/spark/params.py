"""Parameters as one flat float32 buffer: what the Spark trainer will broadcast and aggregate
(issue 11, item 4: one buffer per transfer, not one object per array).

A `Layout` fixes the order, shapes and offsets of named arrays once; `flatten` writes them into a
buffer (a preallocated one is reused), `unflatten` gives views of a buffer by name, with no copy.
Only float32 arrays fit: anything else is refused rather than silently rounded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from graphc.errors import InputError

F32 = np.dtype(np.float32)


@dataclass(frozen=True)
class Layout:
    """(name, shape, offset) of each array, in order; `size` elements in all."""

    entries: tuple[tuple[str, tuple[int, ...], int], ...]
    size: int

    @classmethod
    def of(cls, arrays: dict) -> "Layout":
        entries, offset = [], 0
        for name, a in arrays.items():
            a = np.asarray(a)
            if a.dtype != F32:
                raise InputError(f"parameter {name!r} is {a.dtype}; the flat buffer holds float32 only "
                                 f"(cast it with .astype(np.float32) where that is meant)")
            entries.append((name, tuple(a.shape), offset))
            offset += a.size
        return cls(tuple(entries), offset)

    @property
    def names(self) -> list[str]:
        return [n for n, _, _ in self.entries]

    @property
    def nbytes(self) -> int:
        return self.size * F32.itemsize

    def flatten(self, arrays: dict, out: np.ndarray | None = None) -> np.ndarray:
        """The arrays, in layout order, in one float32 buffer (`out` when given)."""
        if set(arrays) != set(self.names):
            raise InputError(f"parameters {sorted(arrays)} do not match the layout's {sorted(self.names)}")
        if out is None:
            out = np.empty(self.size, F32)
        elif out.dtype != F32 or out.shape != (self.size,):
            raise InputError(f"buffer has dtype {out.dtype} and shape {list(out.shape)}; the layout needs "
                             f"float32 of shape [{self.size}]")
        for name, shape, offset in self.entries:
            a = np.asarray(arrays[name])
            if a.shape != shape or a.dtype != F32:
                raise InputError(f"parameter {name!r} is {a.dtype} {list(a.shape)}; the layout has float32 "
                                 f"{list(shape)}")
            out[offset:offset + a.size] = a.reshape(-1)
        return out

    def unflatten(self, buffer: np.ndarray) -> dict:
        """{name: view of `buffer`} in the layout's shapes (writes go through to the buffer)."""
        buffer = np.asarray(buffer)
        if buffer.dtype != F32 or buffer.shape != (self.size,):
            raise InputError(f"buffer has dtype {buffer.dtype} and shape {list(buffer.shape)}; the layout needs "
                             f"float32 of shape [{self.size}]")
        return {name: buffer[offset:offset + math.prod(shape)].reshape(shape) for name, shape, offset in self.entries}


def flatten(arrays: dict) -> tuple[np.ndarray, Layout]:
    """(one float32 buffer, its layout) for named float32 arrays."""
    layout = Layout.of(arrays)
    return layout.flatten(arrays), layout


def unflatten(buffer: np.ndarray, layout: Layout) -> dict:
    return layout.unflatten(buffer)
