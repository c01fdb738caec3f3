"""The operator registry: one `OpSpec` per operator, holding what every stage needs about it.

An entry is made with `@register("Name", ...)` on its type-inference function, in the file of its
op family. Type inference gets an `InferContext` (input types, attributes, constant inputs) and
returns one `Type` per output; `traits` (see `TRAITS`) state facts about the op that passes act
on, once. The op's gradient rule is added next to it with `@gradient("Name")`
(`graphc/ops/gradient.py`). How a back end writes or lowers an op is not here: each back end
owns that table (`graphc/lower/onnx_forms.py` for ONNX). An op missing here is *opaque*: its types come from ONNX's shape
inference and only ONNX Runtime can run it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import onnx

from graphc.errors import RegistryError, ShapeError
from graphc.types import TensorType, Type


# What an entry may say of its op, read by the passes (and by autodiff and code generators):
TRAITS = {
    "pointwise": "each output element comes from the same (broadcast) element of its data inputs; no axis",
    "unary": "one data input; any other input is a scalar parameter (Clip's bounds)",
    "nary": "every input is data, broadcast together (multidirectional; PRelu's slope unidirectional)",
    "commutative": "two operands may be swapped without changing a bit of the result",
    "nondeterministic": "the result is not a function of the inputs (random): never folded, merged or moved",
    "reduce_axes": "reduces over the axes of its `axes` argument (input 1 or attribute), `keepdims`",
    "along_axis": "works along its `axis` attribute, each slice across the other axes alone (Softmax)",
}


@dataclass
class OpSpec:
    name: str
    domain: str
    infer: Callable[["InferContext"], list]
    traits: frozenset = frozenset()  # names from TRAITS
    grad: Callable | None = None  # rule(ctx: GradContext) -> list[Value | None]; see ops/gradient.py


REGISTRY: dict[tuple[str, str], OpSpec] = {}


def same_function(a: Callable, b: Callable) -> bool:
    """Whether `a` and `b` are one definition (a module reloaded defines its functions anew)."""
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def op_label(op: str, domain: str = "") -> str:
    return f"{domain}.{op}" if domain else op


def register(*names: str, domain: str = "", traits: tuple[str, ...] = ()):
    """Decorator: register `fn` as the type inference of each op in `names`, with `traits`."""
    unknown = set(traits) - set(TRAITS)
    if unknown:
        raise RegistryError(f"unknown op traits {sorted(unknown)} for {', '.join(names)}; known: {', '.join(TRAITS)}")

    def deco(fn):
        for n in names:
            old = REGISTRY.get((domain, n))
            if old is not None and not same_function(old.infer, fn):
                raise RegistryError(f"op {op_label(n, domain)} is registered twice ({old.infer.__module__} and "
                                    f"{fn.__module__}): keep one entry per op")
            # a reloaded family keeps the gradient rule registered on its entry
            REGISTRY[(domain, n)] = OpSpec(n, domain, fn, frozenset(traits), old.grad if old is not None else None)
        return fn

    return deco


def lookup(op: str, domain: str = "") -> OpSpec | None:
    return REGISTRY.get((domain if domain != "ai.onnx" else "", op))


def traits_of(op: str, domain: str = "") -> frozenset:
    """The traits of `op` (none for an opaque op)."""
    spec = REGISTRY.get((domain if domain != "ai.onnx" else "", op))
    return spec.traits if spec is not None else frozenset()


class InferContext:
    """What a type-inference rule sees of one node."""

    def __init__(self, graph, node: str, n_outputs: int):
        d = graph.data(node)
        self.graph, self.node, self.op = graph, node, d["op"]
        self.attrs = d["attrs"]
        self.values = graph.input_values(node)[: d["n_inputs"] - d["captures"]]
        self.types = [None if v is None else graph.type_of(v) for v in self.values]
        self.n_outputs = n_outputs
        self.opset = graph.opset_imports.get(d["domain"] or "", 1)

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    def has(self, i: int) -> bool:
        return i < len(self.values) and self.values[i] is not None

    def input(self, i: int) -> TensorType:
        t = self.types[i] if i < len(self.types) else None
        return t if t is not None else TensorType()

    def const(self, i: int):
        """Input `i` as a numpy array when it is a constant, else None."""
        return self.graph.const_value(self.values[i]) if self.has(i) else None

    def fail(self, msg: str):
        raise ShapeError(f"node {self.node!r} ({self.op}): {msg}")


def infer_node(graph, node: str, n_outputs: int = 1) -> list[Type] | None:
    """Output types of `node` by its registry rule, or None for an opaque op."""
    d = graph.data(node)
    spec = lookup(d["op"], d["domain"])
    if spec is None:
        return None
    ctx = InferContext(graph, node, n_outputs)
    try:
        out = spec.infer(ctx)
    except ShapeError as e:
        if repr(node) in str(e):
            raise
        raise ShapeError(f"node {node!r} ({d['op']}): {e}") from None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise ShapeError(f"node {node!r} ({d['op']}): cannot infer output types ({type(e).__name__}: {e})") from e
    out = list(out)
    if len(out) < n_outputs:
        out += [TensorType()] * (n_outputs - len(out))
    return out[: max(n_outputs, 1)] if n_outputs else out


@lru_cache(maxsize=None)
def schema_of(op: str, domain: str, opset: int):
    """ONNX's schema of `op` at `opset` (None when ONNX does not define it); cached, since the
    exporter and verify() ask for every node."""
    try:
        return onnx.defs.get_schema(op, opset, "" if domain == "ai.onnx" else domain)
    except Exception:
        return None


@lru_cache(maxsize=None)
def input_arity(op: str, domain: str, opset: int):
    """(indices of required input ports, number of formal inputs) from the ONNX schema, or None."""
    schema = schema_of(op, domain, opset) if domain in ("", "ai.onnx") else None
    if schema is None:
        return None
    FP = onnx.defs.OpSchema.FormalParameterOption
    required = tuple(i for i, p in enumerate(schema.inputs) if p.option == FP.Single)
    return required, len(schema.inputs)


# ---- helpers shared by the families -------------------------------------------------------

def onnx_dtype(elem_type: int):
    """numpy dtype of an ONNX element type (None for UNDEFINED)."""
    if not elem_type:
        return None
    return onnx.helper.tensor_dtype_to_np_dtype(int(elem_type))


def broadcast(*shapes):
    """numpy-style broadcast of shapes with symbolic and unknown dims (None if any rank unknown)."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if isinstance(d, int) and d != 1}
        if len(known) > 1:
            raise ShapeError(f"shapes {[list(s) for s in shapes]} do not broadcast")
        if known:
            out.append(known.pop())
        elif all(d == 1 for d in dims):
            out.append(1)
        else:
            syms = {d for d in dims if d != 1}
            out.append(syms.pop() if len(syms) == 1 else None)
    return tuple(out)


def norm_axis(axis: int, rank: int, ctx: InferContext | None = None) -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < max(rank, 1):
        msg = f"axis {axis} is out of range for rank {rank}"
        if ctx is not None:
            ctx.fail(msg)
        raise ShapeError(msg)
    return a


def same_as(i: int = 0):
    """Rule: one output with the type of input `i`."""

    def rule(ctx: InferContext):
        return [ctx.input(i)]

    return rule


def np_dtype(x):
    return None if x is None else np.dtype(x)
