"""The `graphc` command line: inspect, run, convert, compile, bench, info.

Exit codes: 0 ok, 2 usage error, 1 model error (one line on stderr; the traceback with --debug).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

import numpy as np

from graphc.errors import BackendError, GraphcError, InputError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own exit code for usage errors is 2 as well
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load(path):
    import graphc

    return graphc.load(path)


def cmd_inspect(args) -> int:
    from graphc import cli_inspect

    model = _load(args.model)
    info = cli_inspect.facts(model, args.model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    if hasattr(model, "layers"):  # a Keras model: its own layer table first
        print(model.summary(print_fn=None))
    print(cli_inspect.text(info))
    return 0


def _input_spec(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=FILE.npy (the model's input name, then the file)")
    return name, path


def _int_range(text: str):
    from graphc.sample_inputs import parse_int_range

    try:
        return parse_int_range(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def int_at_least(low: int):
    """An argparse type: an integer of at least `low` (a usage error, exit 2, otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small; it must be {low} or more")
        return value

    return parse


def _load_npy(name: str, path: str) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"--input {name}: {path}: no such file") from None
    except (OSError, ValueError, EOFError) as e:
        with open(path, "rb") as f:
            npy = f.read(6) == b"\x93NUMPY"  # numpy's magic: a real .npy, but of objects
        what = "holds Python objects, which graphc never unpickles" if npy and "allow_pickle" in str(e) else \
            "is not a .npy array file"
        raise InputError(f"--input {name}: {path} {what}; write a numeric array with numpy.save") from None
    if not isinstance(arr, np.ndarray):  # np.load opens .npz archives too
        arr.close()
        raise InputError(f"--input {name}: {path} is a .npz archive, not a .npy array file; "
                         f"save each input with numpy.save")
    return arr


def _parse_inputs(model, specs, seed: int, int_ranges=None) -> dict:
    from graphc.sample_inputs import random_feed

    given = {name: _load_npy(name, path) for name, path in specs or []}
    unknown = sorted(set(given) - set(model.input_names))
    if unknown:
        raise InputError(f"the model has no input(s) {unknown}; its inputs are {model.input_names}")
    feed = random_feed(model.graph, seed=seed, ranges=dict(int_ranges or []), skip=given)
    return {name: given[name] if name in given else feed[name] for name in model.input_names}


def _compile(model, args):
    """The executable `run` uses, with the CLI's wording of the CPU fallback."""
    from graphc.api import optimize
    from graphc.runtime.ort import compile_graph

    return compile_graph(optimize(model.graph, args.opt_level), target=args.target, threads=args.threads,
                         fallback=args.fallback, fallback_hint="add --fallback")


def cmd_run(args) -> int:
    model = _load(args.model)
    if args.output:
        check_writable(args.output)
    feed = _parse_inputs(model, args.input, args.seed, args.int_range)
    exe = _compile(model, args)
    try:
        outs = exe.run(feed)
    except BackendError as e:
        made_up = [n for n in model.input_names if n not in dict(args.input or [])]
        if made_up:  # the data were ours: say how to give real ones
            raise BackendError(f"{e} (inputs {made_up} were random; give them with --input NAME=FILE.npy, "
                               f"or set integer ranges with --int-range [NAME=]LO,HI)") from None
        raise
    for name, arr in outs.items():
        a = np.asarray(arr)
        stats = f"min {a.min():.6g} max {a.max():.6g} mean {a.mean():.6g}" if a.size and a.dtype.kind in "fiu" else ""
        print(f"{name}: {a.dtype}{list(a.shape)} {stats}")
    if args.output:
        np.savez(args.output, **{k: np.asarray(v) for k, v in outs.items()})
        print(f"wrote {args.output}")
    print(f"provider: {exe.provider}", file=sys.stderr)
    return 0


class OutputPathError(GraphcError):
    """An output file the command cannot write."""


def check_writable(path) -> None:
    """Fail before any work when `path` cannot be written: a missing or read-only folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputPathError(f"{path}: is a folder; give a file name to write")
    if not os.path.isdir(folder):
        raise OutputPathError(f"{path}: cannot write, the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise OutputPathError(f"{path}: cannot write, the folder {folder} is not writable")


def cmd_convert(args) -> int:
    check_writable(args.output)
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
    s.add_argument("--input", action="append", type=_input_spec, metavar="NAME=FILE.npy",
                   help="an input from a .npy file (repeat for several); the others are random")
    add_int_range(s)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("-o", "--output", metavar="OUT.npz")
    add_target(s)
    s.add_argument("--threads", type=int_at_least(1))
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
    for s in sub.choices.values():  # --debug after the sub-command too; SUPPRESS keeps an earlier one
        s.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    return p


def add_int_range(s) -> None:
    s.add_argument("--int-range", action="append", type=_int_range, metavar="[NAME=]LO,HI",
                   help="random integers for every integer input (or input NAME) from [LO, HI); by default "
                        "an input used as an index is drawn below the size it indexes, others from [0, 10)")


def add_target(s) -> None:
    s.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--fallback", action="store_true",
                   help="with --target cuda: run on the CPU when CUDA is not available instead of failing")


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
    except OSError as e:  # a file the command was told to read or write
        if args.debug:
            traceback.print_exc()
        where = e.filename or "a file"
        print(f"graphc: error: {where}: {e.strerror or e} (check the path and its folder's permissions)",
              file=sys.stderr)
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
