"""The IR: a `Graph` over a `networkx.MultiDiGraph`, one node per operation.

An edge `u -> v` carries one tensor and has data `{"src": i, "dst": j}`: output `i` of `u`
feeds input port `j` of `v`. A value is `(node, output_index)`. Node data:

- `op`, `domain` ("" for ONNX, "graphc" for the compiler's own ops), `attrs` (Python values,
  numpy arrays, nested `Graph`s for If/Loop/Scan bodies);
- `outputs`: one `Type` per output; `names`: preferred exported name per output (or None);
- `n_inputs`: the number of input ports (a port without an edge is an absent optional input);
- `captures`: how many of the trailing ports carry outer-scope values read by a body graph.
  Inside a body such a value appears as a `Capture` node (domain "graphc") whose attr
  `index` points at the capturing port, so dependencies on the outer graph stay edges.

Source nodes are `Input` (placeholder), `Constant` (frozen array) and `Variable` (trainable
array): their `attrs["value"]` holds the array.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import networkx as nx
import numpy as np

from graphc.errors import GraphError, ShapeError
from graphc.types import OpaqueType, TensorType, Type, types_compatible

Value = tuple  # (node name, output index)

SOURCE_OPS = ("Input", "Constant", "Variable")
CAPTURE = "Capture"
GRAPHC_DOMAIN = "graphc"
TARGET_OPSET = 24  # the ONNX opset graphc exports; see docs/CONFORMANCE.md for why


class Graph:
    """A computation graph; see the module docstring for the data it holds."""

    def __init__(self, name: str = "main"):
        self.nx = nx.MultiDiGraph()
        self.name = name
        self.inputs: list[str] = []  # Input node names, in signature order
        self.outputs: list[tuple[str, Value]] = []  # (exported name, value)
        self.opset_imports: dict[str, int] = {"": TARGET_OPSET}
        self.doc_string = ""
        self.meta: dict = {}  # producer, model metadata, local functions, ir_version
        self._ids = itertools.count()

    # ---- construction ------------------------------------------------------------------
    def fresh_name(self, base: str) -> str:
        base = base or "node"
        if base not in self.nx:
            return base
        while True:
            cand = f"{base}_{next(self._ids)}"
            if cand not in self.nx:
                return cand

    def add_node(self, op: str, inputs: Sequence[Value | None] = (), attrs: dict | None = None,
                 outputs: Sequence[Type] | None = None, *, name: str | None = None, domain: str = "",
                 n_outputs: int = 1, names: Sequence[str | None] | None = None,
                 captures: int = 0) -> str:
        """Add a node fed by `inputs`; output types are inferred by the op registry when not given."""
        key = self.fresh_name(name or op)
        data = dict(op=op, domain=domain, attrs=dict(attrs or {}), n_inputs=len(inputs),
                    captures=captures, outputs=list(outputs) if outputs is not None else None,
                    names=list(names) if names is not None else None)
        self.nx.add_node(key, **data)
        for port, v in enumerate(inputs):
            if v is not None:
                self._check_value(v, f"input {port} of new node {key!r}")
                self.nx.add_edge(v[0], key, src=int(v[1]), dst=port)
        if data["outputs"] is None:
            from graphc.ops import infer_node

            types = infer_node(self, key, n_outputs)
            if types is None:
                self.nx.remove_node(key)
                raise GraphError(f"cannot infer the output types of {op!r} node {key!r}: "
                                 f"give `outputs=` explicitly")
            self.nx.nodes[key]["outputs"] = list(types)
        if self.nx.nodes[key]["names"] is None:
            self.nx.nodes[key]["names"] = [None] * len(self.nx.nodes[key]["outputs"])
        return key

    def add_input(self, name: str, type: Type) -> Value:
        key = self.add_node("Input", outputs=[type], name=name)
        self.inputs.append(key)
        return (key, 0)

    def add_constant(self, value, name: str | None = None, kind: str = "Constant") -> Value:
        arr = np.asarray(value)
        key = self.add_node(kind, attrs={"value": arr}, outputs=[TensorType(arr.dtype, arr.shape)],
                            name=name or kind.lower())
        return (key, 0)

    def add_variable(self, value, name: str | None = None) -> Value:
        return self.add_constant(value, name, kind="Variable")

    def add_capture(self, index: int, type: Type, name: str) -> Value:
        """A body graph's stand-in for the outer value on capture port `index` of its owner node."""
        key = self.add_node(CAPTURE, attrs={"index": index}, outputs=[type], domain=GRAPHC_DOMAIN, name=name)
        return (key, 0)

    def add_output(self, name: str, value: Value) -> None:
        self._check_value(value, f"graph output {name!r}")
        self.outputs.append((name, tuple(value)))

    # ---- queries ------------------------------------------------------------------------
    def __contains__(self, node) -> bool:
        return node in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    @property
    def nodes(self):
        return self.nx.nodes

    def node_items(self):
        """(name, data) of every node; networkx's own dict, since its NodeView's items() costs a
        lookup per node and passes scan whole graphs."""
        return self.nx._node.items()

    # node data through networkx's own dict: its NodeView costs a call more, and passes ask often
    def data(self, node: str) -> dict:
        return self.nx._node[node]

    def op(self, node: str) -> str:
        return self.nx._node[node]["op"]

    def attrs(self, node: str) -> dict:
        return self.nx._node[node]["attrs"]

    def is_source(self, node: str) -> bool:
        return self.nx.nodes[node]["op"] in SOURCE_OPS and self.nx.nodes[node]["domain"] == ""

    def type_of(self, value: Value) -> Type:
        return self.nx.nodes[value[0]]["outputs"][value[1]]

    def input_values(self, node: str) -> list[Value | None]:
        """The value on each input port of `node` (None for an absent optional input)."""
        # networkx's adjacency dicts directly: its edge views are ~8x slower, and passes ask often
        vals: list[Value | None] = [None] * self.nx._node[node]["n_inputs"]
        for u, edges in self.nx._pred[node].items():
            for e in edges.values():
                vals[e["dst"]] = (u, e["src"])
        return vals

    def input_types(self, node: str) -> list[Type | None]:
        return [None if v is None else self.type_of(v) for v in self.input_values(node)]

    def consumers(self, value: Value) -> list[tuple[str, int]]:
        """(node, port) pairs reading `value`."""
        node, i = value
        return [(w, e["dst"]) for w, edges in self.nx._succ[node].items() for e in edges.values() if e["src"] == i]

    def readers(self, node: str):
        """The nodes reading any output of `node` (each once)."""
        return self.nx._succ[node].keys()

    def feeders(self, node: str):
        """The nodes whose outputs `node` reads, captured outer values included (each once)."""
        return self.nx._pred[node].keys()

    def is_output(self, value: Value) -> bool:
        return any(v == tuple(value) for _, v in self.outputs)

    def const_value(self, value: Value | None):
        """The array behind `value` when it comes from a Constant node, else None."""
        if value is None:
            return None
        d = self.nx.nodes[value[0]]
        if d["op"] == "Constant" and d["domain"] == "":
            return d["attrs"]["value"]
        return None

    def topo_order(self) -> list[str]:
        try:
            return list(nx.topological_sort(self.nx))
        except nx.NetworkXUnfeasible:
            self._raise_cycle()

    def op_nodes(self) -> list[str]:
        return [n for n in self.topo_order() if not self.is_source(n)]

    def variables(self) -> list[str]:
        return [n for n, d in self.nx.nodes(data=True) if d["op"] == "Variable" and d["domain"] == ""]

    def constants(self) -> list[str]:
        return [n for n, d in self.nx.nodes(data=True) if d["op"] == "Constant" and d["domain"] == ""]

    def subgraphs(self, node: str) -> list[tuple[str, "Graph"]]:
        out = []
        for k, v in self.nx.nodes[node]["attrs"].items():
            if isinstance(v, Graph):
                out.append((k, v))
            elif isinstance(v, (list, tuple)) and v and all(isinstance(x, Graph) for x in v):
                out.extend((k, x) for x in v)
        return out

    # ---- mutation -----------------------------------------------------------------------
    def set_input(self, node: str, port: int, value: Value | None) -> None:
        """Feed input `port` of `node` with `value` (None: leave the port absent)."""
        if not 0 <= port < self.nx._node[node]["n_inputs"]:
            raise GraphError(f"node {node!r} ({self.nx._node[node]['op']}) has {self.nx._node[node]['n_inputs']} "
                             f"input ports, not port {port}; widen it with set_arity first")
        for u, v, k, d in list(self.nx.in_edges(node, keys=True, data=True)):
            if d["dst"] == port:
                self.nx.remove_edge(u, v, k)
        if value is not None:
            self._check_value(value, f"input {port} of {node!r}")
            self.nx.add_edge(value[0], node, src=int(value[1]), dst=port)

    def set_inputs(self, node: str, inputs: Sequence[Value | None], captures: int | None = None) -> None:
        """Feed `node` with exactly `inputs` (its arity becomes their number); `captures` says how
        many of them, at the end, carry outer values read by its body graphs."""
        for v in inputs:
            if v is not None:
                self._check_value(v, f"an input of {node!r}")
        self.nx.remove_edges_from(list(self.nx.in_edges(node, keys=True)))
        d = self.nx._node[node]
        d["n_inputs"] = len(inputs)
        if captures is not None:
            d["captures"] = captures
        self.nx.add_edges_from((v[0], node, {"src": int(v[1]), "dst": port})
                               for port, v in enumerate(inputs) if v is not None)

    def set_arity(self, node: str, n_inputs: int) -> None:
        """Give `node` `n_inputs` formal input ports: new ones start absent, dropped ones lose their edge."""
        d = self.nx._node[node]
        formal = d["n_inputs"] - d["captures"]
        if n_inputs < formal:
            for u, v, k, e in list(self.nx.in_edges(node, keys=True, data=True)):
                if n_inputs <= e["dst"] < formal:
                    self.nx.remove_edge(u, v, k)
        shift = n_inputs - formal  # capture ports sit after the formal ones and move with them
        if d["captures"] and shift:
            for u, v, k, e in list(self.nx.in_edges(node, keys=True, data=True)):
                if e["dst"] >= formal:
                    e["dst"] += shift
        d["n_inputs"] = n_inputs + d["captures"]

    def set_op(self, node: str, op: str, domain: str | None = None) -> None:
        """Make `node` another op on the same inputs (its attributes are the caller's to fit)."""
        d = self.nx._node[node]
        d["op"] = op
        if domain is not None:
            d["domain"] = domain

    def set_output_types(self, node: str, types: Sequence[Type]) -> None:
        """Retype every output of `node` (their number may change; names follow)."""
        d = self.nx._node[node]
        d["outputs"] = list(types)
        names = d["names"] or []
        d["names"] = (list(names) + [None] * len(types))[: len(types)]

    def set_output_type(self, value: Value, type: Type) -> None:
        self.nx._node[value[0]]["outputs"][value[1]] = type

    def set_output_names(self, node: str, names: Sequence[str | None]) -> None:
        """The preferred exported name of each output of `node` (None: let the writer choose)."""
        d = self.nx._node[node]
        if len(names) != len(d["outputs"]):
            raise GraphError(f"node {node!r}: {len(names)} names for {len(d['outputs'])} outputs")
        d["names"] = list(names)

    def retarget_outputs(self, old: Value, new: Value) -> None:
        """Make the graph outputs that return `old` return `new` (node readers stay)."""
        old, new = tuple(old), tuple(new)
        if any(v == old for _, v in self.outputs):
            self._check_value(new, "a graph output")
            self.outputs = [(n, new if v == old else v) for n, v in self.outputs]

    def replace_uses(self, old: Value, new: Value) -> None:
        """Make every reader of `old` (nodes and graph outputs) read `new` instead."""
        old, new = tuple(old), tuple(new)
        for node, port in self.consumers(old):
            self.set_input(node, port, new)
        self.retarget_outputs(old, new)

    def remove_node(self, node: str) -> None:
        if node in self.inputs:
            self.inputs.remove(node)
        self.nx.remove_node(node)

    def remove_nodes(self, nodes: Iterable[str]) -> None:
        """Remove many nodes at once (none of them a graph input)."""
        self.nx.remove_nodes_from(nodes)

    # ---- invariants ---------------------------------------------------------------------
    def verify(self, _outer: "Graph | None" = None, _node: str | None = None) -> None:
        """Check the IR invariants; raise `GraphError`/`ShapeError` naming the offending node."""
        from graphc.ops import infer_node, input_arity

        if not nx.is_directed_acyclic_graph(self.nx):
            self._raise_cycle()
        where = f" in graph {self.name!r}"
        for n, d in self.nx.nodes(data=True):
            for key in ("op", "domain", "attrs", "outputs", "n_inputs", "names", "captures"):
                if key not in d:
                    raise GraphError(f"node {n!r}{where} lacks {key!r}")
            ports: dict[int, tuple] = {}
            for u, _, e in self.nx.in_edges(n, data=True):
                j = e["dst"]
                if j in ports:
                    raise GraphError(f"input port {j} of node {n!r} ({d['op']}){where} is fed twice")
                if not 0 <= j < d["n_inputs"]:
                    raise GraphError(f"node {n!r} ({d['op']}){where} has an edge into port {j} "
                                     f"but only {d['n_inputs']} ports")
                if not 0 <= e["src"] < len(self.nx.nodes[u]["outputs"]):
                    raise GraphError(f"node {n!r}{where} reads output {e['src']} of {u!r}, "
                                     f"which has {len(self.nx.nodes[u]['outputs'])} outputs")
                ports[j] = (u, e["src"])
            if len(d["names"]) != len(d["outputs"]):
                raise GraphError(f"node {n!r}{where}: {len(d['names'])} names for {len(d['outputs'])} outputs")
            if self.is_source(n):
                if d["n_inputs"]:
                    raise GraphError(f"source node {n!r} ({d['op']}){where} has inputs")
                if d["op"] != "Input":
                    arr = d["attrs"].get("value")
                    if arr is None:
                        raise GraphError(f"{d['op']} {n!r}{where} has no value")
                    t = d["outputs"][0]
                    if t.dtype != arr.dtype or tuple(t.shape) != tuple(arr.shape):
                        raise ShapeError(f"{d['op']} {n!r}{where} holds {arr.dtype}{list(arr.shape)} "
                                         f"but is typed {t}")
                elif n not in self.inputs:
                    raise GraphError(f"Input node {n!r}{where} is not listed in graph.inputs")
                continue
            if d["op"] == CAPTURE and d["domain"] == GRAPHC_DOMAIN:
                if _outer is not None:
                    od = _outer.data(_node)
                    port = od["n_inputs"] - od["captures"] + d["attrs"]["index"]
                    if port >= od["n_inputs"] or port < od["n_inputs"] - od["captures"]:
                        raise GraphError(f"capture {n!r}{where} points at port {port} of {_node!r}, "
                                         f"which captures {od['captures']} values")
                continue
            arity = input_arity(d["op"], d["domain"], self.opset_imports.get(d["domain"], 1))
            if arity is not None:
                required, total = arity
                n_formal = d["n_inputs"] - d["captures"]
                for j in required:
                    if j < n_formal and j not in ports:
                        raise GraphError(f"required input {j} of node {n!r} ({d['op']}){where} is not fed")
                    if j >= n_formal:
                        raise GraphError(f"node {n!r} ({d['op']}){where} has {n_formal} inputs; "
                                         f"input {j} is required")
            inferred = infer_node(self, n, len(d["outputs"]))
            if inferred is not None:
                for i, (have, want) in enumerate(zip(d["outputs"], inferred)):
                    if want is not None and have is not None and not types_compatible(have, want):
                        raise ShapeError(f"output {i} of node {n!r} ({d['op']}){where} is typed {have} "
                                         f"but its inputs give {want}")
            for _, body in self.subgraphs(n):
                body.verify(self, n)
        seen = set()
        for name, v in self.outputs:
            if v[0] not in self.nx or not 0 <= v[1] < len(self.nx.nodes[v[0]]["outputs"]):
                raise GraphError(f"graph output {name!r}{where} refers to missing value {v}")
            if name in seen:
                raise GraphError(f"graph output name {name!r}{where} is used twice")
            seen.add(name)
        for n in self.inputs:
            if n not in self.nx or self.nx.nodes[n]["op"] != "Input":
                raise GraphError(f"graph input {n!r}{where} is not an Input node")

    def _raise_cycle(self):
        cycle = nx.find_cycle(self.nx)
        names = " -> ".join(str(u) for u, *_ in cycle) + f" -> {cycle[0][0]}"
        raise GraphError(f"graph {self.name!r} has a cycle: {names}; a node cannot depend on its own output")

    def _check_value(self, v, what: str) -> None:
        if not (isinstance(v, tuple) and len(v) == 2) or v[0] not in self.nx:
            raise GraphError(f"{what} refers to {v!r}, which is not a value of graph {self.name!r}")

    # ---- whole-graph operations -------------------------------------------------------------
    def copy(self) -> "Graph":
        g = Graph(self.name)
        g.nx = nx.MultiDiGraph()
        for n, d in self.nx.nodes(data=True):
            attrs = {k: (v.copy() if isinstance(v, Graph) else
                         [x.copy() for x in v] if isinstance(v, list) and v and isinstance(v[0], Graph) else v)
                     for k, v in d["attrs"].items()}
            g.nx.add_node(n, **{**d, "attrs": attrs, "outputs": list(d["outputs"]), "names": list(d["names"])})
        g.nx.add_edges_from((u, v, dict(e)) for u, v, e in self.nx.edges(data=True))
        g.inputs = list(self.inputs)
        g.outputs = list(self.outputs)
        g.opset_imports = dict(self.opset_imports)
        g.doc_string = self.doc_string
        g.meta = dict(self.meta)
        return g

    def frozen(self) -> "Graph":
        """A copy in which every Variable is a Constant: the graph as inference sees it."""
        g = self.copy()
        for n in g.variables():
            g.data(n)["op"] = "Constant"
        return g

    def extract(self, outputs: Iterable[Value], inputs: Iterable[Value] = ()) -> "Graph":
        """The subgraph computing `outputs`, with each value in `inputs` turned into a graph Input."""
        outputs = [tuple(v) for v in outputs]
        cut = {tuple(v) for v in inputs}
        g = Graph(self.name + "_sub")
        g.opset_imports = dict(self.opset_imports)
        need, stack = set(), [v[0] for v in outputs]
        cut_nodes = {}
        for v in cut:  # a cut value becomes a fresh Input named after it
            key = g.fresh_name(f"{v[0]}_{v[1]}" if len(self.nx.nodes[v[0]]["outputs"]) > 1 else v[0])
            g.add_input(key, self.type_of(v))
            cut_nodes[v] = key
        while stack:
            n = stack.pop()
            if n in need:
                continue
            need.add(n)
            for u, _, e in self.nx.in_edges(n, data=True):
                if (u, e["src"]) not in cut:
                    stack.append(u)
        for n in self.topo_order():
            if n not in need:
                continue
            d = self.nx.nodes[n]
            g.nx.add_node(n, **{**d, "outputs": list(d["outputs"]), "names": list(d["names"])})
            for u, _, e in self.nx.in_edges(n, data=True):
                src = (u, e["src"])
                if src in cut:
                    g.nx.add_edge(cut_nodes[src], n, src=0, dst=e["dst"])
                else:
                    g.nx.add_edge(u, n, **e)
            if d["op"] == "Input" and d["domain"] == "":
                g.inputs.append(n)
        for i, v in enumerate(outputs):
            v = (cut_nodes[v], 0) if v in cut else v
            g.add_output(self.value_label(v) if not any(o[1] == v for o in g.outputs) else f"output_{i}", v)
        return g

    def value_label(self, v: Value) -> str:
        d = self.nx.nodes[v[0]]
        if d["names"][v[1]]:
            return d["names"][v[1]]
        return v[0] if len(d["outputs"]) == 1 else f"{v[0]}:{v[1]}"

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, d in self.nx.nodes(data=True):
            key = d["op"] if d["domain"] in ("", "ai.onnx") else f"{d['domain']}.{d['op']}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def parameter_stats(self) -> tuple[int, int]:
        """(number of elements, bytes) held by Constants and Variables."""
        count = nbytes = 0
        for n, d in self.nx.nodes(data=True):
            if d["op"] in ("Constant", "Variable") and d["domain"] == "":
                arr = d["attrs"]["value"]
                count += int(arr.size)
                nbytes += int(arr.nbytes)
        return count, nbytes

    def summary(self) -> str:
        sources = sum(1 for _, d in self.nx.nodes(data=True) if d["op"] in SOURCE_OPS)
        lines = [f"Graph {self.name!r}: {len(self)} nodes ({len(self) - sources} operators + {sources} inputs, "
                 f"constants and variables), IR opset {self.opset_imports.get('', '?')}"]
        for n in self.inputs:
            lines.append(f"  input  {n}: {self.type_of((n, 0))}")
        for name, v in self.outputs:
            lines.append(f"  output {name}: {self.type_of(v)}  <- {self.value_label(v)}")
        count, nbytes = self.parameter_stats()
        lines.append(f"  parameters: {count:,} ({nbytes:,} bytes)")
        lines.append("  ops: " + ", ".join(f"{k}×{v}" for k, v in self.op_counts().items()
                                            if k not in SOURCE_OPS))
        return "\n".join(lines)

    def __repr__(self) -> str:
        lines = [f"graph {self.name}({', '.join(f'{n}: {self.type_of((n, 0))}' for n in self.inputs)}) {{"]
        for n in self.topo_order():
            d = self.nx.nodes[n]
            if d["op"] == "Input":
                continue
            args = ", ".join("_" if v is None else self.value_label(v) for v in self.input_values(n))
            attrs = ", ".join(f"{k}={_short(v)}" for k, v in d["attrs"].items())
            outs = ", ".join(str(t) for t in d["outputs"])
            op = d["op"] if d["domain"] == "" else f"{d['domain']}.{d['op']}"
            lines.append(f"  {n} = {op}({args}{'; ' + attrs if attrs else ''}) -> {outs}")
        lines.append("  return " + ", ".join(f"{name}={self.value_label(v)}" for name, v in self.outputs))
        return "\n".join(lines) + "\n}"


def _short(v) -> str:
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}" if v.size > 4 else repr(v.tolist())
    if isinstance(v, Graph):
        return f"<graph {v.name}: {len(v)} nodes>"
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


__all__ = ["Graph", "Value", "TensorType", "OpaqueType", "Type", "SOURCE_OPS", "TARGET_OPSET"]
