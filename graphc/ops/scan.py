"""Scan (opset 9 and later): its type inference and its gradient rule.

Types: a Scan with N state variables and M scan inputs gives the N final states, typed as the
body's state outputs, then one stacked scan output per further body output, the iteration count
(the scan inputs' length along their axes) inserted at its `scan_output_axes` position. Symbols of
the body's types take the sizes the outer inputs give them (a body says "batch" where the outer
graph, once specialized, says 4).

Gradient: reverse mode through the loop. The forward Scan is widened to emit, as extra scan
outputs (axis 0, in iteration order), the state each iteration read. The backward is a second
Scan running the iterations in reverse over those saved states, the same step inputs and the
gradients flowing into the step outputs. Its body is the forward body again (ONNX keeps no
intermediates of a step, so the step is recomputed) followed by that body's backward nodes,
built by `graphc.autodiff.vjp` on the body graph (as `ctx.vjp`). Carried: the gradient of each
float state (seeded with the gradient of the final state) and a running sum of the gradient of
each captured outer value the caller wants (the weights); scanned out: the gradient of each
wanted step input, laid out as the forward read it. The final carried values are the gradients of the
initial states and of the captured values. Opset 8's batch-major Scan is refused.
"""
from __future__ import annotations

import numpy as np

from graphc.ops.gradient import gradient
from graphc.ops.registry import register
from graphc.types import TensorType, merge_types


def _layout(attrs: dict, n_formal: int):
    """(body, N states, M scan inputs, K scan outputs, input axes, input directions, output axes,
    output directions), the optional lists filled with ONNX's defaults."""
    body = attrs["body"]
    m = int(attrs["num_scan_inputs"])
    n = n_formal - m
    k = len(body.outputs) - n
    return (body, n, m, k, list(attrs.get("scan_input_axes") or [0] * m),
            list(attrs.get("scan_input_directions") or [0] * m), list(attrs.get("scan_output_axes") or [0] * k),
            list(attrs.get("scan_output_directions") or [0] * k))


def _unify(inner, outer, sizes: dict) -> None:
    """Record the size or symbol `outer` gives each symbol of `inner`."""
    if not isinstance(inner, TensorType) or not isinstance(outer, TensorType):
        return
    if inner.shape is None or outer.shape is None or len(inner.shape) != len(outer.shape):
        return
    for a, b in zip(inner.shape, outer.shape):
        if isinstance(a, str) and b is not None and (a not in sizes or isinstance(b, int)):
            sizes[a] = b


def _subst(t, sizes: dict):
    if not isinstance(t, TensorType) or t.shape is None:
        return t
    return TensorType(t.dtype, tuple(sizes.get(d, d) if isinstance(d, str) else d for d in t.shape))


def _captures_of(body) -> dict[int, str]:
    """{capture index: node} of a body's Capture nodes (graphc.ir.CAPTURE; the registry sits below the IR)."""
    return {body.attrs(n)["index"]: n for n in body.nodes()
            if body.op(n) == "Capture" and body.data(n)["domain"] == "graphc"}


def _is_float(t) -> bool:
    return getattr(t, "dtype", None) is not None and np.issubdtype(t.dtype, np.floating)


def _length_and_sizes(body, n, m, in_axes, state_types, scan_types, capture_types):
    """(the iteration count as a dim, {body symbol: outer dim})."""
    sizes, length = {}, None
    inner = [body.type_of((i, 0)) for i in body.inputs]
    for i in range(n):
        _unify(inner[i], state_types[i], sizes)
    for j in range(m):
        t = scan_types[j]
        if not isinstance(t, TensorType) or t.shape is None:
            continue
        a = in_axes[j] % len(t.shape)
        if length is None or (not isinstance(length, int) and t.shape[a] is not None):
            length = t.shape[a]
        _unify(inner[n + j], TensorType(t.dtype, t.shape[:a] + t.shape[a + 1:]), sizes)
    for k, node in _captures_of(body).items():
        if k < len(capture_types):
            _unify(body.type_of((node, 0)), capture_types[k], sizes)
    return length, sizes


