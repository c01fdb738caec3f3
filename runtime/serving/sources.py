"""Which models to serve or export, by name: `name=path`, a path (named by its stem), a model.

A name becomes a URL segment (`/v2/models/NAME`) and a folder of a Triton repository, so it is
held to letters, digits, `_`, `-` and `.` (not first): it can never climb out of a folder.
"""
from __future__ import annotations

import re
from pathlib import Path

from graphc.errors import GraphcError


class ServeError(GraphcError):
    """A model, name or address that cannot be served or exported."""


NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # also a folder name in a Triton repository


def check_name(name: str, source) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ServeError(f"{source}: model name {name!r} is not allowed; use letters, digits, '_', '-' and '.' "
                         f"(not first), as in name=path")
    return name


def model_sources(models) -> dict:
    """{name: path or model} from a dict, a path, a model, or a list of paths / `name=path` strings."""
    if isinstance(models, dict):
        items = list(models.items())
    else:
        items = []
        for m in models if isinstance(models, (list, tuple)) else [models]:
            if isinstance(m, str) and "=" in m and not Path(m).exists():
                name, _, path = m.partition("=")
                items.append((name, path))
            elif isinstance(m, (str, Path)):
                items.append((Path(m).stem, m))
            else:
                items.append((getattr(m, "name", None), m))
    out = {}
    for name, src in items:
        check_name(name, src)
        if name in out:
            raise ServeError(f"two models are named {name!r}; name them apart with name=path")
        out[name] = src
    if not out:
        raise ServeError("no model to serve; give at least one model file")
    return out


def load_models(models) -> dict:
    """{name: graphc model}. The runtime reads no model files (docs/DESIGN.md's rooms): the
    facade (`graphc.api.serve`, `graphc.api.export_triton_repo`) loads them and hands them in."""
    out = model_sources(models)
    unread = sorted(name for name, src in out.items() if isinstance(src, (str, Path)))
    if unread:
        raise ServeError(f"models {unread} are file paths; load them with graphc.load first "
                         f"(graphc.api.serve and graphc.api.export_triton_repo do)")
    return out
