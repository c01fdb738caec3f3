"""Open Inference Protocol tensor datatypes and the numpy dtypes they stand for.

The protocol's names (`FP32`, `INT64`, `BYTES`, ...) are also Triton's; its model configuration
spells them `TYPE_FP32`, ..., and `BYTES` as `TYPE_STRING`. Types without an OIP name (bfloat16
as numpy sees it, float8, 4-bit integers) cannot be served and are refused by name.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError

_BY_NAME = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(np.object_),
}
_BY_DTYPE = {v: k for k, v in _BY_NAME.items()}


class UnservableTypeError(GraphcError):
    """A model input or output whose element type the Open Inference Protocol cannot carry."""


def numpy_dtype(datatype: str):
    """The numpy dtype of an OIP datatype name, or None for a name the protocol does not have."""
    return _BY_NAME.get(datatype) if isinstance(datatype, str) else None


def oip_datatype(dtype, what: str) -> str:
    """The OIP name of numpy `dtype`; `what` names the tensor for the error."""
    name = _BY_DTYPE.get(np.dtype(dtype)) if dtype is not None else None
    if name is None:
        raise UnservableTypeError(f"{what} has element type {dtype}, which the Open Inference Protocol cannot "
                                  f"carry; cast it in the model (e.g. to float32) before serving it")
    return name


def triton_datatype(dtype, what: str) -> str:
    """The `data_type` of Triton's model configuration for numpy `dtype`."""
    name = oip_datatype(dtype, what)
    return "TYPE_STRING" if name == "BYTES" else f"TYPE_{name}"