def _stacked(t, length, axis: int):
    """`t` with the iteration count inserted at `axis` (negative: from the end)."""
    if not isinstance(t, TensorType) or t.shape is None:
        return TensorType(getattr(t, "dtype", None))
    a = axis % (len(t.shape) + 1)
    return TensorType(t.dtype, t.shape[:a] + (length,) + t.shape[a:])


@register("Scan")
def _scan(ctx):
    if ctx.opset < 9:
        return [TensorType()] * ctx.n_outputs
    body, n, m, k, in_axes, _, out_axes, _ = _layout(ctx.attrs, len(ctx.values))
    captures = ctx.graph.input_values(ctx.node)[len(ctx.values):]
    length, sizes = _length_and_sizes(body, n, m, in_axes, [ctx.input(i) for i in range(n)],
                                      [ctx.input(n + j) for j in range(m)],
                                      [ctx.graph.type_of(v) for v in captures])
    outs = [_subst(body.type_of(v), sizes) for _, v in body.outputs]
    states = [merge_types(ctx.input(i), outs[i]) if ctx.input(i).dtype is not None else outs[i] for i in range(n)]
    return states + [_stacked(outs[n + l], length, out_axes[l]) for l in range(k)]


def _zeros_like(g, v, name: str):
    t = g.type_of(v)
    shape = (g.add_node("Shape", [v], name=f"{name}/shape"), 0)
    return (g.add_node("ConstantOfShape", [shape], {"value": np.zeros(1, t.dtype)}, outputs=[t], name=name), 0)


def _own(g, v, name: str):
    """`v`, or an Identity of it where a graph output must be a node's own value."""
    if g.is_source(v[0]) or g.is_output(v):
        return (g.add_node("Identity", [v], name=name), 0)
    return v


def _save_states(g, node: str, n: int, length) -> list:
    """Widen the forward Scan `node` to also emit, stacked on axis 0, the state each iteration read."""
    d = g.data(node)
    body = d["attrs"]["body"].copy()
    for name in body.inputs[:n]:
        body.add_output(f"{name}_saved", (body.add_node("Identity", [(name, 0)], name=f"{name}_saved"), 0))
    *_, out_axes, out_dirs = _layout(d["attrs"], d["n_inputs"] - d["captures"])
    d["attrs"] = {**d["attrs"], "body": body, "scan_output_axes": out_axes + [0] * n,
                  "scan_output_directions": out_dirs + [0] * n}
    base = len(d["outputs"])
    g.set_output_types(node, list(d["outputs"]) + [_stacked(body.type_of((body.inputs[i], 0)), length, 0)
                                                   for i in range(n)])
    return [(node, base + i) for i in range(n)]


