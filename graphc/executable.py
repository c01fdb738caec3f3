"""What every backend's compiled model is: an `Executable` called with arrays, returning arrays.

The part that does not depend on the backend lives here, once: binding positional, keyword or
dict arguments to the signature, and checking each array's dtype and shape (symbolic dims must
agree across inputs) before the backend sees it, so a wrong input is a `graphc.InputError` that
says what was expected, whichever backend runs. A backend implements `_execute(feed)`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphc.errors import InputError
from graphc.types import OpaqueType, TensorType


@dataclass(frozen=True)
class Signature:
    """Input and output names with their types (`TensorType` or `OpaqueType`), in order."""

    inputs: tuple[tuple[str, object], ...]
    outputs: tuple[tuple[str, object], ...]

    @property
    def input_names(self) -> list[str]:
        return [n for n, _ in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [n for n, _ in self.outputs]

    def describe_inputs(self) -> str:
        return ", ".join(f"{n}: {t}" for n, t in self.inputs)


def check_input(name: str, t, arr: np.ndarray, sizes: dict) -> None:
    """Raise InputError when `arr` does not fit type `t`; `sizes` collects symbolic dims."""
    if not isinstance(t, TensorType):
        return
    if t.dtype is not None and arr.dtype != t.dtype:
        raise InputError(f"input {name!r} has dtype {arr.dtype}, expected {t.dtype} "
                         f"(convert it with .astype(np.{t.dtype.name}))")
    if t.shape is None:
        return
    if arr.ndim != len(t.shape):
        raise InputError(f"input {name!r} has shape {list(arr.shape)} (rank {arr.ndim}), expected rank "
                         f"{len(t.shape)}: {t}")
    for axis, (want, have) in enumerate(zip(t.shape, arr.shape)):
        if isinstance(want, int) and want != have:
            raise InputError(f"input {name!r} has shape {list(arr.shape)}, expected {t} "
                             f"(dimension {axis} must be {want})")
        if isinstance(want, str):
            seen = sizes.setdefault(want, (have, name))
            if seen[0] != have:
                raise InputError(f"input {name!r} has {want}={have} in dimension {axis}, but input "
                                 f"{seen[1]!r} has {want}={seen[0]}; they must agree")


class Executable:
    """A compiled model. Call it with arrays (positional, by name, or one dict by name): one output
    comes back as an array, several as a list in output order; `run` gives {name: array}.

    `signature` is what it takes and gives, `device` the target it really runs on ("cpu",
    "cuda": after a fallback not the one asked for), `backend` the registry name of its backend,
    `label` what its errors call the model. A backend subclasses it and implements `_execute`.
    """

    def __init__(self, signature: Signature, *, device: str, backend: str, label: str = "model",
                 slow_dtypes=()):
        """`slow_dtypes`: input dtype names the backend must always see through `bind`."""
        self.signature, self.device, self.backend, self.label = signature, device, backend, label
        # the fast path's plan, per input: (name, dtype, rank, fixed dims, symbolic dims); none
        # when an input is not a plain tensor
        plan = []
        for name, t in signature.inputs:
            if not isinstance(t, TensorType) or t.dtype is None or t.shape is None or t.dtype.name in slow_dtypes:
                plan = ()
                break
            plan.append((name, t.dtype, len(t.shape),
                         tuple((i, d) for i, d in enumerate(t.shape) if isinstance(d, int)),
                         tuple((i, d) for i, d in enumerate(t.shape) if isinstance(d, str))))
        self._plan = plan

    def _execute(self, feed: dict) -> list:
        """The outputs, in signature order, for a checked {input name: array}."""
        raise NotImplementedError(f"{type(self).__name__} must implement _execute")

    def _execute_plain(self, feed: dict) -> list:
        """`_execute` for a feed the fast path vetted: every input a numpy array of its declared
        dtype, none of `slow_dtypes`; a backend may skip checks of its own there."""
        return self._execute(feed)

    @property
    def provider(self) -> str:
        """The backend's own name for what runs it (ONNX Runtime's execution provider, ...)."""
        return self.device

    @property
    def input_names(self) -> list[str]:
        return self.signature.input_names

    @property
    def output_names(self) -> list[str]:
        return self.signature.output_names

    def bind(self, args, kwargs) -> dict:
        """{input name: array} for a call's arguments, checked against the signature."""
        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            kwargs, args = dict(args[0]), ()
        inputs = self.signature.inputs
        if len(args) > len(inputs):
            raise InputError(f"{self.label} takes {len(inputs)} inputs ({self.signature.describe_inputs()}), "
                             f"got {len(args)}")
        feed = {name: a for (name, _), a in zip(inputs, args)}
        types = dict(inputs)
        for k, a in kwargs.items():
            if k not in types:
                raise InputError(f"{self.label} has no input {k!r}; its inputs are {self.signature.describe_inputs()}")
            if k in feed:
                raise InputError(f"input {k!r} given both by position and by name")
            feed[k] = a
        missing = [f"{n}: {t}" for n, t in inputs if n not in feed]
        if missing:
            raise InputError(f"{self.label} is missing inputs: {', '.join(missing)}")
        sizes: dict = {}
        for name, t in inputs:
            arr = feed[name]
            if isinstance(t, OpaqueType):
                continue  # sequences, optionals, maps: the backend checks them itself
            if not isinstance(arr, np.ndarray):
                given, arr = arr, np.asarray(arr)
                if isinstance(t, TensorType) and t.dtype is not None and (
                        arr.dtype.kind == t.dtype.kind or np.isscalar(given)):
                    arr = arr.astype(t.dtype)  # python scalars and lists take the declared dtype
                feed[name] = arr
            check_input(name, t, arr, sizes)
        return feed

    def _fast_feed(self, args):
        """The feed for positional arrays that plainly match the signature, else None.

        Small models run in tens of microseconds, so the checks a call pays for must be cheap:
        anything unusual goes the full way through `bind`, which also words the errors.
        """
        if len(args) != len(self._plan):
            return None
        feed, sizes = {}, None
        for a, (name, dtype, rank, fixed, symbols) in zip(args, self._plan):
            if type(a) is not np.ndarray or a.dtype != dtype or a.ndim != rank:
                return None
            shape = a.shape
            for axis, size in fixed:
                if shape[axis] != size:
                    return None
            if symbols:
                sizes = {} if sizes is None else sizes
                for axis, sym in symbols:
                    if sizes.setdefault(sym, shape[axis]) != shape[axis]:
                        return None
            feed[name] = a
        return feed

    def run(self, *args, **kwargs) -> dict:
        """Run and return {output name: array}."""
        return dict(zip(self.signature.output_names, self._execute(self.bind(args, kwargs))))

    def __call__(self, *args, **kwargs):
        feed = self._fast_feed(args) if not kwargs else None
        outs = self._execute_plain(feed) if feed is not None else self._execute(self.bind(args, kwargs))
        return outs[0] if len(outs) == 1 else outs
