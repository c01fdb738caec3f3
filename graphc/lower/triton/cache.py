"""The on-disk cache of generated programs, keyed by a hash of the graph, its shapes and dtypes.

The directory is `GRAPHC_CACHE_DIR` when set, else `$XDG_CACHE_HOME/graphc/triton` (default
`~/.cache/graphc/triton`). A module is written to a temporary name and renamed, so two
processes writing one key never leave a torn file.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from graphc.version import __version__

FORMAT = 1  # bump when the generated code changes for the same graph


def cache_dir() -> Path:
    root = os.environ.get("GRAPHC_CACHE_DIR")
    if root:
        return Path(root) / "triton"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphc" / "triton"


def graph_key(g, interpret: bool) -> str:
    """sha256 of everything the code depends on: ops, attributes, edges, types, constants."""
    h = hashlib.sha256(f"graphc {__version__} format {FORMAT} interpret={interpret}\n".encode())
    for n in g.topo_order():
        d = g.data(n)
        h.update(f"{n}|{d['domain']}|{d['op']}|{[str(t) for t in d['outputs']]}|{g.input_values(n)}\n".encode())
        for k in sorted(d["attrs"]):
            v = d["attrs"][k]
            h.update(k.encode())
            if isinstance(v, np.ndarray):
                h.update(f"{v.dtype}{v.shape}".encode())
                h.update(np.ascontiguousarray(v).tobytes())
            else:
                h.update(repr(v).encode())
    h.update(repr(g.inputs).encode() + repr(g.outputs).encode())
    return h.hexdigest()[:32]


def path_for(key: str) -> Path:
    return cache_dir() / f"graphc_triton_{key}.py"


def store(key: str, source: str) -> Path:
    """Write `source` under `key` (atomically) and return its path."""
    path = path_for(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(source)
    os.replace(tmp, path)
    return path
