"""Triton execution: the backend "triton", a graph as generated Triton kernels plus torch fallbacks.

`TritonBackend.compile` checks what is there before it lowers anything: torch and triton
installed, and either a CUDA GPU (torch.cuda.is_available()) or the interpreter
(`TRITON_INTERPRET=1` in the environment, or `interpret=True`, which sets it before any kernel
is defined, since triton reads it when `@triton.jit` runs). Nothing silently runs elsewhere.

A `TritonExecutable` takes numpy arrays or torch tensors and returns the same kind. Each set of
sizes of the symbolic dims gets its own program (graphc/lower/triton), written once to the
disk cache and imported from there; `programs` holds them by sizes, `fallbacks`,
`kernel_count` and `source` describe the last one built (before any call, the one at size 1).
"""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

from graphc.errors import BackendError
from graphc.executable import Executable, Signature
from graphc.types import TensorType

INSTALL = "pip install 'graphc[gpu]' (triton 3.x and torch)"


def _require_torch():
    try:
        import torch
    except ImportError:
        raise BackendError(f"the Triton backend needs torch, which is not installed: {INSTALL}") from None
    return torch


def _require_triton(mode: str):
    """Import triton; under the interpreter its own library must have been defined interpreted."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        raise BackendError(f"the Triton backend needs triton, which is not installed: {INSTALL}") from None
    from triton.runtime.interpreter import InterpretedFunction

    if mode == "interpret" and not isinstance(tl.standard.sigmoid, InterpretedFunction):
        raise BackendError("triton was imported before TRITON_INTERPRET=1 was set, so its library is compiled "
                           "for a GPU driver: set TRITON_INTERPRET=1 before importing triton (or let graphc "
                           "import it first)")
    return triton


def choose_device(target: str, interpret: bool | None) -> str:
    """"cuda" or "interpret" for `target` ("auto", "cuda", "interpret"), or a BackendError."""
    torch = _require_torch()
    gpu = torch.cuda.is_available()
    env = os.environ.get("TRITON_INTERPRET") == "1"
    if target == "cuda" or (target == "auto" and gpu and not interpret and not env):
        if not gpu:
            raise BackendError("target 'cuda' of the Triton backend needs a CUDA GPU, and torch sees none "
                               f"(torch {torch.__version__}); run on a GPU with a CUDA build of torch, or "
                               "pass interpret=True to run the kernels on the CPU interpreter")
        if env:
            raise BackendError("TRITON_INTERPRET=1 is set, so triton would interpret the kernels on the CPU: "
                               "unset it to run on the GPU, or ask for target='interpret'")
        _require_triton("cuda")
        return "cuda"
    if not (interpret or env or target == "interpret"):
        raise BackendError("the Triton backend found no CUDA GPU (torch.cuda.is_available() is False): run on "
                           "a GPU, or pass interpret=True (or set TRITON_INTERPRET=1) to run the kernels on "
                           "triton's CPU interpreter")
    # triton reads the variable when a kernel is defined, its own library's included
    os.environ["TRITON_INTERPRET"] = "1"
    _require_triton("interpret")
    return "interpret"


def _import(path, key):
    name = f"graphc_triton_{key}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules[name] = mod
    return mod


class TritonExecutable(Executable):
    """A compiled model on Triton kernels (see `Executable` for how it is called)."""

    def __init__(self, graph, *, mode: str, label: str = "model", kernels: bool = True, compiled: bool = False,
                 autotune: bool | None = None):
        import torch

        self.graph, self.mode = graph, mode
        # kernels=False: every node a torch call (the peer benchmarks compare with), torch.compile'd
        # when `compiled`; mode is then the device the torch calls run on ("cuda" or "cpu")
        self.kernels, self.compiled, self.autotune = kernels, compiled, autotune
        self.torch_device = torch.device("cuda" if mode == "cuda" else "cpu")
        signature = Signature(tuple((n, graph.type_of((n, 0))) for n in graph.inputs),
                              tuple((n, graph.type_of(v)) for n, v in graph.outputs))
        super().__init__(signature, device="cuda" if mode == "cuda" else "cpu", backend="triton", label=label)
        self.programs = {}  # sizes of the symbolic dims -> (Program, module, weights)
        self._last = None
        symbolic = [d for _, t in signature.inputs if isinstance(t, TensorType) and t.shape
                    for d in t.shape if isinstance(d, str)]
        if not symbolic:
            self._program({})  # no symbols: the one program is built now, so compile reports it

    @property
    def provider(self) -> str:
        if not self.kernels:
            return f"torch-{'compile' if self.compiled else 'eager'}-{self.torch_device.type}"
        return "triton-interpreter" if self.mode == "interpret" else "triton-cuda"

    @property
    def fallbacks(self) -> list:
        """(node, op, why) of the nodes the last program runs as torch ops."""
        return self._program_info().fallbacks

    @property
    def kernel_count(self) -> int:
        return self._program_info().kernel_count

    @property
    def source(self) -> str:
        return self._program_info().source

    def _program_info(self):
        if self._last is None:  # symbolic dims and no call yet: describe the program at size 1
            self._program({d: 1 for _, t in self.signature.inputs if isinstance(t, TensorType) and t.shape
                           for d in t.shape if isinstance(d, str)})
        return self._last[0]

    def program(self, sizes: dict):
        """The Program for symbol sizes `sizes`, built and cached when first asked for."""
        return self._program(dict(sizes))[0]

    def _program(self, sizes: dict):
        key = tuple(sorted(sizes.items()))
        if key not in self.programs:
            import torch

            from graphc.lower.triton import lower
            from graphc.lower.triton.cache import path_for, store

            prog, g = lower(self.graph, interpret=self.mode == "interpret", sizes=sizes, kernels=self.kernels,
                            autotune=self.autotune)
            path = path_for(prog.key)
            if not path.exists() or path.read_text() != prog.source:
                path = store(prog.key, prog.source)
            mod = _import(path, prog.key)
            weights = {c: torch.tensor(np.ascontiguousarray(g.const_value((c, 0))), device=self.torch_device)
                       for c in prog.weights}
            forward = torch.compile(mod.forward) if self.compiled else mod.forward
            self.programs[key] = (prog, forward, weights)
        self._last = self.programs[key]
        return self._last

    def _sizes(self, feed):
        sizes = {}
        for name, t in self.signature.inputs:
            if isinstance(t, TensorType) and t.shape:
                for d, n in zip(t.shape, feed[name].shape):
                    if isinstance(d, str):
                        sizes[d] = int(n)
        return sizes

    def _execute(self, feed: dict) -> list:
        import torch

        torch_in = any(isinstance(a, torch.Tensor) for a in feed.values())
        _, forward, weights = self._program(self._sizes(feed))
        args = []
        for name in self.signature.input_names:
            a = feed[name]
            a = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
            args.append(a.to(self.torch_device).contiguous())
        try:
            # the interpreter computes masked-off lanes too (0/0 there is harmless): no numpy warnings
            with np.errstate(all="ignore"):
                outs = forward(weights, *args)
        except Exception as e:
            raise BackendError(f"{self.label}: the Triton program failed: {type(e).__name__}: "
                               f"{str(e).strip().splitlines()[0][:300] if str(e).strip() else ''}") from e
        if torch_in:
            return outs
        return [o.detach().cpu().numpy() for o in outs]

    def bind(self, args, kwargs) -> dict:
        """As `Executable.bind`, letting torch tensors through (checked by their numpy view's shape)."""
        import torch

        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            kwargs, args = dict(args[0]), ()
        tensors = {}
        names = self.signature.input_names
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor) and i < len(names):
                tensors[names[i]] = a
        for k, a in kwargs.items():
            if isinstance(a, torch.Tensor):
                tensors[k] = a
        if not tensors:
            return super().bind(args, kwargs)
        # check shapes and dtypes on empty stand-ins, then hand the tensors themselves on
        stand_in = lambda a: np.empty(tuple(a.shape), dtype=_np_dtype(a.dtype)) if isinstance(a, torch.Tensor) else a
        feed = super().bind([stand_in(a) for a in args], {k: stand_in(a) for k, a in kwargs.items()})
        feed.update(tensors)
        return feed


