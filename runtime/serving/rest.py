"""The REST side: kserve's v2 endpoints, with graphc's own reading of an infer request's body.

kserve's endpoints answer health, server and model metadata and readiness as they are. The infer
route reads the body itself, because kserve's reading (measured with kserve 0.21 and tritonclient)
treats a JSON request without a `Content-Type` header as binary and refuses it, answers 500 for
a request without `inputs` or an input without `name` (a KeyError), and takes a binary tensor of
the wrong size into a numpy reshape failure (500). Here every malformed body is a 400 naming
what is wrong: malformed JSON, a missing field, a binary section whose sizes do not add up; a
body over the limit is 413. The body is only ever parsed as JSON and raw numbers.
"""
from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from kserve import InferInput, InferRequest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import RequestedOutput
from starlette.exceptions import HTTPException

_HEADER_LENGTH = "inference-header-content-length"
_JSON_NAMES = {list: "array", str: "string", dict: "object"}


class BodyTooLarge(Exception):
    def __init__(self, size: int, limit: int):
        super().__init__(f"request body of {size} bytes or more is over this server's limit of {limit} bytes "
                         f"(start it with a larger --max-request-bytes, or send fewer rows per request)")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge once it passes `limit` (the rest is read and dropped, so
    the client still gets the answer rather than a reset connection)."""
    declared = request.headers.get("content-length", "")
    chunks, total, over = [], 0, declared.isdigit() and int(declared) > limit
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            over = True
        if not over:
            chunks.append(chunk)
    if over:
        raise BodyTooLarge(max(total, int(declared) if declared.isdigit() else 0), limit)
    return b"".join(chunks)


def _field(obj: dict, key: str, types, where: str, required: bool = True):
    if key not in obj:
        if required:
            raise InvalidInput(f"{where} has no {key!r} field")
        return None
    value = obj[key]
    if not isinstance(value, types):
        raise InvalidInput(f"{where}: {key!r} must be a JSON {_JSON_NAMES[types]}, got {type(value).__name__}")
    return value


def decode_request(body: bytes, headers, model_name: str) -> InferRequest:
    """An `InferRequest` from an OIP v2 REST body (JSON, or JSON then binary tensors)."""
    text_len = headers.get(_HEADER_LENGTH)
    if text_len is None:
        text, binary = body, b""
    else:
        if not text_len.strip().isdigit() or int(text_len) > len(body):
            raise InvalidInput(f"the {_HEADER_LENGTH} header is {text_len!r}, but the body has {len(body)} bytes; "
                               f"it must be the length of the JSON part")
        text, binary = body[:int(text_len)], body[int(text_len):]
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"malformed JSON in the request body: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidInput(f"the request body must be a JSON object, got {type(obj).__name__}")
    where = "the request"
    inputs = _field(obj, "inputs", list, where)
    request_id = _field(obj, "id", str, where, required=False)
    parameters = _field(obj, "parameters", dict, where, required=False)
    infer_inputs, offset = [], 0
    for i, entry in enumerate(inputs):
        w = f"inputs[{i}]"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{w} must be a JSON object with name, shape, datatype and data")
        name = _field(entry, "name", str, w)
        w = f"input {name!r}"
        shape = _field(entry, "shape", list, w)
        datatype = _field(entry, "datatype", str, w)
        params = _field(entry, "parameters", dict, w, required=False) or {}
        inp = InferInput(name=name, shape=shape, datatype=datatype, parameters=params)
        if "data" in entry:
            inp._data = _field(entry, "data", list, w)
        elif "binary_data_size" in params:
            size = params["binary_data_size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InvalidInput(f"{w}: binary_data_size must be a non-negative integer, got {size!r}")
            if offset + size > len(binary):
                raise InvalidInput(f"{w}: binary_data_size {size} runs past the end of the body's binary part "
                                   f"({len(binary)} bytes, {offset} used by earlier inputs)")
            inp._raw_data = binary[offset:offset + size]
            offset += size
        else:
            raise InvalidInput(f"{w} has neither 'data' nor a 'binary_data_size' parameter")
        infer_inputs.append(inp)
    if offset != len(binary):
        raise InvalidInput(f"the body carries {len(binary)} bytes of binary tensor data, but the inputs' "
                           f"binary_data_size add up to {offset}")
    outputs = None
    if obj.get("outputs") is not None:
        outputs = []
        for i, entry in enumerate(_field(obj, "outputs", list, where)):
            if not isinstance(entry, dict):
                raise InvalidInput(f"outputs[{i}] must be a JSON object with a name")
            outputs.append(RequestedOutput(name=_field(entry, "name", str, f"outputs[{i}]"),
                                           parameters=_field(entry, "parameters", dict, f"outputs[{i}]",
                                                             required=False) or {}))
    return InferRequest(model_name=model_name, infer_inputs=infer_inputs, request_id=request_id,
                        parameters=parameters, request_outputs=outputs)


def encode_response(response) -> Response:
    body, text_len = response.to_rest()
    if text_len is None:
        return Response(content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")
    return Response(content=body, media_type="application/octet-stream",
                    headers={_HEADER_LENGTH: str(text_len)})


def stats_body(model) -> dict:
    """Triton's statistics extension (`GET /v2/models/{name}/stats`), as far as graphc counts."""
    s = model.batcher.stats
    with s.lock:
        return {"model_stats": [{
            "name": model.name, "version": "1", "inference_count": s.inference_count,
            "execution_count": s.execution_count,
            "pending_count": model.batcher.pending(),  # graphc's: requests queued or in a batch being formed
            "inference_stats": {"success": {"count": s.inference_count, "ns": s.success_ns}},
            "batch_stats": [{"batch_size": b, "compute_infer": {"count": c, "ns": ns}}
                            for b, (c, ns) in sorted(s.by_batch_size.items())]}]}


