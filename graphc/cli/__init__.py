"""The `graphc` command line: inspect, run, convert, compile, info, bench, serve, export.

One module per command group, each adding its sub-commands with `add_commands(sub)`; every
command works through the facade (`graphc.api`) only, never the importers or the runtime
directly (tests/core/test_architecture.py checks it).
Exit codes: 0 ok, 2 usage error, 1 model error (one line on stderr; the traceback with --debug).
"""
from __future__ import annotations

import argparse
import sys
import traceback

from graphc.cli import bench, compile, info, inspect, run, serve
from graphc.cli.args import Parser
from graphc.errors import GraphcError

COMMANDS = (inspect, run, compile, info, bench, serve)  # the order of `graphc --help`


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="graphc", description="Import, compile, run and benchmark neural network models.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMANDS:
        module.add_commands(sub)
    for s in sub.choices.values():  # --debug after the sub-command too; SUPPRESS keeps an earlier one
        s.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    return p


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
