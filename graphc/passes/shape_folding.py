"""Folding of shape computations whose values the types already know."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.ops import infer_node
from graphc.ops._shapes import ints
from graphc.passes.base import Pass
from graphc.passes.layout import reshape_target
from graphc.passes.predicates import (branch_condition_cone, const_input, const_ints, is_op, movable, opset, producer,
                                      tensor_type)
from graphc.types import merge_types


class ShapeFolding(Pass):
    """Replaces shape arithmetic by constants where the shapes are known:

    - Shape(x) (with its start/end) when those dims of x are all known -> Constant;
    - Size(x) when x's shape is fully known -> Constant;
    - Gather(Shape(x), constant indices) and Slice(Shape(x), constant starts/ends/axes/steps)
      when the selected dims are known, even if other dims of x are symbolic -> Constant;
    - Reshape (opset >= 5) whose shape input is computed but whose output type is known ->
      Reshape with a constant shape (known dims, 0 to copy a symbolic dim in place, -1 for one
      other unknown dim), which frees the Shape -> Gather -> Concat chain that fed it.

    Constant folding then folds what those constants feed, and dead-code elimination drops the
    chains. Left alone: what an If condition depends on (see `branch_condition_cone`), unknown or symbolic dims that are selected, Reshape with allowzero=1 or
    whose output cannot be described by one constant shape.
    """

    name = "shape-folding"

    def run(self, graph: Graph) -> int:
        n = 0
        keep = branch_condition_cone(graph)
        for node in list(graph.nodes):
            if node not in graph or node in keep or not movable(graph, node):
                continue
            op = graph.data(node)["op"]
            if op == "Reshape":
                n += self._reshape(graph, node)
                continue
            value = None
            if op == "Shape":
                value = _shape_dims(graph, node)
            elif op == "Size":
                t = tensor_type(graph, graph.input_values(node)[0])
                value = np.array(t.numel(), dtype=np.int64) if t is not None and t.is_static else None
            elif op in ("Gather", "Slice"):
                value = _select_from_shape(graph, node)
            if value is not None:
                c = graph.add_constant(value, name=f"{node}_value")
                graph.replace_uses((node, 0), c)
                graph.remove_node(node)
                n += 1
        return n

    def _reshape(self, g: Graph, node: str) -> int:
        x, shape = g.input_values(node)[:2]
        if g.const_value(shape) is not None or g.data(node)["attrs"].get("allowzero", 0) or opset(g) < 5:
            return 0
        tx, ty = tensor_type(g, x), tensor_type(g, (node, 0))
        target = reshape_target(tx.shape, ty.shape) if tx is not None and ty is not None else None
        if target is None:
            target = _concat_of_own_dims(g, shape, x)
        if target is None:
            return 0
        g.set_input(node, 1, g.add_constant(np.array(target, dtype=np.int64), name=f"{node}_shape"))
        inferred = infer_node(g, node, 1)
        if inferred and inferred[0] is not None:  # the constant shape may tell more than the old type
            g.set_output_type((node, 0), merge_types(g.type_of((node, 0)), inferred[0]))
        return 1


def _concat_of_own_dims(g: Graph, shape, x):
    """The value of a shape tensor built as Concat(pieces) where each piece is a constant or
    Gather(Shape(x), [i]) landing at position i (read back as 0, "copy dim i"); else None."""
    if not is_op(g, shape[0], "Concat") or g.data(shape[0])["attrs"].get("axis") not in (0, -1):
        return None
    target = []
    for piece in g.input_values(shape[0]):
        arr = g.const_value(piece)
        if arr is not None:
            target.extend(ints(arr))
            continue
        if not is_op(g, piece[0], "Gather") or g.data(piece[0])["attrs"].get("axis", 0) != 0:
            return None
        src, idx = g.input_values(piece[0])[:2]
        idx = g.const_value(idx)
        if not is_op(g, src[0], "Shape") or g.input_values(src[0])[0] != x or idx is None or idx.shape != (1,) \
                or g.data(src[0])["attrs"].get("start", 0) != 0 or int(idx[0]) != len(target):
            return None
        target.append(0)
    return target if target.count(-1) <= 1 else None


def _shape_dims(g: Graph, node: str):
    """Shape's output as an array when the dims it returns are all known, else None."""
    t = tensor_type(g, g.input_values(node)[0])
    if t is None:
        return None
    attrs = g.data(node)["attrs"]
    r = len(t.shape)
    start, end = attrs.get("start", 0), attrs.get("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    dims = t.shape[start:end]
    if not all(isinstance(d, int) for d in dims):
        return None
    return np.array(dims, dtype=np.int64)


def _select_from_shape(g: Graph, node: str):
    """Gather/Slice over a Shape output, evaluated on a stand-in holding -1 for unknown dims;
    returns the result only when no unknown dim was selected."""
    src = producer(g, node, 0)
    if src is None or g.data(src[0])["op"] != "Shape" or g.data(src[0])["domain"] != "":
        return None
    t = tensor_type(g, g.input_values(src[0])[0])
    if t is None:
        return None
    attrs = g.data(src[0])["attrs"]
    r = len(t.shape)
    start, end = attrs.get("start", 0), attrs.get("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    dims = np.array([d if isinstance(d, int) else -1 for d in t.shape[start:end]], dtype=np.int64)
    if g.data(node)["op"] == "Gather":
        idx = const_input(g, node, 1)
        if idx is None or g.data(node)["attrs"].get("axis", 0) != 0 or idx.dtype.kind not in "iu":
            return None
        if np.any(idx >= len(dims)) or np.any(idx < -len(dims)):
            return None
        out = dims[idx]
    else:
        if opset(g) < 10:
            return None
        args = [const_ints(g, node, p) if producer(g, node, p) is not None else None for p in (1, 2, 3, 4)]
        starts, ends, axes, steps = args
        if starts is None or ends is None or len(starts) != 1 or len(ends) != 1 \
                or (producer(g, node, 3) and axes is None) or (producer(g, node, 4) and steps is None) \
                or axes not in (None, [0], [-1]):
            return None
        step = steps[0] if steps else 1
        if step <= 0:
            return None
        out = dims[slice(starts[0], ends[0], step)]
    out = np.asarray(out, dtype=np.int64)
    return None if np.any(out < 0) else out
