"""`graphc serve` (OIP v2 REST + gRPC with dynamic batching) and `graphc export --triton-repo`."""
from __future__ import annotations

from graphc import api
from graphc.cli.args import add_opt_level, int_at_least

_MODELS_HELP = "model files (.keras, .h5, .onnx), each served under its file name or as NAME=PATH"


def _batching(s, default_batch: int) -> None:
    s.add_argument("--max-batch-size", type=int_at_least(1), default=default_batch,
                   help=f"rows per batched run (default {default_batch}; 1 turns dynamic batching off)")
    s.add_argument("--max-queue-delay-ms", type=float, default=2.0,
                   help="how long the oldest queued request waits for others to join its batch (default 2)")
    s.add_argument("--instances", type=int_at_least(1), default=1,
                   help="runs of one model at the same time (default 1)")


def cmd_serve(args) -> int:
    api.serve(args.models, host=args.host, http_port=args.http_port,
              grpc_port=None if args.no_grpc else args.grpc_port, max_batch_size=args.max_batch_size,
              max_queue_delay_ms=args.max_queue_delay_ms, instances=args.instances, threads=args.threads,
              target=args.target, opt_level=args.opt_level, max_request_bytes=args.max_request_bytes)
    return 0


def cmd_export(args) -> int:
    folders = api.export_triton_repo(args.models, args.triton_repo, max_batch_size=args.max_batch_size,
                                     max_queue_delay_ms=args.max_queue_delay_ms, instances=args.instances,
                                     kind="KIND_GPU" if args.gpu else "KIND_CPU", opt_level=args.opt_level)
    for f in folders:
        print(f"wrote {f}/config.pbtxt and {f}/1/model.onnx")
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("serve", help="serve models on the Open Inference Protocol v2 (REST and gRPC)")
    s.add_argument("models", nargs="+", metavar="MODEL", help=_MODELS_HELP)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    s.add_argument("--http-port", type=int_at_least(0), default=8080, help="REST port (default 8080; 0: any free)")
    s.add_argument("--grpc-port", type=int_at_least(0), default=8081, help="gRPC port (default 8081; 0: any free)")
    s.add_argument("--no-grpc", action="store_true", help="serve REST only")
    _batching(s, default_batch=1)
    s.add_argument("--threads", type=int_at_least(1), help="ONNX Runtime threads per model run")
    s.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--max-request-bytes", type=int_at_least(1), default=64 << 20,
                   help="largest request body accepted (default 64 MiB; larger ones get 413)")
    add_opt_level(s)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("export", help="write models as a Triton Inference Server model repository")
    s.add_argument("models", nargs="+", metavar="MODEL", help=_MODELS_HELP)
    s.add_argument("--triton-repo", required=True, metavar="DIR", help="the repository folder to write into")
    _batching(s, default_batch=8)
    s.add_argument("--gpu", action="store_true", help="instances of kind KIND_GPU (default KIND_CPU)")
    add_opt_level(s)
    s.set_defaults(func=cmd_export)
