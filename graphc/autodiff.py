"""Reverse-mode automatic differentiation over the IR, built symbolically from standard ONNX ops.

    from graphc.autodiff import gradient_graph, gradients, vjp

    grads = gradients(graph, loss)             # {variable name: gradient value}, nodes added to `graph`
    g = gradient_graph(graph, loss)            # a new Graph: outputs "loss", then "grad/<variable>"
    grads = vjp(graph, {y: dy}, wrt=["x"])     # vector-Jacobian products for given output gradients

How it works (micrograd's walk, over whole tensors):

1. *Forward reach.* Starting from the values asked for (`wrt`: the trainable Variables by default,
   or any list of values / source node names), mark every floating-point value that depends on one
   of them. Integer and boolean values (shapes, indices, masks) carry no gradient.
2. *Backward reach.* Keep only the marked nodes the loss depends on: nothing else gets a backward
   node, so a parameter the loss does not read gets no gradient built at all.
3. *Reverse walk.* Seed the loss with ones (a non-scalar loss is summed), then visit the kept nodes
   in reverse topological order. Each node's rule (its op family file, `@gradient`, see
   `graphc/ops/gradient.py`) gets the gradient flowing into each of its outputs and returns one per
   input; contributions to a value read several times are summed. An op without a rule, or an
   opaque op, raises `UnsupportedOpError` naming the op and node.

A Variable is trainable unless its node's `attrs["trainable"]` is False (frozen). Gradients are
plain values of the same graph, so a trainer can append an update graph after them, and the O2
passes can run over the result. ONNX Runtime's CPU build has no gradient kernels: every rule
writes standard ops (ConvTranspose for a convolution's input gradient, Gemm with transA/transB
for weights, Where for masks, ScatterElements for max pooling).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from graphc.errors import GraphError, InputError
from graphc.ir import Graph, Value
from graphc.ops.gradient import input_gradients
from graphc.types import merge_types


def is_float(t) -> bool:
    return getattr(t, "dtype", None) is not None and np.issubdtype(t.dtype, np.floating)


def trainable_variables(graph: Graph) -> list[str]:
    """The Variables a default `wrt` differentiates: all but the frozen ones, in graph order."""
    return [n for n in graph.variables()
            if graph.attrs(n).get("trainable", True) and is_float(graph.type_of((n, 0)))]


def _resolve_wrt(graph: Graph, wrt) -> list[tuple[str, Value]]:
    if wrt is None:
        return [(n, (n, 0)) for n in trainable_variables(graph)]
    out = []
    for w in ([wrt] if isinstance(wrt, (str, tuple)) else wrt):
        v = (w, 0) if isinstance(w, str) else tuple(w)
        if v[0] not in graph or v[1] >= len(graph.data(v[0])["outputs"]):
            raise InputError(f"autodiff: {w!r} is not a value of graph {graph.name!r}; give a node name or a "
                             f"(node, output) pair")
        if not is_float(graph.type_of(v)):
            raise InputError(f"autodiff: {graph.value_label(v)!r} is typed {graph.type_of(v)}; only floating-point "
                             f"values have gradients")
        out.append((v[0] if v[1] == 0 else graph.value_label(v), v))
    return out


def loss_value(graph: Graph, loss) -> Value:
    """`loss` (a value, node name or graph output name) as a float value of `graph`."""
    if isinstance(loss, str):
        named = [v for name, v in graph.outputs if name == loss]
        loss = named[0] if named else (loss, 0)
    loss = tuple(loss)
    if loss[0] not in graph:
        raise InputError(f"autodiff: the loss {loss!r} is not a value of graph {graph.name!r}")
    if not is_float(graph.type_of(loss)):
        raise InputError(f"autodiff: the loss {graph.value_label(loss)!r} is typed {graph.type_of(loss)}; "
                         f"it must be floating point")
    return loss


def _active_nodes(graph: Graph, ends: Iterable[Value], starts: Iterable[Value]) -> tuple[set, set]:
    """(values on a float path from `starts`, nodes among them that some value in `ends` depends on)."""
    active = set(starts)
    for n in graph.topo_order():
        if any(v in active for v in graph.input_values(n) if v is not None):
            d = graph.data(n)
            active.update((n, i) for i, t in enumerate(d["outputs"]) if is_float(t))
    needed, stack = set(), [v[0] for v in ends]
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        stack.extend(graph.feeders(n))
    nodes = {v[0] for v in active} & needed
    return active, nodes


def _total(graph: Graph, parts: list) -> Value:
    if len(parts) == 1:
        return parts[0]
    key = graph.add_node("Sum", parts, name=f"{parts[0][0]}/grad_sum")
    return (key, 0)


def _seed(graph: Graph, loss: Value) -> Value:
    t = graph.type_of(loss)
    one = graph.add_constant(np.ones((), t.dtype), name="grad/seed")
    if t.shape == ():
        return one
    shape = (graph.add_node("Shape", [loss], name="grad/seed_shape"), 0)
    return (graph.add_node("Expand", [one, shape], name="grad/seed"), 0)


def gradients(graph: Graph, loss, wrt=None, *, unconnected: str = "omit") -> dict[str, Value]:
    """Add the backward nodes of `loss` to `graph`; return {name: gradient value} for `wrt`.

    `loss`: a value, a node name or the name of a graph output; `wrt`: node names or values (None:
    the trainable Variables). A value the loss does not depend on gets no entry, or a zero
    constant when `unconnected="zeros"`.
    """
    loss = loss_value(graph, loss)
    return vjp(graph, {loss: _seed(graph, loss)}, wrt, unconnected=unconnected)


def vjp(graph: Graph, cotangents: dict, wrt=None, *, unconnected: str = "omit") -> dict[str, Value]:
    """Vector-Jacobian products: the gradients of sum(c * v) over {value v: cotangent value c}
    (each c shaped like its v) with respect to `wrt`, as `gradients` gives them for one loss."""
    if unconnected not in ("omit", "zeros"):
        raise InputError(f"autodiff: unconnected must be 'omit' or 'zeros', not {unconnected!r}")
    seeds = {loss_value(graph, v): c for v, c in cotangents.items()}
    targets = _resolve_wrt(graph, wrt)
    active, nodes = _active_nodes(graph, seeds, [v for _, v in targets])
    parts: dict[Value, list] = {v: [c] for v, c in seeds.items() if v in active}
    wanted_sources = {v for _, v in targets}
    for n in reversed(graph.topo_order()):
        if n not in nodes:
            continue
        d = graph.data(n)
        outs = [_total(graph, parts.pop((n, i))) if (n, i) in parts else None for i in range(len(d["outputs"]))]
        for i, gv in enumerate(outs):  # a requested value keeps its gradient
            if gv is not None and (n, i) in wanted_sources:
                parts[(n, i)] = [gv]
        if graph.is_source(n) or not d["n_inputs"] or all(o is None for o in outs):  # a leaf (a body's Capture)
            continue
        inputs = graph.input_values(n)  # formal inputs, then the outer values a body captures
        wanted = [v is not None and v in active for v in inputs]
        for v, gv in zip(inputs, input_gradients(graph, n, outs, wanted, vjp)):
            if gv is not None:
                # a gradient is shaped like its value: say so where a rule's Reshape left dims unknown
                graph.set_output_type(gv, merge_types(graph.type_of(v), graph.type_of(gv)))
                parts.setdefault(v, []).append(gv)
    result = {}
    for name, v in targets:
        if v in parts:
            result[name] = _total(graph, parts[v])
        elif unconnected == "zeros":
            t = graph.type_of(v)
            if not t.is_static:
                raise GraphError(f"autodiff: {name!r} does not reach the loss and its shape {t} is not static, "
                                 f"so no zero gradient can be made")
            result[name] = graph.add_constant(np.zeros(t.shape, t.dtype), name=f"grad/{name}/zeros")
    return result


def gradient_graph(graph: Graph, loss, wrt=None, *, unconnected: str = "omit", loss_name: str = "loss",
                   keep_outputs: bool = False) -> Graph:
    """A copy of `graph` whose outputs are the loss, then `grad/<name>` for each gradient, then
    (with `keep_outputs`) the graph's own outputs: predictions, state updates.

    Nodes no output needs are dropped; Inputs and Variables stay.
    """
    from graphc.passes.dce import DeadCodeElimination  # passes are graphc's own; no back end

    g = graph.copy()
    loss = loss_value(g, loss)
    grads = gradients(g, loss, wrt, unconnected=unconnected)
    own = list(g.outputs) if keep_outputs else []
    g.outputs = []
    for name, v in [(loss_name, loss)] + [(f"grad/{n}", v) for n, v in grads.items()] + own:
        if g.is_source(v[0]) or g.is_output(v):  # an exported output must be a node's own value
            v = (g.add_node("Identity", [v], name=f"{name}/out"), 0)
        g.add_output(name, v)
    DeadCodeElimination().run(g)
    return g


__all__ = ["gradient_graph", "gradients", "is_float", "loss_value", "trainable_variables", "vjp"]
