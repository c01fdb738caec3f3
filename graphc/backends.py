"""The registry of execution backends, and `compile`: a graph optimized, then handed to one.

A backend turns an optimized `Graph` into an `Executable` (graphc/executable.py) for one of its
targets. The compiler core never imports a backend's module: graphc's own backends are named
below with the module that provides each (`BUILTIN`), another package's are declared under the
entry-point group `graphc.backends`, and code may `register(name, factory)` one; `get` imports
a backend's module the first time its name is asked for. A backend is an object with

    name: str                      # its registry name
    targets: tuple[str, ...]       # e.g. ("cpu", "cuda")
    options: dict[str, str]        # the options `compile` accepts, each with a one-line help
    compile(graph, target, **options) -> Executable

`compile` here checks the target and the option names against those, so every backend refuses
an unknown one in the same words; the backend checks the values.
"""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Callable

from graphc.errors import BackendError
from graphc.ir import Graph
from graphc.passes import optimize_for_inference

DEFAULT = "ort"
# graphc's own backends: name -> "module:class", imported when first used (runtime/ is a room the
# core does not import from; this table is the one place that names it)
BUILTIN = {"ort": "graphc.runtime.ort:OrtBackend", "triton": "graphc.runtime.triton:TritonBackend"}
ENTRY_POINTS = "graphc.backends"

_factories: dict[str, Callable[[], object]] = {}
_instances: dict[str, object] = {}
_discovered = False


def register(name: str, factory: Callable[[], object], *, replace: bool = False) -> None:
    """Make `factory()` (called once, when `name` is first used) the backend `name`."""
    _discover()
    if name in _factories and not replace:
        raise BackendError(f"a backend named {name!r} is already registered; pass replace=True to replace it")
    _factories[name] = factory
    _instances.pop(name, None)


def unregister(name: str) -> None:
    _discover()
    _factories.pop(name, None)
    _instances.pop(name, None)


def _load(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)


def _discover() -> None:
    """Add the built-in backends and those other packages declare (none is imported yet)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for name, spec in BUILTIN.items():
        _factories.setdefault(name, lambda spec=spec: _load(spec)())
    for ep in entry_points(group=ENTRY_POINTS):
        _factories.setdefault(ep.name, lambda ep=ep: ep.load()())


def available() -> list[str]:
    """The names of the registered backends."""
    _discover()
    return sorted(_factories)


def get(name: str | None = None):
    """The backend `name` (None: the default, ONNX Runtime)."""
    name = DEFAULT if name is None else name
    _discover()
    if name not in _factories:
        raise BackendError(f"unknown backend {name!r}: the registered backends are {sorted(_factories)}")
    if name not in _instances:
        _instances[name] = _factories[name]()
    return _instances[name]


def check_request(backend, target: str, options: dict) -> None:
    """Refuse a target or an option name `backend` does not declare, naming what it has."""
    if target not in backend.targets:
        raise BackendError(f"unknown target {target!r} for backend {backend.name!r}: choose one of "
                           f"{list(backend.targets)}")
    unknown = sorted(set(options) - set(backend.options))
    if unknown:
        known = "; ".join(f"{k}: {v}" for k, v in backend.options.items()) or "none"
        raise BackendError(f"backend {backend.name!r} has no option(s) {unknown}; its options are {known}")


def compile(graph: Graph, *, target: str = "cpu", backend: str | None = None, opt_level="O2", **options):
    """`graph` optimized at `opt_level` (see `graphc.passes.optimize_for_inference`) and compiled
    by `backend` for `target` with the backend's own `options`."""
    if backend is None and target in BUILTIN and target != DEFAULT:
        backend, target = target, get(target).targets[0]  # target="triton": that backend, its default target
    b = get(backend)
    check_request(b, target, options)
    return b.compile(optimize_for_inference(graph, opt_level), target, **options)
