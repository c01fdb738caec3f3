"""Transpose sinking and cancellation."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph, Value
from graphc.ops._shapes import DYNAMIC, ints
from graphc.ops.registry import traits_of
from graphc.passes.base import Pass, bypass, remove_if_dead
from graphc.passes.layout import compose, invert, is_identity, permute, reshape_target, transpose_perm
from graphc.passes.predicates import axes_from_input, int_arg, is_op, movable, opset, tensor_type

# the registry traits that make an op layout-agnostic once its axis arguments are permuted
_AGNOSTIC_TRAITS = frozenset({"pointwise", "along_axis", "reduce_axes"})


# ops whose layout is fixed by their weights: accepted in a region when the untransposed layout
# can express them (see `_Region._args_ok` and `_Region._rewrite`)
_CHANNEL_OPS = ("MatMul", "LayerNormalization")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class TransposeOptimization(Pass):
    """Sinks Transposes through layout-agnostic ops and cancels them against each other.

    Rules (graphs at opset >= 13):
    - Transpose(Transpose(x, p), q) -> Transpose(x, p∘q), dropped when that is the identity;
    - a *region* of layout-agnostic ops reached from a Transpose(x, p) is rewritten to work on the
      untransposed layout, with one Transpose(p) after each value leaving the region. Agnostic ops:
      pointwise unary/binary/variadic ops (constant operands are broadcast to full rank and
      permuted; all-ones shapes such as scalars are kept), Concat (axis permuted), Pad (pads
      permuted), Slice with constant starts/ends/axes (axes permuted), Softmax/LogSoftmax/Hardmax
      (axis permuted), Reduce* with constant axes (axes permuted; with keepdims=0 the output
      leaves the region under the reduced permutation, often the identity: ReduceMean over H,W of NHWC needs no transpose at all), MatMul by a constant
      matrix over the axis the untransposed layout has at position 1 (NHWC Dense on NCHW data:
      it becomes a 1x1 Conv), LayerNormalization with constant weights (its axes permuted; over
      axes that are no longer the trailing ones, such as NHWC channels on NCHW data, it becomes
      ReduceMean/Sub/Mul/Div/Sqrt). Region inputs are the
      same-perm Transposes (stripped), constants, all-ones values, other agnostic producers
      (the region grows upwards through them), or anything else (an inverse Transpose is inserted).
      The rewrite is made only when it lowers the number of Transposes in the graph, counting
      those that cancel against Transposes downstream.
    - a Transpose left over that moves only size-1 axes ((N,1,1,C) -> (N,C,1,1), as after a
      squeeze-excite pooling) becomes a Reshape, which ReshapeCollapse merges with its neighbours.

    Left alone: graphs below opset 13, values of unknown rank, non-constant axes/pads/weights,
    MatMul and LayerNormalization on other than float32/float64 data, Pad with an
    `axes` input, Slice without a constant `axes` input, operands of lower rank that are neither
    constants nor all ones (they would need a reshape), and nodes with body graphs. A region stops
    growing at `max_region` nodes (the rest is its boundary), which keeps the pass linear in the graph's size.
    """

    name = "transpose-optimization"

    def __init__(self, max_region: int = 100_000):
        self.max_region = max_region

    def run(self, graph: Graph) -> int:
        if opset(graph) < 13:
            return 0
        work = [n for n, d in graph.node_items() if d["op"] == "Transpose" and d["domain"] == ""]
        settled: set[str] = set()  # seeds of regions found not worth rewriting since the last rewrite
        done = 0
        while work:
            t = work.pop()
            if t not in graph or not is_op(graph, t, "Transpose"):
                continue
            perm = transpose_perm(graph, t)
            if perm is None:
                continue
            x = graph.input_values(t)[0]
            if is_identity(perm):
                bypass(graph, t, x)
                done += 1
                continue
            for c, _ in graph.consumers((t, 0)):  # Transpose(Transpose(x)): one transpose of x
                if is_op(graph, c, "Transpose") and transpose_perm(graph, c) is not None:
                    graph.attrs(c)["perm"] = compose(perm, transpose_perm(graph, c))
                    graph.set_input(c, 0, x)
                    work.append(c)
                    done += 1
            remove_if_dead(graph, t)
            if t in graph and len(perm) >= 2 and t not in settled:
                region = _Region(graph, t, perm, self.max_region)
                made = region.apply()
                if made is None:  # every strip of this region would grow the same region again
                    settled.update(region.strips)
                else:
                    work.extend(made)
                    settled.clear()
                    done += 1
        return done + self._unit_moves_to_reshape(graph)

    @staticmethod
    def _unit_moves_to_reshape(g: Graph) -> int:
        """Transposes left after sinking that move only size-1 axes (NHWC (N,1,1,C) -> NCHW
        (N,C,1,1) after a squeeze-excite pooling) keep the data's order: they become Reshapes,
        which ReshapeCollapse then merges with the Reshape/Flatten around them."""
        n = 0
        for t in [k for k, d in g.node_items() if d["op"] == "Transpose" and d["domain"] == ""]:
            perm = transpose_perm(g, t)
            x = g.input_values(t)[0]
            t_in, t_out = tensor_type(g, x), tensor_type(g, (t, 0))
            if perm is None or t_in is None or t_out is None or not movable(g, t):
                continue
            kept = [p for p in perm if t_in.shape[p] != 1]
            target = reshape_target(t_in.shape, t_out.shape) if kept == sorted(kept) else None
            if target is None:
                continue
            shape = g.add_constant(np.array(target, dtype=np.int64), name=f"{t}_shape")
            new = g.add_node("Reshape", [x, shape], {}, outputs=[t_out], name=t, names=list(g.data(t)["names"]))
            g.replace_uses((t, 0), (new, 0))
            g.remove_node(t)
            n += 1
        return n


class _Region:
    """One candidate region grown from the Transpose `seed` (see TransposeOptimization)."""

    def __init__(self, g: Graph, seed: str, perm: list[int], max_size: int):
        self.g, self.perm, self.inv, self.r = g, perm, invert(perm), len(perm)
        self.max_size = max_size
        self.nodes: dict[str, None] = {}  # insertion-ordered set
        self.strips = {seed}
        self.rejected: set[str] = set()  # agnostic() answers, per node
        self.accepted: set[str] = set()
        self.probed: dict[str, bool] = {}  # grows_into() answers
        self.decompose: list[tuple[str, list[int]]] = []  # LayerNormalizations over non-trailing axes

    # ---- which nodes may join ---------------------------------------------------------------
    def data_ports(self, node: str) -> list[int]:
        d = self.g.data(node)
        if d["op"] == "Concat" or "nary" in traits_of(d["op"]):
            return list(range(d["n_inputs"]))
        return [0]

    def is_exit(self, node: str) -> bool:
        d = self.g.data(node)
        return "reduce_axes" in traits_of(d["op"]) and not d["attrs"].get("keepdims", 1)

    def agnostic(self, node: str) -> bool:
        """`node` computes the same thing in the untransposed layout (inputs of any provenance)."""
        g, r = self.g, self.r
        if node in self.rejected:
            return False
        if node in self.accepted:
            return True
        d = g.data(node)
        op = d["op"]
        ok = (movable(g, node) and len(d["outputs"]) == 1
              and (traits_of(op) & _AGNOSTIC_TRAITS or op in ("Concat", "Pad", "Slice", *_CHANNEL_OPS)))
        if ok:
            ok = self._args_ok(node, op, d["attrs"])
        if ok:
            ins = g.input_values(node)
            ports = self.data_ports(node)
            x0 = tensor_type(g, ins[0])
            out = tensor_type(g, (node, 0))
            ok = x0 is not None and out is not None and x0.rank == r and (self.is_exit(node) or out.rank == r)
            for j in ports:
                if not ok:
                    break
                t = tensor_type(g, ins[j]) if ins[j] is not None else None
                ok = t is not None and (t.rank == r or (t.rank < r and (
                    g.const_value(ins[j]) is not None or all(s == 1 for s in t.shape))))
            for j, v in enumerate(ins):  # bounds, pads, axes: constants or scalars only
                if ok and j not in ports and v is not None:
                    t = tensor_type(g, v)
                    ok = g.const_value(v) is not None or (t is not None and t.rank == 0)
        (self.accepted if ok else self.rejected).add(node)
        return ok

    def _args_ok(self, node: str, op: str, attrs: dict) -> bool:
        g = self.g
        if op == "Pad":
            ins = g.input_values(node)
            return (len(ins) > 1 and g.const_value(ins[1]) is not None
                    and (len(ins) < 4 or ins[3] is None))
        if op == "Slice":  # starts/ends/steps are per listed axis: only the axes need constants
            ins = g.input_values(node)
            return len(ins) > 3 and all(ins[j] is not None and g.const_value(ins[j]) is not None for j in (1, 2, 3))
        if "reduce_axes" in traits_of(op):
            axes = int_arg(g, node, 1) if axes_from_input(g, node) else attrs.get("axes")
            return axes is not DYNAMIC and bool(axes)
        if op in _CHANNEL_OPS:  # float data, constant weights
            ins = g.input_values(node)
            x = tensor_type(g, ins[0])
            if x is None or x.dtype not in _FLOATS or any(v is not None and g.const_value(v) is None for v in ins[1:]):
                return False
            if op == "MatMul":  # contracting the last axis, which is the untransposed layout's channel axis
                return g.const_value(ins[1]).ndim == 2 and self.r >= 3 and self.perm[-1] == 1
        return True

    def grows_into(self, node: str, depth: int = 6) -> bool:
        """Pull producer `node` into the region only when that costs no inverse Transpose. The
        look-ahead is `depth` producers deep; beyond it growth is assumed to pay (the plan's
        count decides in the end)."""
        if node in self.nodes:
            return True
        if node in self.probed:
            return self.probed[node]
        if depth == 0:
            return True
        ok = not self.is_exit(node) and self.agnostic(node) and all(
            self.kind(self.g.input_values(node)[j], probe=depth - 1) != "inverse" for j in self.data_ports(node))
        self.probed[node] = ok
        return ok

    def kind(self, v: Value, probe: int | None = None) -> str:
        g = self.g
        if v[0] in self.nodes and not self.is_exit(v[0]):
            return "region"
        if g.const_value(v) is not None:
            return "const"
        t = tensor_type(g, v)
        if t.rank < self.r or all(s == 1 for s in t.shape):
            return "ones"
        if is_op(g, v[0], "Transpose") and transpose_perm(g, v[0]) == self.perm:
            return "strip"
        if probe is not None and self.grows_into(v[0], probe):
            return "grow"
        return "inverse"

    # ---- growth and cost --------------------------------------------------------------------
    def grow(self) -> bool:
        g = self.g
        pending = [c for c, _ in g.consumers((next(iter(self.strips)), 0))]
        while pending:
            node = pending.pop()
            if len(self.nodes) >= self.max_size:
                break  # a capped region is still a valid one: what lies beyond is its boundary
            if node in self.nodes or not self.agnostic(node):
                continue
            self.nodes[node] = None
            ins = g.input_values(node)
            for j in self.data_ports(node):
                k = self.kind(ins[j], probe=6)
                if k == "strip" and ins[j][0] not in self.strips:
                    self.strips.add(ins[j][0])
                    pending.extend(c for c, _ in g.consumers(ins[j]))
                elif k == "grow":
                    pending.append(ins[j][0])
            if not self.is_exit(node):
                pending.extend(c for c, _ in g.consumers((node, 0)))
        # a strip fed by the region itself would be rewired onto a relaid value
        return bool(self.nodes) and not any(g.input_values(s)[0][0] in self.nodes for s in self.strips)

    def out_perm(self, node: str) -> list[int]:
        """The perm that restores `node`'s original output from its rewritten one."""
        if not self.is_exit(node):
            return self.perm
        axes = self.new_axes(node)
        kept_old = [i for i in range(self.r) if self.perm[i] not in axes]
        kept_new = sorted(self.perm[i] for i in kept_old)
        return [kept_new.index(self.perm[i]) for i in kept_old]

    def new_axes(self, node: str) -> list[int]:
        g = self.g
        axes = int_arg(g, node, 1) if axes_from_input(g, node) else g.attrs(node)["axes"]
        return sorted(self.perm[a % self.r] for a in axes)

    def plan(self):
        """(external readers per leaving value, inverse inputs, net change in Transposes)."""
        g = self.g
        leaving, inverse, net = {}, set(), 0
        for node in self.nodes:
            for j in self.data_ports(node):
                v = g.input_values(node)[j]
                if self.kind(v) == "inverse":
                    inverse.add(v)
            p = self.out_perm(node)
            if is_identity(p):
                continue
            outside = [(c, port) for c, port in g.consumers((node, 0)) if c not in self.nodes or self.is_exit(node)]
            needs_transpose = g.is_output((node, 0))
            for c, _ in outside:
                if is_op(g, c, "Transpose") and transpose_perm(g, c) is not None:
                    net -= is_identity(compose(p, transpose_perm(g, c)))
                else:
                    needs_transpose = True
            net += needs_transpose
            leaving[node] = (p, outside, needs_transpose)
        net += len(inverse)
        for s in self.strips:
            if not g.is_output((s, 0)) and all(c in self.nodes or is_op(g, c, "Transpose")
                                                for c, _ in g.consumers((s, 0))):
                net -= 1
        return leaving, inverse, net

    # ---- rewrite ----------------------------------------------------------------------------
    def apply(self) -> list[str] | None:
        if not self.grow():
            return None
        leaving, inverse, net = self.plan()
        if net >= 0:
            return None
        g = self.g
        old_types = {n: g.type_of((n, 0)) for n in self.nodes}
        # reduction axes and exit shapes are read off the graph before anything is rewired
        axes = {n: self.new_axes(n) for n in self.nodes if "reduce_axes" in traits_of(g.op(n))}
        exit_shapes = {}
        for n in self.nodes:
            if self.is_exit(n):
                x = permute(tensor_type(g, g.input_values(n)[0]).shape, self.inv)
                exit_shapes[n] = tuple(s for i, s in enumerate(x) if i not in axes[n])
        inverse_of = {}
        for v in inverse:
            t = tensor_type(g, v)
            key = g.add_node("Transpose", [v], {"perm": list(self.inv)}, outputs=[t.with_shape(permute(t.shape, self.inv))],
                             name=f"{v[0]}_relayout")
            inverse_of[v] = (key, 0)
        for node in self.nodes:
            self._rewrite(node, inverse_of, axes.get(node), exit_shapes.get(node))
        made = [k for k, _ in inverse_of.values()]
        for node, (p, outside, needs_transpose) in leaving.items():
            back = None
            if needs_transpose:
                names = g.data(node)["names"]
                back = g.add_node("Transpose", [(node, 0)], {"perm": list(p)}, outputs=[old_types[node]],
                                  name=f"{node}_transpose", names=list(names))
                g.set_output_names(node, [None])
                g.retarget_outputs((node, 0), (back, 0))
                made.append(back)
            for c, port in outside:
                if is_op(g, c, "Transpose") and transpose_perm(g, c) is not None and c != back:
                    g.attrs(c)["perm"] = compose(p, transpose_perm(g, c))
                    made.append(c)
                else:
                    g.set_input(c, port, (back, 0))
        for s in self.strips:
            z = g.input_values(s)[0]
            for c, _ in g.consumers((s, 0)):
                if is_op(g, c, "Transpose") and transpose_perm(g, c) is not None:
                    g.attrs(c)["perm"] = compose(self.perm, transpose_perm(g, c))
                    g.set_input(c, 0, z)
                    made.append(c)
            remove_if_dead(g, s)
        for node, axes in self.decompose:
            _decompose_layernorm(g, node, axes)
        return made

    def _rewrite(self, node: str, inverse_of: dict, axes, exit_shape) -> None:
        g, perm, inv, r = self.g, self.perm, self.inv, self.r
        d = g.data(node)
        ins = g.input_values(node)
        for j in self.data_ports(node):
            v = ins[j]
            k = self.kind(v)
            if k == "strip":
                g.set_input(node, j, g.input_values(v[0])[0])
            elif k == "inverse":
                g.set_input(node, j, inverse_of[v])
            elif k == "const":
                arr = g.const_value(v)
                if arr.ndim and any(s != 1 for s in arr.shape):
                    full = arr.reshape((1,) * (r - arr.ndim) + arr.shape)
                    g.set_input(node, j, g.add_constant(np.ascontiguousarray(np.transpose(full, inv)),
                                                        name=f"{v[0]}_relayout"))
        op, attrs = d["op"], d["attrs"]
        if op == "Concat" or "along_axis" in traits_of(op):
            attrs["axis"] = perm[attrs.get("axis", -1) % r]
        elif op == "Pad":
            pads = ints(g.const_value(ins[1]))
            new = [0] * (2 * r)
            for i in range(r):
                new[perm[i]], new[perm[i] + r] = pads[i], pads[i + r]
            g.set_input(node, 1, g.add_constant(np.array(new, dtype=np.int64), name=f"{node}_pads"))
        elif op == "Slice":
            axes = [perm[a % r] for a in ints(g.const_value(ins[3]))]
            g.set_input(node, 3, g.add_constant(np.array(axes, dtype=np.int64), name=f"{node}_axes"))
        elif "reduce_axes" in traits_of(op):
            if axes_from_input(g, node):
                g.set_input(node, 1, g.add_constant(np.array(axes, dtype=np.int64), name=f"{node}_axes"))
            else:
                attrs["axes"] = axes
        elif op == "MatMul":  # x @ W over the channel axis is a 1x1 convolution
            w = g.const_value(ins[1])
            kernel = np.ascontiguousarray(w.T).reshape(w.shape[1], w.shape[0], *([1] * (r - 2)))
            g.set_input(node, 1, g.add_constant(kernel, name=f"{node}_kernel"))
            g.set_op(node, "Conv")
            attrs.clear()
            attrs["kernel_shape"] = [1] * (r - 2)
        elif op == "LayerNormalization":
            norm = sorted(perm[a] for a in range(attrs.get("axis", -1) % r, r))
            suffix = norm == list(range(norm[0], r))
            for j, v in enumerate(ins[1:3], start=1):
                if v is None:
                    continue
                arr = g.const_value(v)
                full = np.transpose(arr.reshape((1,) * (r - arr.ndim) + arr.shape), inv)
                # the fused op takes weights of the normalized shape; the decomposition broadcasts them
                full = full.reshape(full.shape[norm[0]:]) if suffix else full
                g.set_input(node, j, g.add_constant(np.ascontiguousarray(full), name=f"{v[0]}_relayout"))
            if suffix:
                attrs["axis"] = norm[0]
            else:
                self.decompose.append((node, norm))
        t = d["outputs"][0]
        g.set_output_type((node, 0), t.with_shape(exit_shape if exit_shape is not None else permute(t.shape, inv)))


