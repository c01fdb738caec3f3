"""`graphc compile` and `graphc convert`: the commands that write a model as ONNX."""
from __future__ import annotations

import time

from graphc import api
from graphc.cli.args import FALLBACK_HINT, add_opt_level, add_target, check_writable
from graphc.passes import PassStats


def _dot_paths(option: str) -> tuple[str, str]:
    """`--dot FILE` writes FILE.before.dot and FILE.after.dot (a trailing .dot of FILE is dropped)."""
    stem = option[:-4] if option.endswith(".dot") else option
    return f"{stem}.before.dot", f"{stem}.after.dot"


def emit_triton(model, args) -> None:
    """Write the Triton program of `model` to args.emit_source (program.py + weights.npz), its
    symbolic dims given args.batch."""
    import os

    import numpy as np

    exe = api.compile(model, target="triton", opt_level=args.opt_level, interpret=args.interpret or None)
    sizes = {d: args.batch for _, t in exe.signature.inputs for d in (getattr(t, "shape", None) or ())
             if isinstance(d, str)}
    prog = exe.program(sizes)
    os.makedirs(args.emit_source, exist_ok=True)
    with open(os.path.join(args.emit_source, "program.py"), "w") as f:
        f.write(prog.source)
    np.savez(os.path.join(args.emit_source, "weights.npz"),
             **{c: prog.graph.const_value((c, 0)) for c in prog.weights})
    print(f"{prog.kernel_count} Triton kernels, {len(prog.fallbacks)} torch fallbacks"
          + "".join(f"\n  fallback: {n} ({op}): {why}" for n, op, why in prog.fallbacks))
    print(f"wrote {os.path.join(args.emit_source, 'program.py')} and weights.npz")


def cmd_compile(args) -> int:
    if args.target == "triton":
        if not args.emit_source:
            raise SystemExit("graphc compile: --target triton writes the generated program: add --emit-source DIR")
        emit_triton(api.load(args.model), args)
        return 0
    if not args.output:
        raise SystemExit("graphc compile: the ONNX output needs -o OUT.onnx")
    check_writable(args.output)
    dots = _dot_paths(args.dot) if args.dot else ()
    for path in dots:
        check_writable(path)
    model = api.load(args.model)
    before = model.graph
    t0 = time.perf_counter()
    stats = PassStats()
    graph = api.optimize(before, args.opt_level, stats=stats)
    elapsed = time.perf_counter() - t0
    if args.target == "cuda":  # fails clearly when there is no CUDA provider, in the CLI's words
        api.compile(graph, target="cuda", opt_level="O0", fallback=args.fallback, fallback_hint=FALLBACK_HINT)
    api.export(graph, args.output, opt_level="O0", portable=args.portable)
    if args.opt_level != "O0":
        print(stats)
    print(f"{args.opt_level}: {len(before)} -> {len(graph)} nodes, "
          f"Transpose {before.op_counts().get('Transpose', 0)} -> {graph.op_counts().get('Transpose', 0)}, "
          f"{elapsed:.3f} s")
    if dots:
        from graphc.cli.dot import write_dot

        notes = [write_dot(before, dots[0]), write_dot(graph, dots[1])]
        print("graph drawings: " + "; ".join(notes))
    print(f"wrote {args.output}")
    return 0


def cmd_convert(args) -> int:
    check_writable(args.output)
    model = api.load(args.model)
    api.export(model, args.output, opt_level=args.opt_level)
    print(f"wrote {args.output}")
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("convert", help="write a model as a portable ONNX file")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    add_opt_level(s, default="O0")
    s.set_defaults(func=cmd_convert)

    s = sub.add_parser("compile", help="optimize a model and write it as ONNX (or as a Triton program)")
    s.add_argument("model")
    s.add_argument("-o", "--output", metavar="OUT.onnx")
    add_target(s, extra=("triton",))
    s.add_argument("--emit-source", metavar="DIR",
                   help="with --target triton: write the generated Triton program (program.py) and its weights")
    s.add_argument("--interpret", action="store_true",
                   help="with --target triton: write it for triton's CPU interpreter (TRITON_INTERPRET=1)")
    s.add_argument("--batch", type=int, default=1, help="with --target triton: the size of symbolic dims")
    s.add_argument("--portable", action="store_true",
                   help="standard ONNX ops only (no com.microsoft fused kernels)")
    s.add_argument("--dot", metavar="FILE",
                   help="write the graph before and after optimization as Graphviz DOT to FILE.before.dot and "
                        "FILE.after.dot (a trailing .dot of FILE is dropped), and each as .svg beside it when "
                        "Graphviz's `dot` program is on PATH")
    add_opt_level(s)
    s.set_defaults(func=cmd_compile)
