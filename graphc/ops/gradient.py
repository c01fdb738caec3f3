"""Gradient rules: how reverse-mode autodiff differentiates one op, registered on its registry entry.

A rule is written next to the op's type inference, in its family file:

    @gradient("Mul")
    def _mul_grad(ctx: GradContext) -> list[Value | None]:
        g = ctx.output_grads[0]
        a, b = ctx.inputs
        return [ctx.unbroadcast(ctx.emit("Mul", g, b), 0), ctx.unbroadcast(ctx.emit("Mul", g, a), 1)]

`ctx` shows the forward node (its input and output values and types, its attributes), the
gradient flowing into each of its outputs (`output_grads`, None where none flows), and which
input gradients the caller wants (`needs(i)`). The rule emits backward nodes of standard ONNX
ops into the node's own graph with `ctx.emit` / `ctx.const` and returns one value per formal
input: the gradient of the loss with respect to that input, shaped like it, or None (no
gradient: an integer index, a shape, an input the caller does not want). A node with a body
(Scan) may return one more value per captured outer value (`ctx.captures`, asked for as
`needs(len(inputs) + k)`). It is called only when at least one output gradient is not None
(`input_gradients` answers all None otherwise).

`register_gradient` refuses an op the registry does not know (add its `@register` first) and a
second rule for the same op. `input_gradients` runs the rule of one node and checks its answer;
it refuses an opaque op or one without a rule with an error naming the node and the op.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from graphc.errors import RegistryError, ShapeError, UnsupportedOpError
from graphc.ops.registry import lookup, op_label, same_function
from graphc.types import types_compatible

GradRule = Callable[["GradContext"], Sequence]


def register_gradient(op: str, rule: GradRule, domain: str = "") -> GradRule:
    """Make `rule` the gradient rule of the registered op `op`."""
    spec = lookup(op, domain)
    if spec is None:
        raise RegistryError(f"cannot register a gradient rule for {op_label(op, domain)!r}: the op registry "
                            f"does not know it; register its type inference with @register first")
    if spec.grad is not None and not same_function(spec.grad, rule):
        raise RegistryError(f"op {op_label(op, domain)} already has a gradient rule "
                            f"({spec.grad.__module__}.{spec.grad.__qualname__}): keep one rule per op")
    spec.grad = rule
    return rule


def gradient(*ops: str, domain: str = ""):
    """Decorator: register the function as the gradient rule of each op in `ops`."""

    def deco(rule: GradRule) -> GradRule:
        for op in ops:
            register_gradient(op, rule, domain)
        return rule

    return deco


class GradContext:
    """What a gradient rule sees of one forward node, and where it writes the backward nodes.

    - `graph`, `node`, `op`, `domain`, `attrs`: the forward node; backward nodes go into `graph`;
    - `inputs`, `input_types`: its formal input values (None for an absent optional input);
    - `captures`: the outer values its body graphs read (its trailing capture inputs);
    - `outputs`, `output_types`: its output values;
    - `output_grads`: per output, the gradient flowing into it (a value shaped like the output) or None;
    - `vjp`: autodiff's `vjp` (given by the caller: the registry sits below autodiff).
    """

    def __init__(self, graph, node: str, output_grads: Sequence, wanted: Sequence[bool] | None = None,
                 vjp: Callable | None = None):
        d = graph.data(node)
        self.vjp = vjp  # graphc.autodiff.vjp, for a rule that differentiates a body graph (Scan)
        self.graph, self.node, self.op, self.domain, self.attrs = graph, node, d["op"], d["domain"], d["attrs"]
        values = graph.input_values(node)
        self.inputs = values[: d["n_inputs"] - d["captures"]]
        self.captures = values[d["n_inputs"] - d["captures"]:]
        self.input_types = [None if v is None else graph.type_of(v) for v in self.inputs]
        self.outputs = [(node, i) for i in range(len(d["outputs"]))]
        self.output_types = list(d["outputs"])
        self.output_grads = list(output_grads) + [None] * (len(self.outputs) - len(output_grads))
        every = self.inputs + self.captures
        self.wanted = [v is not None for v in every] if wanted is None else \
            [bool(w) and v is not None for w, v in zip(wanted, every)]

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    def needs(self, i: int) -> bool:
        """Whether the caller wants the gradient of input `i` (a rule may skip the others)."""
        return i < len(self.wanted) and self.wanted[i]

    def emit(self, op: str, *inputs, n_outputs: int = 1, **attrs):
        """Add a backward node (a standard ONNX op) reading `inputs`; its value, or a list of them."""
        key = self.graph.add_node(op, list(inputs), attrs, name=f"{self.node}/grad/{op}", n_outputs=n_outputs)
        return (key, 0) if n_outputs == 1 else [(key, i) for i in range(n_outputs)]

    def const(self, value, dtype=None):
        """A constant; `dtype` defaults to that of the node's first output."""
        dtype = dtype if dtype is not None else (self.output_types[0].dtype or np.float32)
        return self.graph.add_constant(np.asarray(value, dtype=dtype), name=f"{self.node}/grad/const")

    def ints(self, values):
        return self.const(np.asarray(values, np.int64), np.int64)

    def fail(self, msg: str):
        raise UnsupportedOpError(f"node {self.node!r} ({op_label(self.op, self.domain)}): cannot differentiate: {msg}")

    def unbroadcast(self, grad, i: int):
        """`grad` (shaped like the broadcast result) summed down to the shape of input `i`."""
        gshape, xshape = self.graph.type_of(grad).shape, self.input_types[i].shape
        if gshape is None or xshape is None:
            self.fail(f"input {i} or its gradient has an unknown rank, so the broadcast axes are unknown")
        lead = len(gshape) - len(xshape)
        axes = list(range(lead))
        for j, (xd, gd) in enumerate(zip(xshape, gshape[lead:])):
            if xd == gd:
                continue
            if xd != 1:  # a symbol or unknown dim: it may be 1 (broadcast) or the same as the output's
                return self._unbroadcast_at_run_time(grad, i, lead)
            axes.append(lead + j)
        if not axes:
            return grad
        out = self.emit("ReduceSum", grad, self.ints(axes), keepdims=1)
        return self.emit("Squeeze", out, self.ints(list(range(lead)))) if lead else out

    def _unbroadcast_at_run_time(self, grad, i: int, lead: int):
        """Input `i`'s gradient when its shapes leave the broadcast axes unknown until run time
        (a symbolic dim against an unknown one): the leading axes summed, then every axis where
        the input is 1 and the gradient is not."""
        if lead:
            grad = self.emit("ReduceSum", grad, self.ints(list(range(lead))), keepdims=0)
        one = self.ints(1)
        spread = self.emit("And", self.emit("Equal", self.emit("Shape", self.inputs[i]), one),
                           self.emit("Not", self.emit("Equal", self.emit("Shape", grad), one)))
        axes = self.emit("Reshape", self.emit("NonZero", spread), self.ints([-1]))
        return self.emit("ReduceSum", grad, axes, keepdims=1, noop_with_empty_axes=1)