def _decompose_layernorm(g: Graph, node: str, axes: list[int]) -> None:
    """Replace LayerNormalization `node` by the ops it stands for, normalizing over `axes` (which
    ONNX's fused op cannot express unless they are the trailing ones): (x - mean) / sqrt(var + eps),
    scaled and shifted by its (broadcastable) weights."""
    d = g.data(node)
    ins = g.input_values(node) + [None] * 2
    x, scale, bias = ins[0], ins[1], ins[2]
    t = d["outputs"][0]
    reduced = t.with_shape(tuple(1 if i in axes else s for i, s in enumerate(t.shape)))

    def op(name, inputs, out, **attrs):
        return (g.add_node(name, inputs, attrs, outputs=[out], name=f"{node}/{name}"), 0)

    def mean(v):
        if opset(g) >= 18:
            return op("ReduceMean", [v, g.add_constant(np.array(axes, np.int64), name=f"{node}_axes")], reduced,
                      keepdims=1)
        return op("ReduceMean", [v], reduced, axes=list(axes), keepdims=1)

    diff = op("Sub", [x, mean(x)], t)
    var = mean(op("Mul", [diff, diff], t))
    eps = g.add_constant(np.asarray(d["attrs"].get("epsilon", 1e-5), t.dtype), name=f"{node}_epsilon")
    y = op("Div", [diff, op("Sqrt", [op("Add", [var, eps], reduced)], reduced)], t)
    y = op("Mul", [y, scale], t)
    if bias is not None:
        y = op("Add", [y, bias], t)
    g.set_output_names(y[0], list(d["names"]))
    g.replace_uses((node, 0), y)
    g.remove_node(node)
