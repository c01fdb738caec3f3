"""`graphc compile` and `graphc bench`: the compiler's commands (see graphc/cli.py for the rest)."""
from __future__ import annotations

import json
import sys
import time


def cmd_compile(args) -> int:
    import graphc
    from graphc.lower.onnx import save

    model = graphc.load(args.model)
    before = model.graph
    if args.dot:
        from graphc.dot import write_dot

        stem = args.dot[:-4] if args.dot.endswith(".dot") else args.dot
        written = write_dot(before, f"{stem}.before.dot")
    from graphc.api import optimize
    from graphc.passes import PassStats

    t0 = time.perf_counter()
    stats = PassStats()
    graph = optimize(before, args.opt_level, stats=stats)
    elapsed = time.perf_counter() - t0
    if args.target == "cuda":
        from graphc.runtime.ort import compile_graph

        compile_graph(graph, target="cuda")  # fails clearly when there is no CUDA provider
    save(graph, args.output, portable=args.portable)
    if args.opt_level != "O0":
        print(stats)
    print(f"{args.opt_level}: {len(before)} -> {len(graph)} nodes, "
          f"Transpose {before.op_counts().get('Transpose', 0)} -> {graph.op_counts().get('Transpose', 0)}, "
          f"{elapsed:.3f} s")
    if args.dot:
        written += write_dot(graph, f"{stem}.after.dot")
        print("graph drawings: " + ", ".join(str(p) for p in written))
    print(f"wrote {args.output}")
    return 0


def cmd_bench(args) -> int:
    from graphc.runtime.bench import bench

    try:
        batches = tuple(int(b) for b in args.batch.split(","))
    except ValueError:
        print(f"graphc bench: error: --batch {args.batch!r}: expected integers like 1,32", file=sys.stderr)
        return 2
    report = bench(args.model, batches=batches, runs=args.runs, warmup=args.warmup, threads=args.threads,
                   show_progress=not args.json)
    if args.json:
        print(json.dumps({"model": report.model, "setup_s": report.setup, "check": report.check,
                          "transposes": report.transposes, "baseline": report.baseline,
                          "results": report.rows()}, indent=2))
    else:
        print(report.table())
    return 0


def add_commands(sub, opt_level) -> None:
    s = sub.add_parser("compile", help="optimize a model and write it as ONNX")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    s.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--portable", action="store_true",
                   help="standard ONNX ops only (no com.microsoft fused kernels)")
    s.add_argument("--dot", metavar="FILE", help="write the graph before and after as Graphviz DOT (and SVG)")
    opt_level(s)
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("bench", help="compile, check and time a model against its peers")
    s.add_argument("model")
    s.add_argument("--batch", default="1,32", help="comma-separated batch sizes (default 1,32)")
    s.add_argument("--runs", type=int, default=50)
    s.add_argument("--warmup", type=int, default=5)
    s.add_argument("--threads", type=int, help="threads for every variant (default: all cores)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_bench)