def build_app(dataplane, max_request_bytes: int) -> FastAPI:
    from kserve.errors import (InferenceError, ModelNotFound, ModelNotReady, ServerNotLive, ServerNotReady,
                               generic_exception_handler, inference_error_handler, invalid_input_handler,
                               model_not_found_handler, model_not_ready_handler, server_not_live_handler,
                               server_not_ready_handler)
    from kserve.protocol.rest.server import metrics_handler
    from kserve.protocol.rest.v2_endpoints import V2Endpoints

    app = FastAPI(title="graphc serve", docs_url=None, redoc_url=None, openapi_url=None)
    v2 = V2Endpoints(dataplane)
    for path, handler in (("/v2", v2.metadata), ("/v2/health/live", v2.live), ("/v2/health/ready", v2.ready),
                          ("/v2/models", v2.models), ("/v2/models/{model_name}", v2.model_metadata),
                          ("/v2/models/{model_name}/ready", v2.model_ready)):
        app.add_api_route(path, handler, methods=["GET"])
    app.add_api_route("/metrics", metrics_handler, methods=["GET"])

    async def infer(model_name: str, request: Request):
        model = dataplane.get_model_from_registry(model_name)  # ModelNotFound: a dict lookup, no path
        body = await read_body(request, max_request_bytes)
        infer_request = decode_request(body, request.headers, model_name)
        response, _ = await dataplane.infer(model_name=model.name, request=infer_request,
                                            headers=dict(request.headers))
        return encode_response(response)

    async def stats(model_name: str):
        return stats_body(dataplane.get_model_from_registry(model_name))

    app.add_api_route("/v2/models/{model_name}/infer", infer, methods=["POST"])
    async def infer_version(model_name: str, model_version: str, request: Request):
        if model_version != "1":  # one version per served model, as in the Triton repository
            raise InvalidInput(f"model {model_name!r} has version 1 only, not {model_version!r}")
        return await infer(model_name, request)

    app.add_api_route("/v2/models/{model_name}/versions/{model_version}/infer", infer_version, methods=["POST"])
    app.add_api_route("/v2/models/{model_name}/stats", stats, methods=["GET"])

    async def too_large(_, exc):
        return JSONResponse(status_code=413, content={"error": str(exc)})

    async def bad_params(_, exc):
        return JSONResponse(status_code=400, content={"error": "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())})

    async def http_error(request, exc):
        detail = str(exc.detail)
        if exc.status_code == 404:  # no route: a model name never reaches anything but the model table
            detail = (f"no endpoint {request.url.path!r}; the endpoints are /v2, /v2/health/live, /v2/health/ready, "
                      f"/v2/models/NAME, /v2/models/NAME/ready, /v2/models/NAME/infer, /v2/models/NAME/stats")
        return JSONResponse(status_code=exc.status_code, content={"error": detail})

    for exc, handler in ((InvalidInput, invalid_input_handler), (InferenceError, inference_error_handler),
                         (ModelNotFound, model_not_found_handler), (ModelNotReady, model_not_ready_handler),
                         (ServerNotLive, server_not_live_handler), (ServerNotReady, server_not_ready_handler),
                         (BodyTooLarge, too_large), (RequestValidationError, bad_params),
                         (HTTPException, http_error), (Exception, generic_exception_handler)):
        app.add_exception_handler(exc, handler)
    return app

