"""`graphc bench`: compile, check and time a model against its peers (graphc/runtime/bench.py)."""
from __future__ import annotations

import argparse
import json

from graphc import api
from graphc.cli.args import add_int_range, int_at_least


def cmd_bench(args) -> int:
    extra = {}
    if args.target == "triton":
        extra = {"interpret": args.interpret or None, "torch_compile": not args.no_torch_compile}
    elif args.interpret or args.no_torch_compile:
        raise SystemExit("graphc bench: --interpret and --no-torch-compile go with --target triton")
    report = api.bench(args.model, target=args.target, batches=args.batch, runs=args.runs, warmup=args.warmup,
                       threads=args.threads, show_progress=not args.json, int_ranges=dict(args.int_range or []),
                       **extra)
    if args.json:
        print(json.dumps({"model": report.model, "setup_s": report.setup, "check": report.check,
                          "transposes": report.transposes, "baseline": report.baseline,
                          "results": report.rows(), "notes": report.notes}, indent=2))
    else:
        print(report.table())
    return 0


def _batches(text: str) -> tuple[int, ...]:
    try:
        return tuple(int_at_least(1)(b) for b in text.split(","))
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive batch sizes like 1,32 ({e})") from None


def add_commands(sub) -> None:
    s = sub.add_parser("bench", help="compile, check and time a model against its peers")
    s.add_argument("model")
    s.add_argument("--batch", default=(1, 32), type=_batches, help="comma-separated batch sizes (default 1,32)")
    s.add_argument("--runs", type=int_at_least(1), default=50, help="timed runs per variant and batch (default 50)")
    s.add_argument("--warmup", type=int_at_least(0), default=5, help="untimed runs first (default 5)")
    s.add_argument("--threads", type=int_at_least(1), help="threads for every variant (default: all cores)")
    s.add_argument("--target", choices=("cpu", "triton"), default="cpu",
                   help="cpu: graphc on ONNX Runtime vs raw ONNX Runtime and Keras (default); triton: the "
                        "generated Triton program vs torch eager, torch.compile and ONNX Runtime CUDA")
    s.add_argument("--interpret", action="store_true",
                   help="with --target triton: run the kernels on triton's CPU interpreter (no GPU needed)")
    s.add_argument("--no-torch-compile", action="store_true", help="with --target triton: skip the torch.compile row")
    add_int_range(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_bench)
