"""The `graphc` command line: inspect, run, convert, compile, bench, info.

Exit codes: 0 ok, 2 usage error, 1 model error (one line on stderr; the traceback with --debug).
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback

import numpy as np

from graphc.errors import GraphcError, InputError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own exit code for usage errors is 2 as well
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load(path):
    import graphc

    return graphc.load(path)


def _type_json(t) -> dict:
    return {"dtype": None if getattr(t, "dtype", None) is None else t.dtype.name,
            "shape": None if getattr(t, "shape", None) is None else list(t.shape)}


def cmd_inspect(args) -> int:
    model = _load(args.model)
    g = model.graph
    count, nbytes = g.parameter_stats()
    info = {
        "model": args.model,
        "inputs": {n: _type_json(t) for n, t in model.input_types().items()},
        "outputs": {n: _type_json(t) for n, t in model.output_types().items()},
        "ops": {k: v for k, v in g.op_counts().items() if k not in ("Input", "Constant", "Variable")},
        "nodes": len(g),
        "parameters": count,
        "parameter_bytes": nbytes,
        "opset": g.opset_imports,
        "transposes": g.op_counts().get("Transpose", 0),
    }
    if g.meta.get("opset_note"):
        info["opset_note"] = g.meta["opset_note"]
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    text = model.summary(print_fn=None)
    print(text)
    if "Model:" in text:  # a Keras-style table: add the graph facts it does not show
        print(f"ONNX opset {g.opset_imports.get('', '?')}, {len(g)} IR nodes, "
              f"{count:,} parameters ({nbytes:,} bytes)")
        print("ops: " + ", ".join(f"{k}×{v}" for k, v in info["ops"].items()))
    return 0


def _parse_inputs(model, specs: list[str], seed: int) -> dict:
    from graphc.types import TensorType, random_array

    given = {}
    for spec in specs or []:
        if "=" not in spec:
            raise InputError(f"--input {spec!r}: expected NAME=FILE.npy")
        name, path = spec.split("=", 1)
        try:
            given[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"--input {name}: cannot read {path!r} as a .npy file ({e})") from None
    rng = np.random.default_rng(seed)
    feed = {}
    for name, t in model.input_types().items():
        if name in given:
            feed[name] = given.pop(name)
            continue
        if not isinstance(t, TensorType) or t.dtype is None or t.shape is None:
            raise InputError(f"input {name!r} has no known type ({t}); give it with --input {name}=FILE.npy")
        shape = tuple(d if isinstance(d, int) else 1 for d in t.shape)
        feed[name] = random_array(t.dtype, shape, rng)
        if feed[name] is None:
            raise InputError(f"cannot make random data of dtype {t.dtype} for input {name!r}; give it with --input")
    if given:
        raise InputError(f"the model has no input(s) {sorted(given)}; its inputs are {model.input_names}")
    return feed


def cmd_run(args) -> int:
    model = _load(args.model)
    feed = _parse_inputs(model, args.input, args.seed)
    exe = model.compile(target=args.target, opt_level=args.opt_level, threads=args.threads)
    outs = exe.run(feed)
    for name, arr in outs.items():
        a = np.asarray(arr)
        stats = f"min {a.min():.6g} max {a.max():.6g} mean {a.mean():.6g}" if a.size and a.dtype.kind in "fiu" else ""
        print(f"{name}: {a.dtype}{list(a.shape)} {stats}")
    if args.output:
        np.savez(args.output, **{k: np.asarray(v) for k, v in outs.items()})
        print(f"wrote {args.output}")
    print(f"provider: {exe.provider}", file=sys.stderr)
    return 0


def cmd_convert(args) -> int:
    model = _load(args.model)
    model.export(args.output, opt_level=args.opt_level)
    print(f"wrote {args.output}")
    return 0


def cmd_info(args) -> int:
    from graphc.runtime.ort import provider_report

    rep = provider_report()
    print(json.dumps(rep, indent=2) if args.json else
          "\n".join(f"{k}: {v}" for k, v in rep.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="graphc", description="Import, compile, run and benchmark neural network models.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("inspect", help="inputs, outputs, ops, parameters of a model")
    s.add_argument("model")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_inspect)

    s = sub.add_parser("run", help="run a model on given or random inputs")
    s.add_argument("model")
    s.add_argument("--input", action="append", metavar="NAME=FILE.npy")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("-o", "--output", metavar="OUT.npz")
    s.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--threads", type=int)
    _opt_level(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("convert", help="write a model as a portable ONNX file")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    _opt_level(s, default="O0")
    s.set_defaults(func=cmd_convert)

    s = sub.add_parser("info", help="which ONNX Runtime and providers graphc found")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    from graphc import cli_compile

    cli_compile.add_commands(sub, _opt_level)
    return p


def _opt_level(s, default="O2"):
    g = s.add_mutually_exclusive_group()
    for lvl in ("O0", "O1", "O2"):
        g.add_argument(f"-{lvl}", dest="opt_level", action="store_const", const=lvl,
                       help=f"optimization pipeline {lvl}" + (" (default)" if lvl == default else ""))
    s.set_defaults(opt_level=default)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except GraphcError as e:
        if args.debug:
            traceback.print_exc()
        print(f"graphc: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("graphc: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in graphc, not in the model: still one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"graphc: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
