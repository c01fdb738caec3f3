"""`graphc compile` and `graphc bench`: the compiler's commands (see graphc/cli.py for the rest)."""
from __future__ import annotations

import argparse
import json
import sys
import time


def _dot_paths(option: str) -> tuple[str, str]:
    """`--dot FILE` writes FILE.before.dot and FILE.after.dot (a trailing .dot of FILE is dropped)."""
    stem = option[:-4] if option.endswith(".dot") else option
    return f"{stem}.before.dot", f"{stem}.after.dot"


def cmd_compile(args) -> int:
    import graphc
    from graphc.api import optimize
    from graphc.cli import check_writable
    from graphc.lower.onnx import save
    from graphc.passes import PassStats

    check_writable(args.output)
    dots = _dot_paths(args.dot) if args.dot else ()
    for path in dots:
        check_writable(path)
    model = graphc.load(args.model)
    before = model.graph
    t0 = time.perf_counter()
    stats = PassStats()
    graph = optimize(before, args.opt_level, stats=stats)
    elapsed = time.perf_counter() - t0
    if args.target == "cuda":
        from graphc.runtime.ort import compile_graph

        # fails clearly when there is no CUDA provider, in the CLI's words
        compile_graph(graph, target="cuda", fallback=args.fallback, fallback_hint="add --fallback")
    save(graph, args.output, portable=args.portable)
    if args.opt_level != "O0":
        print(stats)
    print(f"{args.opt_level}: {len(before)} -> {len(graph)} nodes, "
          f"Transpose {before.op_counts().get('Transpose', 0)} -> {graph.op_counts().get('Transpose', 0)}, "
          f"{elapsed:.3f} s")
    if dots:
        from graphc.dot import write_dot

        notes = [write_dot(before, dots[0]), write_dot(graph, dots[1])]
        print("graph drawings: " + "; ".join(notes))
    print(f"wrote {args.output}")
    return 0


def cmd_bench(args) -> int:
    from graphc.runtime.bench import bench

    report = bench(args.model, batches=args.batch, runs=args.runs, warmup=args.warmup, threads=args.threads,
                   show_progress=not args.json, int_ranges=dict(args.int_range or []))
    if args.json:
        print(json.dumps({"model": report.model, "setup_s": report.setup, "check": report.check,
                          "transposes": report.transposes, "baseline": report.baseline,
                          "results": report.rows(), "notes": report.notes}, indent=2))
    else:
        print(report.table())
    return 0


def _batches(text: str) -> tuple[int, ...]:
    from graphc.cli import int_at_least

    try:
        return tuple(int_at_least(1)(b) for b in text.split(","))
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive batch sizes like 1,32 ({e})") from None


def add_commands(sub, opt_level) -> None:
    from graphc.cli import add_int_range, add_target, int_at_least

    s = sub.add_parser("compile", help="optimize a model and write it as ONNX")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    add_target(s)
    s.add_argument("--portable", action="store_true",
                   help="standard ONNX ops only (no com.microsoft fused kernels)")
    s.add_argument("--dot", metavar="FILE",
                   help="write the graph before and after optimization as Graphviz DOT to FILE.before.dot and "
                        "FILE.after.dot (a trailing .dot of FILE is dropped), and each as .svg beside it when "
                        "Graphviz's `dot` program is on PATH")
    opt_level(s)
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("bench", help="compile, check and time a model against its peers")
    s.add_argument("model")
    s.add_argument("--batch", default=(1, 32), type=_batches, help="comma-separated batch sizes (default 1,32)")
    s.add_argument("--runs", type=int_at_least(1), default=50, help="timed runs per variant and batch (default 50)")
    s.add_argument("--warmup", type=int_at_least(0), default=5, help="untimed runs first (default 5)")
    s.add_argument("--threads", type=int_at_least(1), help="threads for every variant (default: all cores)")
    add_int_range(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_bench)