@gradient("Scan")
def _scan_grad(ctx):
    if ctx.graph.opset_imports.get("", 1) < 9:
        ctx.fail("opset 8's Scan (batch-major, with sequence_lens) has no gradient rule; convert the model to "
                 "opset 9 or later")
    if ctx.vjp is None:
        ctx.fail("differentiating a body needs autodiff's vjp: call graphc.autodiff.gradients or vjp")
    g, node = ctx.graph, ctx.node
    body, n, m, k, in_axes, in_dirs, out_axes, out_dirs = _layout(ctx.attrs, len(ctx.inputs))
    length, _ = _length_and_sizes(body, n, m, in_axes, ctx.input_types[:n], ctx.input_types[n:],
                                  [g.type_of(v) for v in ctx.captures])
    saved = _save_states(g, node, n, length)

    # the backward body: the forward step again, then its vjp
    bb = body.copy()
    bb.name = f"{body.name}_grad"
    states, xs = [(i, 0) for i in bb.inputs[:n]], [(i, 0) for i in bb.inputs[n:n + m]]
    outs = [v for _, v in bb.outputs]
    bb.outputs = []
    fstate = [i for i in range(n) if _is_float(bb.type_of(states[i]))]
    fout = [l for l in range(k) if _is_float(bb.type_of(outs[n + l]))]
    wanted_x = [j for j in range(m) if ctx.needs(n + j) and _is_float(bb.type_of(xs[j]))]
    cap_nodes = _captures_of(bb)
    wanted_c = [c for c in range(len(ctx.captures)) if ctx.needs(len(ctx.inputs) + c)]
    order = list(bb.inputs)
    ds_in = {i: bb.add_input(f"{states[i][0]}_grad", bb.type_of(states[i])) for i in fstate}
    dc_in = {c: bb.add_input(f"capture{c}_grad_sum", bb.type_of((cap_nodes[c], 0)) if c in cap_nodes
                             else g.type_of(ctx.captures[c])) for c in wanted_c}
    dy_in = {l: bb.add_input(f"{outs[n + l][0]}_grad", bb.type_of(outs[n + l])) for l in fout}
    bb.inputs = [v[0] for v in ds_in.values()] + [v[0] for v in dc_in.values()] + order + \
        [v[0] for v in dy_in.values()]
    cot: dict = {}
    for v, c in [(outs[i], ds_in[i]) for i in fstate] + [(outs[n + l], dy_in[l]) for l in fout]:
        cot[v] = c if v not in cot else (bb.add_node("Add", [cot[v], c], name=f"{v[0]}_grad_sum"), 0)
    wrt = [states[i] for i in fstate] + [xs[j] for j in wanted_x] + [(cap_nodes[c], 0) for c in wanted_c
                                                                       if c in cap_nodes]
    grads = ctx.vjp(bb, cot, wrt=wrt) if wrt and cot else {}

    def grad_of(v, name):
        return grads.get(v[0]) if v[0] in grads else _zeros_like(bb, v, name)

    for i in fstate:
        bb.add_output(f"{states[i][0]}_grad_next", _own(bb, grad_of(states[i], f"{states[i][0]}_grad_zero"),
                                                        f"{states[i][0]}_grad_next"))
    for c in wanted_c:
        step = grads.get(cap_nodes[c]) if c in cap_nodes else None
        total = dc_in[c] if step is None else (bb.add_node("Add", [dc_in[c], step], name=f"capture{c}_grad_add"), 0)
        bb.add_output(f"capture{c}_grad_sum_next", _own(bb, total, f"capture{c}_grad_sum_next"))
    for j in wanted_x:
        bb.add_output(f"{xs[j][0]}_grad", _own(bb, grad_of(xs[j], f"{xs[j][0]}_grad_zero"), f"{xs[j][0]}_grad"))

    # the backward Scan: saved states and step-output gradients read from the last iteration back
    seeds = [ctx.output_grads[i] if ctx.output_grads[i] is not None else
             _zeros_like(g, (node, i), f"{node}/grad/state{i}_zero") for i in fstate]
    sums = [_zeros_like(g, ctx.captures[c], f"{node}/grad/capture{c}_zero") for c in wanted_c]
    dys = [ctx.output_grads[n + l] if ctx.output_grads[n + l] is not None else
           _zeros_like(g, (node, n + l), f"{node}/grad/y{l}_zero") for l in fout]
    scanned = saved + list(ctx.inputs[n:]) + dys
    out_types = [ctx.input_types[i] for i in fstate] + [g.type_of(ctx.captures[c]) for c in wanted_c] + \
        [ctx.input_types[n + j] for j in wanted_x]
    attrs = {"body": bb, "num_scan_inputs": len(scanned),
             "scan_input_axes": [0] * n + in_axes + [out_axes[l] for l in fout],
             "scan_input_directions": [1] * n + [1 - d for d in in_dirs] + [1 - out_dirs[l] for l in fout],
             "scan_output_axes": [in_axes[j] for j in wanted_x],
             "scan_output_directions": [1 - in_dirs[j] for j in wanted_x]}
    back = g.add_node("Scan", seeds + sums + scanned + list(ctx.captures), attrs, outputs=out_types,
                      name=f"{node}/grad/Scan", captures=len(ctx.captures))
    result = [None] * (len(ctx.inputs) + len(ctx.captures))
    for p, i in enumerate(fstate):
        result[i] = (back, p)
    for p, c in enumerate(wanted_c):
        result[len(ctx.inputs) + c] = (back, len(fstate) + p)
    for p, j in enumerate(wanted_x):
        result[n + j] = (back, len(fstate) + len(wanted_c) + p)
    return result