def torch_program(graph, device: str = "auto", compiled: bool = False, label: str | None = None) -> TritonExecutable:
    """`graph` as a program of torch calls, one per node (no kernels, no triton needed), on `device`
    ("cpu", "cuda", or "auto": the GPU when torch sees one), under `torch.compile` when `compiled`:
    the torch-eager and torch.compile peers of `graphc bench --target triton`."""
    torch = _require_torch()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BackendError(f"a torch program on 'cuda' needs a CUDA GPU, and torch {torch.__version__} sees none")
    return TritonExecutable(graph, mode="cuda" if device == "cuda" else "cpu", kernels=False, compiled=compiled,
                            label=label or graph.meta.get("source") or f"graph {graph.name!r}")


def _np_dtype(torch_dtype):
    import torch

    return {torch.float32: np.float32, torch.float16: np.float16, torch.float64: np.float64,
            torch.int64: np.int64, torch.int32: np.int32, torch.bool: np.bool_,
            torch.uint8: np.uint8, torch.int8: np.int8}.get(torch_dtype, np.float32)


class TritonBackend:
    """The registry's "triton" backend: generated Triton kernels with torch fallbacks."""

    name = "triton"
    targets = ("auto", "cuda", "interpret")
    options = {
        "interpret": "run the kernels on triton's CPU interpreter (sets TRITON_INTERPRET=1); default: only "
                     "when no GPU is visible and TRITON_INTERPRET=1 is set",
        "autotune": "let triton.autotune time a small space of block sizes for the matmul, conv and attention "
                    "templates on their first launch; default: on a GPU, not under the interpreter",
    }

    def compile(self, graph, target: str = "auto", interpret: bool | None = None,
                autotune: bool | None = None) -> TritonExecutable:
        mode = choose_device(target, interpret)
        return TritonExecutable(graph, mode=mode, label=graph.meta.get("source") or f"graph {graph.name!r}",
                                autotune=autotune)

    def report(self) -> dict:
        out = {}
        for mod in ("triton", "torch"):
            try:
                out[mod] = __import__(mod).__version__
            except ImportError:
                out[mod] = "not installed"
        if out["torch"] != "not installed":
            import torch

            out["cuda"] = torch.cuda.is_available()
        out["TRITON_INTERPRET"] = os.environ.get("TRITON_INTERPRET", "")
        return out