def input_gradients(graph, node: str, output_grads: Sequence, wanted: Sequence[bool] | None = None,
                    vjp: Callable | None = None) -> list:
    """Run the gradient rule of `node`: one gradient value (or None) per formal input, then one per
    captured outer value."""
    d = graph.data(node)
    label = op_label(d["op"], d["domain"])
    spec = lookup(d["op"], d["domain"])
    if spec is None:
        raise UnsupportedOpError(f"node {node!r}: {label} is opaque to graphc (not in the op registry), so it "
                                 f"cannot be differentiated; mark its inputs as not trainable or replace the op")
    if spec.grad is None:
        raise UnsupportedOpError(f"node {node!r}: {label} has no gradient rule; register one with "
                                 f"@gradient({d['op']!r}) in its family file")
    ctx = GradContext(graph, node, output_grads, wanted, vjp)
    every = ctx.inputs + ctx.captures
    if all(g is None for g in ctx.output_grads):  # no gradient reaches the node
        return [None] * len(every)
    grads = list(spec.grad(ctx))
    if len(grads) not in (len(ctx.inputs), len(every)):
        raise ShapeError(f"node {node!r} ({label}): its gradient rule returned {len(grads)} values "
                         f"for {len(ctx.inputs)} inputs")
    grads += [None] * (len(every) - len(grads))
    types = ctx.input_types + [graph.type_of(v) for v in ctx.captures]
    for i, (g, t) in enumerate(zip(grads, types)):
        if g is not None and t is not None and not types_compatible(graph.type_of(g), t):
            have = graph.type_of(g)
            raise ShapeError(f"node {node!r} ({label}): the gradient of input {i} is typed {have}, "
                             f"the input {t}")
    return [g if ctx.needs(i) else None for i, g in enumerate(grads)]


__all__ = ["GradContext", "GradRule", "gradient", "input_gradients", "register_gradient"]
