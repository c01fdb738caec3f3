"""`graphc run`: a model on inputs from .npy files, random data for the others."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from graphc import api
from graphc.cli.args import FALLBACK_HINT, add_int_range, add_opt_level, add_target, check_writable, int_at_least
from graphc.errors import BackendError, InputError
from graphc.sample_inputs import random_feed


def _input_spec(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=FILE.npy (the model's input name, then the file)")
    return name, path


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
    given = {name: _load_npy(name, path) for name, path in specs or []}
    unknown = sorted(set(given) - set(model.input_names))
    if unknown:
        raise InputError(f"the model has no input(s) {unknown}; its inputs are {model.input_names}")
    feed = random_feed(model.graph, seed=seed, ranges=dict(int_ranges or []), skip=given)
    return {name: given[name] if name in given else feed[name] for name in model.input_names}


def cmd_run(args) -> int:
    model = api.load(args.model)
    if args.output:
        check_writable(args.output)
    feed = _parse_inputs(model, args.input, args.seed, args.int_range)
    exe = api.compile(model, target=args.target, opt_level=args.opt_level, threads=args.threads,
                      fallback=args.fallback, fallback_hint=FALLBACK_HINT)
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


def add_commands(sub) -> None:
    s = sub.add_parser("run", help="run a model on given or random inputs")
    s.add_argument("model")
    s.add_argument("--input", action="append", type=_input_spec, metavar="NAME=FILE.npy",
                   help="an input from a .npy file (repeat for several); the others are random")
    add_int_range(s)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("-o", "--output", metavar="OUT.npz")
    add_target(s)
    s.add_argument("--threads", type=int_at_least(1))
    add_opt_level(s)
    s.set_defaults(func=cmd_run)
