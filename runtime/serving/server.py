"""`graphc serve`: compiled models behind the Open Inference Protocol v2, REST and gRPC, on one loop.

The protocol is kserve's (its dataplane, v2 endpoints, gRPC servicer and Prometheus metrics);
graphc composes the two servers itself rather than through `kserve.ModelServer`, because
ModelServer binds every interface (`0.0.0.0`, `[::]`) with no way to choose, reads the process's
own command line when imported, and lets clients load and unload models (refused here). Here both
servers bind `host` (loopback by default), model names are only ever dictionary keys, and the
REST infer body is read by `rest.py`.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import sys

from graphc.runtime.serving.sources import ServeError


def _import_kserve():
    argv, sys.argv = sys.argv, sys.argv[:1]  # kserve.model_server parses sys.argv when imported
    try:
        import kserve  # noqa: F401
    finally:
        sys.argv = argv


_import_kserve()

from kserve import ModelRepository  # noqa: E402
from kserve.protocol.dataplane import DataPlane  # noqa: E402

from graphc.runtime.serving.model import GraphcModel  # noqa: E402
from graphc.runtime.serving.rest import build_app  # noqa: E402
from graphc.runtime.serving.signature import signature_of  # noqa: E402
from graphc.runtime.serving.sources import load_models  # noqa: E402

DEFAULT_MAX_REQUEST_BYTES = 64 << 20


def build_models(models, *, target: str = "cpu", threads: int | None = None, opt_level: str = "O2",
                 max_batch_size: int = 1, max_queue_delay_ms: float = 0.0, instances: int = 1,
                 on_batch=None) -> list:
    """Load and compile every model once: a `GraphcModel` per name."""
    from graphc import backends
    from graphc.model import graph_of

    built = []
    for name, model in load_models(models).items():
        exe = backends.compile(graph_of(model), target=target, opt_level=opt_level, threads=threads)
        built.append(GraphcModel(name, exe, signature_of(model), max_batch_size=max_batch_size,
                                 max_queue_delay_ms=max_queue_delay_ms, instances=instances,
                                 on_batch=(lambda rows, n=name: on_batch(n, rows)) if on_batch else None))
    return built


def _batch_histogram(max_batch_size: int):
    from prometheus_client import REGISTRY, Histogram

    buckets = sorted({2 ** i for i in range(max(1, max_batch_size).bit_length() + 1)} | {max_batch_size})
    existing = REGISTRY._names_to_collectors.get("graphc_batch_size")
    hist = existing or Histogram("graphc_batch_size", "rows per model run by the dynamic batcher",
                                 ["model"], buckets=buckets)
    return lambda name, rows: hist.labels(model=name).observe(rows)


class _QuietBadRequests(logging.Filter):
    """kserve logs every refused request with its traceback; a bad request is the client's, not ours."""
    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ not in ("InvalidInput", "ModelNotFound", "BodyTooLarge")


def _no_model_control(repo):
    """kserve's gRPC servicer would let any client unload (or "load") a served model: refused."""
    from grpc_interceptor.exceptions import Unimplemented  # kserve's interceptor passes its status on
    from kserve.protocol.model_repository_extension import ModelRepositoryExtension

    class NoModelControl(ModelRepositoryExtension):
        async def load(self, model_name: str) -> None:
            raise Unimplemented("graphc serve loads its models when it starts; restart it to change them")

        unload = load

    return NoModelControl(model_registry=repo)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so (else Nagle adds ~40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} for HTTP: {e.strerror or e} "
                         f"(choose another --http-port, or 0 for any free port)") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def _run(models: list, host: str, http_port: int, grpc_port: int | None, max_request_bytes: int,
               announce) -> None:
    import uvicorn
    from grpc import aio
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc
    from kserve.protocol.grpc.interceptors import ExceptionToStatusInterceptor
    from kserve.protocol.grpc.servicer import InferenceServicer

    repo = ModelRepository()
    for m in models:
        repo.update(m)
    dataplane = DataPlane(model_registry=repo)
    app = build_app(dataplane, max_request_bytes)
    sock = _bind(host, http_port)
    http = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                         timeout_graceful_shutdown=5, timeout_keep_alive=65))
    grpc_server, bound = None, None
    if grpc_port is not None:
        grpc_server = aio.server(interceptors=(ExceptionToStatusInterceptor(),),
                                 options=[("grpc.max_receive_message_length", max_request_bytes),
                                          ("grpc.max_send_message_length", max(max_request_bytes, 64 << 20))])
        grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
            InferenceServicer(dataplane, _no_model_control(repo)), grpc_server)
        address = f"[{host}]:{grpc_port}" if ":" in host else f"{host}:{grpc_port}"
        try:
            bound = grpc_server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if not bound:
            sock.close()
            raise ServeError(f"cannot listen on {address} for gRPC (choose another --grpc-port, or 0 for any)")
        await grpc_server.start()
    for m in models:
        m.batcher.start()
    task = asyncio.get_running_loop().create_task(http.serve(sockets=[sock]))
    while not http.started and not task.done():
        await asyncio.sleep(0.01)
    if http.started:
        announce(host, sock.getsockname()[1], bound, [m.name for m in models])
    try:
        await task
    finally:
        if grpc_server is not None:
            await grpc_server.stop(1)
        for m in models:
            await m.stop_batcher()


def _announce(host, http_port, grpc_port, names):
    grpc = f" grpc {host}:{grpc_port}" if grpc_port else ""
    print(f"graphc serve: http://{host}:{http_port}{grpc} models {', '.join(names)}", flush=True)


def serve(models, *, host: str = "127.0.0.1", http_port: int = 8080, grpc_port: int | None = 8081,
          max_batch_size: int = 1, max_queue_delay_ms: float = 0.0, instances: int = 1,
          threads: int | None = None, target: str = "cpu", opt_level: str = "O2",
          max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES, announce=_announce) -> None:
    """Serve `models` until interrupted; see `graphc.serve`."""
    if max_batch_size < 1 or instances < 1 or max_queue_delay_ms < 0 or max_request_bytes < 1:
        raise ServeError("max_batch_size and instances must be 1 or more, max_queue_delay_ms 0 or more, "
                         "max_request_bytes positive")
    hist = _batch_histogram(max_batch_size)
    built = build_models(models, target=target, threads=threads, opt_level=opt_level,
                         max_batch_size=max_batch_size, max_queue_delay_ms=max_queue_delay_ms,
                         instances=instances, on_batch=hist)
    logging.getLogger("kserve").addFilter(_QuietBadRequests())
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    try:
        asyncio.run(_run(built, host, http_port, grpc_port, max_request_bytes, announce))
    except KeyboardInterrupt:
        pass
