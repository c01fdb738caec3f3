"""Constant folding: nodes whose inputs are all constants become constants."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.ops.cast import SUBBYTE_INTS, cast_subbyte
from graphc.ops.registry import onnx_dtype
from graphc.passes.base import Pass
from graphc.passes.predicates import branch_condition_cone, movable, used
from graphc.types import OpaqueType, TensorType, types_compatible

# Ops whose output can be far larger than their inputs: folded only when their result stays small.
_GROWING = frozenset({"Expand", "Tile", "ConstantOfShape", "Range", "Resize", "Upsample", "Pad", "OneHot",
                      "EyeLike", "MatMul", "Gemm", "Einsum", "Conv", "ConvTranspose"})


class ConstantFolding(Pass):
    """Evaluates nodes whose inputs are all `Constant`s (absent optional inputs allowed) and
    replaces their outputs with new `Constant`s; repeats through the chains that opens up.

    Evaluation is numpy for a few exact cases (Identity, Transpose, Concat, Unsqueeze, float
    Add/Sub/Mul/Div/Neg, Cast/CastLike to a 2- or 4-bit integer by ONNX's rule) and `onnx.reference.ReferenceEvaluator` on a one-node model otherwise.

    Left alone: the values an If condition depends on (see `branch_condition_cone`), nodes fed by `Variable`s or graph inputs, random ops, nodes with body graphs or
    captures, non-standard domains, non-tensor outputs, results over `max_elements` (for an untyped
    output, the broadcast of its inputs over `max_elements`), invalid attributes, and results
    of growing ops (Expand, Tile, ConstantOfShape, Range, ...) larger than both their inputs and
    `small_elements`, so weights do not balloon; a node the reference evaluator cannot run.
    """

    name = "constant-folding"

    def __init__(self, max_elements: int = 1 << 20, small_elements: int = 4096):
        self.max_elements = max_elements
        self.small_elements = small_elements

    def run(self, graph: Graph) -> int:
        self._keep = branch_condition_cone(graph)
        consts = {n for n, d in graph.node_items() if d["op"] == "Constant" and d["domain"] == ""}
        work = {v for c in consts for v in graph.readers(c)}
        folded = 0
        while work:
            node = work.pop()
            if node not in graph or not self._foldable(graph, node):
                continue
            results = self._evaluate(graph, node)
            if results is None:
                continue
            for i, arr in enumerate(results):
                if not used(graph, (node, i)):
                    continue
                c = graph.add_constant(arr, name=f"{node}_folded")
                graph.replace_uses((node, i), c)
                work.update(graph.readers(c[0]))
            graph.remove_node(node)
            folded += 1
        return folded

    def _foldable(self, g: Graph, node: str) -> bool:
        if not movable(g, node) or node in self._keep:
            return False
        if any(v is not None and g.const_value(v) is None for v in g.input_values(node)):
            return False
        outs = g.data(node)["outputs"]
        if any(isinstance(t, OpaqueType) for t in outs):
            return False
        sizes = [t.numel() for t in outs]
        if all(s is not None for s in sizes) and sum(sizes) > self.max_elements:
            return False
        if any(s is None for s in sizes) and _broadcast_size(g, node) > self.max_elements:
            return False  # an elementwise op whose type is unknown: bound it by its inputs' broadcast
        if g.op(node) in _GROWING:
            if any(s is None for s in sizes):
                return False
            in_size = sum(int(np.size(g.const_value(v))) for v in g.input_values(node) if v is not None)
            if sum(sizes) > max(in_size, self.small_elements):
                return False
        return True

    def _evaluate(self, g: Graph, node: str) -> list | None:
        d = g.data(node)
        args = [None if v is None else g.const_value(v) for v in g.input_values(node)]
        try:
            results = _numpy_eval(d["op"], d["attrs"], args)
        except (ValueError, IndexError, TypeError):
            results = None  # attributes or shapes the op does not accept: the evaluator decides
        if results is None:
            results = _reference_eval(g, node, args)
        if results is None or len(results) != len(d["outputs"]):
            return None
        out = []
        for t, arr in zip(d["outputs"], results):
            arr = np.asarray(arr)
            if arr.size > self.max_elements or not types_compatible(t, TensorType(arr.dtype, arr.shape)):
                return None
            out.append(arr)
        return out


def _broadcast_size(g: Graph, node: str) -> int:
    """Elements of the numpy broadcast of `node`'s constant inputs (0 when they do not broadcast)."""
    shapes = [np.shape(g.const_value(v)) for v in g.input_values(node) if v is not None]
    try:
        return int(np.prod(np.broadcast_shapes(*shapes), dtype=np.int64)) if shapes else 0
    except ValueError:
        return 0


def _numpy_eval(op: str, attrs: dict, args: list):
    """Exact numpy forms of the most common folds; None means 'ask the reference evaluator'."""
    if any(a is None for a in args):
        return None
    if op == "Identity":
        return [args[0]]
    if op == "Transpose":
        perm = attrs.get("perm")
        return [np.ascontiguousarray(np.transpose(args[0], None if perm is None else [int(p) for p in perm]))]
    if op == "Concat" and args and all(a.ndim > 0 for a in args):
        axis = attrs.get("axis")
        if not isinstance(axis, (int, np.integer)) or not -args[0].ndim <= axis < args[0].ndim:
            return None  # an invalid axis: the reference evaluator refuses it and the node stays
        return [np.concatenate(args, axis=int(axis))]
    if op == "Unsqueeze" and len(args) == 2:
        shape = list(args[0].shape)
        r = len(shape) + args[1].size
        for a in sorted(int(a) % r for a in args[1].reshape(-1)):
            shape.insert(a, 1)
        return [args[0].reshape(shape)]
    if op in ("Cast", "CastLike"):
        # ONNX's rule for 2- and 4-bit integer targets, not whatever the installed ml_dtypes does
        to = onnx_dtype(attrs.get("to")) if op == "Cast" else args[1].dtype
        subbyte = to is not None and to.name in SUBBYTE_INTS and args[0].dtype.kind not in "OSU"
        return [cast_subbyte(args[0], to)] if subbyte else None
    floats = all(a.dtype.kind == "f" for a in args) and len({a.dtype for a in args}) == 1
    if floats and op in ("Add", "Sub", "Mul", "Div") and len(args) == 2:
        with np.errstate(all="ignore"):
            fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
            return [np.asarray(fn(args[0], args[1]), dtype=args[0].dtype)]
    if floats and op == "Neg":
        return [np.negative(args[0])]
    return None


def _reference_eval(g: Graph, node: str, args: list):
    """Run `node` alone under `onnx.reference.ReferenceEvaluator`."""
    from onnx.reference import ReferenceEvaluator

    from graphc.lower.onnx import to_onnx

    d = g.data(node)
    sub = Graph("fold")
    sub.opset_imports = dict(g.opset_imports)
    ins = [None if a is None else sub.add_constant(a, name=f"c{i}") for i, a in enumerate(args)]
    key = sub.add_node(d["op"], ins, d["attrs"], outputs=list(d["outputs"]), name="n")
    for i in range(len(d["outputs"])):
        sub.add_output(f"y{i}", (key, i))
    try:
        model = to_onnx(sub, check=False)
        with np.errstate(all="ignore"):
            return list(ReferenceEvaluator(model).run(None, {}))
    except Exception:  # the evaluator lacks the op or rejects it: keep the node
        return None
