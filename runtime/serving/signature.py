"""What a served model takes and gives, in the protocol's terms: names, OIP datatypes, shapes.

A dimension the model leaves open is -1 (OIP and Triton both say so). A model is *batchable*
when every input and output has the same open first dimension: requests can then be stacked
along it and the results split back. Anything else is served one request at a time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphc.runtime.serving.datatypes import UnservableTypeError, oip_datatype
from graphc.types import TensorType


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: np.dtype
    datatype: str          # the OIP name of dtype
    shape: tuple           # ints; -1 for an open dimension
    dims: tuple            # the model's own dims: ints or symbols

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class Signature:
    inputs: tuple
    outputs: tuple
    batchable: bool

    def input(self, name: str):
        return next((s for s in self.inputs if s.name == name), None)


def _spec(name: str, t, what: str) -> TensorSpec:
    if not isinstance(t, TensorType) or t.shape is None or t.dtype is None:
        raise UnservableTypeError(f"{what} {name!r} has type {t}; only tensors of known rank and element "
                                  f"type can be served")
    return TensorSpec(name, np.dtype(t.dtype), oip_datatype(t.dtype, f"{what} {name!r}"),
                      tuple(d if isinstance(d, int) else -1 for d in t.shape), tuple(t.shape))


def signature_of(model) -> Signature:
    """The signature of a graphc model (anything with `input_types()` and `output_types()`)."""
    inputs = tuple(_spec(n, t, "input") for n, t in model.input_types().items())
    outputs = tuple(_spec(n, t, "output") for n, t in model.output_types().items())
    firsts = {s.dims[0] if s.dims else 0 for s in inputs + outputs}
    # one shared symbol (not an int, not None) leading every tensor
    batchable = bool(inputs) and len(firsts) == 1 and isinstance(next(iter(firsts)), str)
    return Signature(inputs, outputs, batchable)
