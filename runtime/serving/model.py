"""A compiled graphc model as a `kserve.Model`: metadata, request checks, dynamic batching.

kserve's dataplane hands `predict` an `InferRequest` (from REST or gRPC alike); every way a
request can be wrong is an `InvalidInput` naming the model, the tensor and what was expected,
which kserve answers with 400 (REST) or INVALID_ARGUMENT (gRPC). A failure inside ONNX Runtime
is the server's own fault (500 / INTERNAL). Request data are only ever read as numbers.
"""
from __future__ import annotations

import math
import uuid

import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model
from kserve.errors import InferenceError, InvalidInput
from kserve.protocol.infer_type import deserialize_bytes_tensor

from graphc.errors import GraphcError
from graphc.runtime.serving.batcher import DynamicBatcher
from graphc.runtime.serving.datatypes import numpy_dtype
from graphc.runtime.serving.signature import Signature


def _describe(spec) -> str:
    return f"{spec.name} ({spec.datatype} {list(spec.shape)})"


class GraphcModel(Model):
    def __init__(self, name: str, executable, signature: Signature, *, max_batch_size: int = 1,
                 max_queue_delay_ms: float = 0.0, instances: int = 1, on_batch=None):
        super().__init__(name)
        self.executable = executable
        self.signature = signature
        self.batcher = DynamicBatcher(self._run, name=name, batchable=signature.batchable,
                                      max_batch_size=max_batch_size, max_queue_delay_ms=max_queue_delay_ms,
                                      instances=instances, on_batch=on_batch)
        self.ready = True

    # ---- metadata (kserve lists no inputs or outputs unless the model gives them) -------------
    def get_input_types(self) -> list:
        return [s.metadata() for s in self.signature.inputs]

    def get_output_types(self) -> list:
        return [s.metadata() for s in self.signature.outputs]

    # ---- inference ----------------------------------------------------------------------
    def _run(self, feed: dict) -> dict:
        try:
            return self.executable.run(feed)
        except GraphcError as e:
            raise InferenceError(f"model {self.name!r}: {e}") from None

    async def predict(self, payload: InferRequest, headers=None) -> InferResponse:
        if not isinstance(payload, InferRequest):
            raise InvalidInput(f"model {self.name!r} takes Open Inference Protocol v2 requests "
                               f"(POST /v2/models/{self.name}/infer)")
        feed = self.decode(payload)
        wanted = [o.name for o in payload.request_outputs or []]
        known = [s.name for s in self.signature.outputs]
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise InvalidInput(f"model {self.name!r} has no output(s) {unknown}; its outputs are "
                               f"{', '.join(_describe(s) for s in self.signature.outputs)}")
        outs = await self.batcher.submit(feed)
        infer_outputs = []
        for spec in self.signature.outputs:
            arr = np.ascontiguousarray(outs[spec.name])
            out = InferOutput(name=spec.name, shape=list(arr.shape), datatype=spec.datatype)
            out.set_data_from_numpy(arr, binary_data=payload.use_binary_outputs)
            infer_outputs.append(out)
        return InferResponse(response_id=payload.id or str(uuid.uuid4()), model_name=self.name,
                             infer_outputs=infer_outputs, use_binary_outputs=payload.use_binary_outputs,
                             requested_outputs=payload.request_outputs)

    def decode(self, request: InferRequest) -> dict:
        """The request's tensors as arrays, checked against the signature (InvalidInput if not)."""
        feed, sizes = {}, {}
        for inp in request.inputs:
            spec = self.signature.input(inp.name)
            if spec is None:
                raise InvalidInput(f"model {self.name!r} has no input {inp.name!r}; its inputs are "
                                   f"{', '.join(_describe(s) for s in self.signature.inputs)}")
            if inp.name in feed:
                raise InvalidInput(f"input {inp.name!r} is given twice")
            feed[inp.name] = self._array(spec, inp, sizes)
        missing = [_describe(s) for s in self.signature.inputs if s.name not in feed]
        if missing:
            raise InvalidInput(f"model {self.name!r} is missing input(s): {', '.join(missing)}")
        return feed

    def _array(self, spec, inp, sizes: dict) -> np.ndarray:
        where = f"input {spec.name!r} of model {self.name!r}"
        if inp.datatype != spec.datatype:
            known = "" if numpy_dtype(inp.datatype) is not None else " (not an Open Inference Protocol datatype)"
            raise InvalidInput(f"{where} has datatype {inp.datatype!r}{known}, expected {spec.datatype}")
        shape = inp.shape
        if not isinstance(shape, (list, tuple)) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise InvalidInput(f"{where}: shape {shape!r} must be a list of non-negative integers")
        shape = [int(d) for d in shape]
        if len(shape) != len(spec.shape):
            raise InvalidInput(f"{where} has shape {shape} (rank {len(shape)}), expected rank "
                               f"{len(spec.shape)}: {list(spec.shape)}")
        for axis, (want, dim, have) in enumerate(zip(spec.shape, spec.dims, shape)):
            if want >= 0 and want != have:
                raise InvalidInput(f"{where} has shape {shape}, expected {list(spec.shape)} "
                                   f"(dimension {axis} must be {want})")
            if isinstance(dim, str):
                seen = sizes.setdefault(dim, (have, spec.name))
                if seen[0] != have:
                    raise InvalidInput(f"{where} has {dim}={have} in dimension {axis}, but input {seen[1]!r} "
                                       f"has {dim}={seen[0]}; they must agree")
        count = math.prod(shape)  # exact: np.prod would wrap around on a huge shape
        raw = inp._raw_data
        if raw is not None:
            if spec.datatype == "BYTES":
                try:
                    arr = deserialize_bytes_tensor(raw)
                except Exception:  # a length prefix past the end: the client's framing, not ours
                    raise InvalidInput(f"{where}: binary BYTES data are not length-prefixed strings") from None
            else:
                if len(raw) != count * spec.dtype.itemsize:
                    raise InvalidInput(f"{where}: {len(raw)} bytes of binary data, but shape {shape} of "
                                       f"{spec.datatype} takes {count * spec.dtype.itemsize}")
                arr = np.frombuffer(raw, dtype=spec.dtype)
        else:
            arr = self._from_json(where, spec, inp.data)
        if arr.size != count:
            raise InvalidInput(f"{where}: {arr.size} elements of data, but shape {shape} holds {count}")
        return arr.reshape(shape)

    @staticmethod
    def _from_json(where: str, spec, data) -> np.ndarray:
        if not isinstance(data, (list, tuple)):
            raise InvalidInput(f"{where}: 'data' must be a list of {spec.datatype} values")
        try:
            arr = np.asarray(data)
        except ValueError:
            raise InvalidInput(f"{where}: 'data' is a ragged nested list; give it flat or as a full "
                               f"nested list of the input's shape") from None
        # JSON numbers must be of the input's kind: no floats for integers, no numbers for BOOL
        allowed = {"b": "b", "f": "fiu", "i": "iu", "u": "iu", "O": "US"}[spec.dtype.kind]
        if arr.size and arr.dtype.kind not in allowed:
            raise InvalidInput(f"{where}: data hold {arr.dtype.kind!r}-kind values ({str(arr.reshape(-1)[0])[:40]!r}, "
                               f"...), which are not {spec.datatype} values")
        out = arr.astype(spec.dtype)
        if spec.dtype.kind in "iu" and arr.size and not np.array_equal(out, arr):
            raise InvalidInput(f"{where}: data hold values outside the range of {spec.datatype}")
        return out

    async def stop_batcher(self) -> None:
        await self.batcher.stop()
