"""Value types of the IR: `TensorType` (numpy dtype + dims) and `OpaqueType` (anything else)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

Dim = Union[int, str, None]  # a size, a symbol ("batch"), or unknown


def _dtype_name(dt) -> str:
    return "?" if dt is None else np.dtype(dt).name


@dataclass(frozen=True)
class TensorType:
    """A tensor: numpy `dtype` (None when unknown) and `shape` (None when the rank is unknown)."""

    dtype: object = None
    shape: tuple | None = None

    def __post_init__(self):
        if self.dtype is not None:
            object.__setattr__(self, "dtype", np.dtype(self.dtype))
        if self.shape is not None:
            dims = tuple(d if d is None or isinstance(d, str) else int(d) for d in self.shape)
            object.__setattr__(self, "shape", dims)

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def numel(self) -> int | None:
        if not self.is_static:
            return None
        return int(np.prod(self.shape, dtype=np.int64))

    def with_shape(self, shape) -> "TensorType":
        return TensorType(self.dtype, shape)

    def with_dtype(self, dtype) -> "TensorType":
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        if self.shape is None:
            return f"{_dtype_name(self.dtype)}[...]"
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{_dtype_name(self.dtype)}[{dims}]"


@dataclass(frozen=True)
class OpaqueType:
    """A non-tensor ONNX type (sequence, optional, map, sparse), kept as a serialized TypeProto."""

    proto: bytes

    def __str__(self) -> str:
        import onnx

        tp = onnx.TypeProto()
        tp.ParseFromString(self.proto)
        return onnx.helper.printable_type(tp) if hasattr(onnx.helper, "printable_type") else tp.WhichOneof("value")


Type = Union[TensorType, OpaqueType]


def dims_compatible(a: Dim, b: Dim) -> bool:
    """Two dims can describe the same tensor (symbols and unknowns match anything)."""
    return not (isinstance(a, int) and isinstance(b, int) and a != b)


def types_compatible(a: Type, b: Type) -> bool:
    if isinstance(a, OpaqueType) or isinstance(b, OpaqueType):
        return True  # non-tensor types are checked by ONNX's own inference, not here
    if a.dtype is not None and b.dtype is not None and a.dtype != b.dtype:
        return False
    if a.shape is None or b.shape is None:
        return True
    return len(a.shape) == len(b.shape) and all(dims_compatible(x, y) for x, y in zip(a.shape, b.shape))


def merge_types(known: Type, inferred: Type) -> Type:
    """The more precise of two compatible types (concrete dims win over symbols)."""
    if not isinstance(known, TensorType) or not isinstance(inferred, TensorType):
        return known
    dtype = known.dtype if known.dtype is not None else inferred.dtype
    if known.shape is None:
        return TensorType(dtype, inferred.shape)
    if inferred.shape is None or len(inferred.shape) != len(known.shape):
        return TensorType(dtype, known.shape)
    dims = tuple(k if isinstance(k, int) or not isinstance(i, int) and (i is None or k is not None) else i
                 for k, i in zip(known.shape, inferred.shape))
    return TensorType(dtype, dims)
