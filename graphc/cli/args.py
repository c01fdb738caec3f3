"""What the commands share: the parser class, argument types and options, output-path checks."""
from __future__ import annotations

import argparse
import os
import sys

from graphc.errors import GraphcError
from graphc.sample_inputs import parse_int_range


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own exit code for usage errors is 2 as well
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


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


def _int_range(text: str):
    try:
        return parse_int_range(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_int_range(s) -> None:
    s.add_argument("--int-range", action="append", type=_int_range, metavar="[NAME=]LO,HI",
                   help="random integers for every integer input (or input NAME) from [LO, HI); by default "
                        "an input used as an index is drawn below the size it indexes, others from [0, 10)")


def add_target(s, extra=()) -> None:
    s.add_argument("--target", default="cpu", choices=["cpu", "cuda", *extra])
    s.add_argument("--fallback", action="store_true",
                   help="with --target cuda: run on the CPU when CUDA is not available instead of failing")


FALLBACK_HINT = "add --fallback"  # how a CUDA error words the opt-in, in the CLI's terms


def add_opt_level(s, default="O2") -> None:
    g = s.add_mutually_exclusive_group()
    for lvl in ("O0", "O1", "O2"):
        g.add_argument(f"-{lvl}", dest="opt_level", action="store_const", const=lvl,
                       help=f"optimization pipeline {lvl}" + (" (default)" if lvl == default else ""))
    s.set_defaults(opt_level=default)


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
