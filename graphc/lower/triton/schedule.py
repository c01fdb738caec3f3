"""Partition a graph with concrete shapes into kernels and torch fallbacks (Inductor's scheduler).

Each op node gets a kind from the lowering table (`classify`). A value is *realized* (kept in a
buffer) when it is a graph output, has several readers or none, comes from a fallback, feeds a
fallback or a matmul operand, or is a reduction/matmul result that cannot be an epilogue's input;
every other value is computed inline inside the kernel of the realized value that reads it. A
kernel is one realized value and the tree of inline nodes under it, with at most one *anchor*
(a reduction or a matmul), so:

- a chain of pointwise and injective ops (Reshape, Transpose, Expand, Slice as index
  arithmetic) is one kernel;
- a reduction takes the pointwise/injective tree feeding it as prologue and a same-shape pointwise
  chain reading it as epilogue;
- a matmul reads realized operands and takes a same-shape pointwise chain as epilogue;
- scaled-dot-product attention (`attention.py`) is one flash-attention kernel;
- a conv reads its input through a layout Transpose (NHWC data read in place), and a conv's or
  matmul's epilogue may end in Transposes (the result stored channels-last), so a channels-last
  model's convolutions need no transposed copies.

Left alone: horizontal fusion of siblings, a second anchor in one kernel (it is realized), and
reductions longer than `MAX_RBLOCK` (a fallback).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphc.lower.triton import attention, fallback
from graphc.lower.triton.lowering import (INJECTIVE, MAX_RBLOCK, POINTWISE, REDUCTIONS, RESHAPES,
                                          activation_of, gather_progression, pad_params, reduce_axes,
                                          slice_params)

KERNEL_DTYPES = ("float32", "float16", "bfloat16", "int64", "int32", "bool")
ANCHORS = ("reduction", "matmul", "conv", "attention")
# read their input at several guarded positions inside the kernel that reads them: a pooling
# window unrolled, Concat's inputs each under its range, Pad's input inside the border
POOLS = ("MaxPool", "AveragePool")
GUARDED = POOLS + ("Concat", "Pad")


@dataclass
class Kernel:
    root: str  # the node whose output 0 the kernel stores
    nodes: list  # the nodes it computes, in topological order
    anchor: str | None  # its reduction or matmul node, if any

    @property
    def kind(self) -> str:
        return "pointwise" if self.anchor is None else self.anchor_kind

    anchor_kind: str = "pointwise"
    attention: object = None  # the attention.Attention an "attention" kernel computes


@dataclass
class Step:
    """One thing the program does, in order: a kernel launch, a fallback, or a view."""

    kind: str  # "kernel", "fallback", "view"
    node: str
    kernel: Kernel | None = None


@dataclass
class Schedule:
    steps: list = field(default_factory=list)
    fallbacks: list = field(default_factory=list)  # (node, op, why)

    @property
    def kernels(self) -> list:
        return [s.kernel for s in self.steps if s.kind == "kernel"]


def _dtype_ok(graph, node) -> bool:
    ts = [graph.type_of(v) for v in graph.input_values(node) if v is not None] + graph.data(node)["outputs"]
    return all(t.dtype is not None and np.dtype(t.dtype).name in KERNEL_DTYPES and t.shape is not None
               and all(isinstance(d, int) for d in t.shape) for t in ts)


def classify(graph, node) -> tuple[str, str]:
    """(kind, why-not) of `node`: pointwise, injective, reduction, matmul, or fallback."""
    d = graph.data(node)
    op = d["op"]
    if d["domain"] not in ("", "graphc"):
        return "fallback", f"domain {d['domain']!r} has no Triton lowering"
    if not _dtype_ok(graph, node):
        return "fallback", "a dtype or shape a kernel does not take"
    if op in fallback.MULTI_OUTPUT:
        return "fallback", "several outputs"
    if len(d["outputs"]) > 1 and any(graph.consumers((node, i)) or graph.is_output((node, i))
                                     for i in range(1, len(d["outputs"]))):
        return "fallback", "its extra outputs are read"
    if d["domain"] == "graphc":
        if op == "FusedAdd" and activation_of(graph, node):
            return "pointwise", ""
        if op == "FusedGemm" and _gemm_ok(graph, node) and (activation_of(graph, node) or not graph.attrs(node).get("activation")):
            return "matmul", ""
        if op == "FusedConv" and _conv_ok(graph, node) and (activation_of(graph, node) or not graph.attrs(node).get("activation")):
            return "conv", ""
        return "fallback", f"no Triton lowering of graphc.{op}"
    if op in POINTWISE:
        if op == "BatchNormalization" and graph.attrs(node).get("training_mode", 0):
            return "fallback", "training-mode BatchNormalization"
        if op == "Cast" and np.dtype(d["outputs"][0].dtype).name == "bool":
            return "fallback", "Cast to bool"
        return "pointwise", ""
    if op in INJECTIVE:
        if op == "Slice" and slice_params(graph, node) is None:
            return "fallback", "Slice with non-constant starts/ends"
        if op == "Gather" and gather_progression(graph, node) is None:
            return "fallback", "Gather indices not a constant progression"
        return "injective", ""
    if op in REDUCTIONS:
        r = reduce_axes(graph, node)
        if r is None:
            return "fallback", "reduction axes not constant"
        shape = graph.type_of(graph.input_values(node)[0]).shape
        if int(np.prod([shape[a] for a in r[0]])) > MAX_RBLOCK:
            return "fallback", f"reduction longer than {MAX_RBLOCK}"
        if op in ("ArgMax", "ArgMin") and graph.attrs(node).get("select_last_index", 0):
            return "fallback", "select_last_index"
        return "reduction", ""
    if op == "Concat":
        return "pool", ""
    if op == "Pad":
        if pad_params(graph, node) is None:
            return "fallback", "Pad other than constant mode with constant pads"
        return "pool", ""
    if op in POOLS:
        a = graph.attrs(node)
        if graph.data(node)["outputs"][0].shape is None or len(d["outputs"]) > 1 or \
                int(np.prod(a.get("kernel_shape", [99]))) > 64:
            return "fallback", "pooling window over 64 or Indices output"
        return "pool", ""
    if op in ("MatMul", "Gemm") and _gemm_ok(graph, node):
        return "matmul", ""
    if op == "Conv" and _conv_ok(graph, node):
        return "conv", ""
    return "fallback", "no Triton lowering"


def _gemm_ok(graph, node) -> bool:
    vals = graph.input_values(node)
    ranks = [len(graph.type_of(v).shape) for v in vals[:2]]
    return all(r >= 2 for r in ranks) and all(np.dtype(graph.type_of(v).dtype).kind == "f" for v in vals[:2])


def _conv_ok(graph, node) -> bool:
    vals = graph.input_values(node)
    return len(graph.type_of(vals[1]).shape) >= 3 and np.dtype(graph.type_of(vals[0]).dtype).kind == "f"


# anchors whose epilogue may permute or reshape the result (a layout Transpose back to NHWC after a
# conv, attention heads merged back): their store goes through the views, so no copy kernel is made
VIEW_EPILOGUE = ("conv", "matmul", "attention")


def _epilogue_step(graph, prev, reader, kinds, anchor) -> bool:
    """Whether `reader` continues the epilogue of `anchor` after node `prev` (its pointwise ops of
    `prev`'s shape, or a Transpose/Reshape after a conv, matmul or attention)."""
    if kinds[reader] == "pointwise":
        return graph.type_of((reader, 0)).shape == graph.type_of((prev, 0)).shape
    return kinds[anchor] in VIEW_EPILOGUE and (graph.op(reader) == "Transpose" or graph.op(reader) in RESHAPES)


def _operand_view(graph, node, reader, port, kinds, realized) -> bool:
    """Whether `node`, a conv's input, is a Transpose of a buffer the conv reads through its index
    map (the NHWC->NCHW layout transpose of a channels-last model) instead of a copy."""
    if kinds[reader] != "conv" or port != 0 or graph.op(node) != "Transpose":
        return False
    src = graph.input_values(node)[0]
    return graph.is_source(src[0]) or src[0] in realized


def schedule(graph, kernels: bool = True) -> Schedule:
    """The program's steps for `graph` (every shape concrete; see module docstring). With
    `kernels=False`, every node is one torch call: the torch program benchmarks compare against."""
    order = graph.op_nodes()
    if not kernels:
        sched = Schedule()
        for n in order:
            if not fallback.supported(graph, n):
                fallback.refuse(graph, n, "a torch program has no kernels")
            sched.steps.append(Step("fallback", n))
            sched.fallbacks.append((n, graph.op(n), "torch program"))
        return sched
    kinds, why = {}, {}
    for n in order:
        kinds[n], why[n] = classify(graph, n)
        if kinds[n] == "fallback" and not fallback.supported(graph, n):
            fallback.refuse(graph, n, why[n])
    found = attention.find(graph, kinds)
    for a, att in found.items():
        kinds[a] = "attention"
        for p in att.parts:
            kinds[p] = "attention part"
    realized = set()
    for n in order:
        readers = graph.consumers((n, 0))
        if kinds[n] == "attention part":
            continue  # computed inside its attention kernel (attention.find checked its one reader)
        if kinds[n] == "fallback" or graph.is_output((n, 0)) or len(readers) != 1:
            realized.add(n)
            continue
        (r, port), = readers
        rk = kinds[r]
        if rk in ("fallback", "attention part") or (rk in ("matmul", "conv", "attention") and port < 2
                                                   and not _operand_view(graph, n, r, port, kinds, realized)):
            realized.add(n)
        elif kinds[n] in ANCHORS and not _epilogue_step(graph, n, r, kinds, n):
            realized.add(n)
    # a kernel holds one anchor, reached from its root through an epilogue chain only (so an
    # anchor in another anchor's prologue, or a second one in an epilogue, is realized)
    while True:
        trees = {n: _tree(graph, n, realized) for n in order if n in realized and kinds[n] != "fallback"}
        extra = set()
        for root, nodes in trees.items():
            anchors = [m for m in nodes if kinds[m] in ANCHORS]
            if kinds[root] in ANCHORS:
                extra |= {m for m in anchors if m != root}
                continue
            keep = None
            for a in anchors:
                if keep is None and _chain_to_root(graph, a, root, kinds):
                    keep = a
                else:
                    extra.add(a)
        if not extra:
            break
        realized |= extra
    sched = Schedule()
    for n in order:
        if n not in realized:
            continue
        if kinds[n] == "fallback":
            sched.steps.append(Step("fallback", n))
            sched.fallbacks.append((n, graph.op(n), why[n]))
            continue
        nodes = trees[n]
        src = graph.input_values(n)[0]
        if graph.op(n) in RESHAPES + ("Identity", "Dropout") and len(nodes) == 1 and src[0] not in nodes:
            sched.steps.append(Step("view", n))
            continue
        anchor = next((m for m in nodes if kinds[m] in ANCHORS), None)
        k = Kernel(n, [m for m in order if m in nodes], anchor, kinds[anchor] if anchor else "pointwise",
                   found.get(anchor))
        sched.steps.append(Step("kernel", n, k))
    return sched


def _tree(graph, root, realized) -> set:
    """`root` and the inline nodes it reads, transitively."""
    out, todo = {root}, [root]
    while todo:
        n = todo.pop()
        for v in graph.input_values(n):
            if v is not None and not graph.is_source(v[0]) and v[0] not in realized and v[0] not in out:
                out.add(v[0])
                todo.append(v[0])
    return out


def _chain_to_root(graph, anchor, root, kinds) -> bool:
    """Whether the path from `anchor` to `root` is an epilogue (`_epilogue_step` at each node)."""
    n = anchor
    while n != root:
        (r, _), = graph.consumers((n, 0))
        if not _epilogue_step(graph, n, r, kinds, anchor):
            return False
        n = r
    return True
