"""`graphc info`: which execution backend graphc found, and what it offers."""
from __future__ import annotations

import json

from graphc import api


def cmd_info(args) -> int:
    rep = api.runtime_info(args.backend)
    print(json.dumps(rep, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in rep.items()))
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("info", help="which ONNX Runtime and providers graphc found")
    s.add_argument("--json", action="store_true")
    s.add_argument("--backend", help=f"the backend to report on (default {api.DEFAULT_BACKEND})")
    s.set_defaults(func=cmd_info)
