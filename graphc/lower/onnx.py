"""ONNX writer: `Graph` -> `onnx.ModelProto` that passes `onnx.checker.check_model(full_check=True)`.

Value names: a source node's value is named after the node; other values keep the name they
were imported with (`names`) when it is free, else `node` / `node_i`. Graph outputs take their
own names; an output that reads a graph input, a constant or another output under a different
name goes through an `Identity`. Names are unique across the model, subgraphs included, as ONNX
requires. Ops of the `graphc` domain, and the few standard ops written differently, are written
by their hook in `onnx_forms.FORMS`, the ONNX lowering's own table.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from graphc.errors import GraphcError, GraphError, UnsupportedOpError
from graphc.ir import CAPTURE, GRAPHC_DOMAIN, TARGET_OPSET, Graph
from graphc.lower.onnx_forms import FORMS
from graphc.ops.registry import schema_of
from graphc.types import OpaqueType, TensorType

_ATTR_TYPES = onnx.AttributeProto


def elem_type(dtype) -> int:
    if dtype is None:
        return onnx.TensorProto.UNDEFINED
    dtype = np.dtype(dtype)
    if dtype.kind in "OUS":
        return onnx.TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(dtype)


def value_info(name: str, t) -> onnx.ValueInfoProto:
    if isinstance(t, OpaqueType):
        tp = onnx.TypeProto()
        tp.ParseFromString(t.proto)
        return helper.make_value_info(name, tp)
    t = t or TensorType()
    if t.dtype is None:
        return helper.make_value_info(name, onnx.TypeProto())
    shape = None if t.shape is None else [d for d in t.shape]
    return helper.make_tensor_value_info(name, elem_type(t.dtype), shape)


def tensor_proto(arr, name: str) -> onnx.TensorProto:
    arr = np.asarray(arr)
    if arr.dtype.kind in "US":
        arr = arr.astype(object)
    return numpy_helper.from_array(arr, name)


class _Exporter:
    def __init__(self, opsets: dict[str, int], portable: bool):
        self.used: set[str] = set()
        self.opsets = dict(opsets)
        self.portable = portable

    def unique(self, base: str) -> str:
        base = base or "v"
        name, i = base, 0
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    def attribute(self, key, value, op, domain, outer, node=None):
        """`value` as ONNX attribute `key` of an `op` node; a value ONNX cannot store is a GraphError."""
        try:
            return self._attribute(key, value, op, domain, outer)
        except (TypeError, ValueError, OverflowError) as e:
            what = f"node {node!r} ({op})" if node else f"a {op} node"
            raise GraphError(f"{what}: attribute {key!r} holds {type(value).__name__} {str(value)[:60]}, which "
                             f"ONNX cannot store as this attribute ({e}); fix the attribute in the model") from None

    def _attribute(self, key, value, op, domain, outer):
        if isinstance(value, Graph):
            return helper.make_attribute(key, self.graph(value, outer))
        if isinstance(value, list) and value and all(isinstance(v, Graph) for v in value):
            return helper.make_attribute(key, [self.graph(v, outer) for v in value])
        if isinstance(value, np.ndarray):
            return helper.make_attribute(key, tensor_proto(value, ""))
        if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            return helper.make_attribute(key, [tensor_proto(v, "") for v in value])
        if isinstance(value, OpaqueType):
            tp = onnx.TypeProto()
            tp.ParseFromString(value.proto)
            return helper.make_attribute(key, tp)
        if isinstance(value, (np.integer, np.floating)):
            value = value.item()
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, list):
            value = [v.item() if isinstance(v, (np.integer, np.floating)) else v for v in value]
        return helper.make_attribute(key, value, attr_type=_schema_attr_type(op, domain, key, self.opsets))

    def graph(self, g: Graph, outer_names=None) -> onnx.GraphProto:
        """Export `g`; `outer_names(port)` names the outer value a Capture node stands for."""
        names: dict[tuple, str] = {}
        nodes, inits, inputs = [], [], []
        out_for: dict[tuple, str] = {}
        order = g.topo_order()
        source_values = set()
        for n in order:
            d = g.data(n)
            if g.is_source(n):
                names[(n, 0)] = self.unique(n)
                source_values.add((n, 0))
        for name, v in g.outputs:  # let a computed value take its output's name
            if v not in source_values and v not in out_for and name not in self.used \
                    and not (g.data(v[0])["op"] == CAPTURE):
                out_for[v] = name
                self.used.add(name)
        for n in order:
            d = g.data(n)
            if g.is_source(n):
                if d["op"] == "Input":
                    continue
                inits.append(tensor_proto(d["attrs"]["value"], names[(n, 0)]))
                continue
            if d["op"] == CAPTURE and d["domain"] == GRAPHC_DOMAIN:
                names[(n, 0)] = outer_names(d["attrs"]["index"])
                continue
            for i in range(len(d["outputs"])):
                v = (n, i)
                if v in out_for:
                    names[v] = out_for[v]
                elif d["names"][i] == "" and not g.consumers(v):
                    names[v] = ""  # an optional output the model does not ask for
                elif g.consumers(v) or d["names"][i] or not _optional_output(d["op"], d["domain"], self.opsets, i):
                    base = d["names"][i] or (n if len(d["outputs"]) == 1 else f"{n}_{i}")
                    names[v] = self.unique(base)
                else:
                    names[v] = ""
            ins = g.input_values(n)
            in_names = ["" if v is None else names[v] for v in ins]
            n_formal = d["n_inputs"] - d["captures"]
            formal = in_names[:n_formal]
            while formal and formal[-1] == "":
                formal.pop()
            outs = [names[(n, i)] for i in range(len(d["outputs"]))]
            while len(outs) > 1 and outs[-1] == "":
                outs.pop()
            captured = in_names[n_formal:]
            if d["domain"] == GRAPHC_DOMAIN:
                nodes.extend(self._expand(g, n, formal, outs))
                continue
            made = self._lower_standard(g, n, formal, outs)
            if made is not None:
                nodes.extend(made)
                continue
            node = helper.make_node(d["op"], formal, outs, name=self.unique(n), domain=d["domain"] or None,
                                    doc_string=d.get("doc_string") or None)
            node.attribute.extend(self.attribute(k, v, d["op"], d["domain"], captured.__getitem__, node=n)
                                  for k, v in d["attrs"].items())
            nodes.append(node)
        for n in g.inputs:
            inputs.append(value_info(names[(n, 0)], g.type_of((n, 0))))
            if g.data(n).get("doc_string"):
                inputs[-1].doc_string = g.data(n)["doc_string"]
        outputs = []
        for name, v in g.outputs:
            if names[v] != name:
                if names[v] == "" and v[1] < len(g.data(v[0])["outputs"]):
                    raise GraphcError(f"graph output {name!r} reads an output of {v[0]!r} that was not produced")
                final = self.unique(name)
                nodes.append(helper.make_node("Identity", [names[v]], [final], name=self.unique(f"{final}_identity")))
                name = final
            outputs.append(value_info(name, g.type_of(v)))
        # str(): a Keras config may name its model with a number
        return helper.make_graph(nodes, str(g.name or "main"), inputs, outputs, inits,
                                 doc_string=str(g.doc_string) if g.doc_string else None)

    def _lower_standard(self, g: Graph, n: str, inputs: list[str], outputs: list[str]):
        """The nodes a standard op's entry in `FORMS` writes for it, or None (write it as it is)."""
        d = g.data(n)
        hook = FORMS.get(("", d["op"])) if not d["domain"] else None
        return hook(g, n, inputs, outputs, self) if hook else None

    def _expand(self, g: Graph, n: str, inputs: list[str], outputs: list[str]) -> list[onnx.NodeProto]:
        d = g.data(n)
        hook = FORMS.get((d["domain"], d["op"]))
        if hook is None:
            raise UnsupportedOpError(f"node {n!r}: graphc op {d['op']!r} has no ONNX form")
        made = hook(g, n, inputs, outputs, self)
        for node in made:
            if node.domain and node.domain not in self.opsets:
                self.opsets[node.domain] = 1
        return made


def _optional_output(op, domain, opsets, i: int) -> bool:
    """Whether output `i` may go unnamed: only an Optional one in the schema. A variadic output's
    count is meaningful (Split, Scan, Loop), and an op without a known schema keeps all."""
    schema = schema_of(op, domain or "", opsets.get(domain or "", TARGET_OPSET))
    if i == 0 or schema is None:
        return False
    outs = schema.outputs
    return i < len(outs) and outs[i].option == onnx.defs.OpSchema.FormalParameterOption.Optional


def _schema_attr_type(op, domain, key, opsets):
    schema = schema_of(op, domain or "", opsets.get(domain or "", TARGET_OPSET))
    attr = schema.attributes.get(key) if schema is not None else None
    if attr is None or attr.type == _ATTR_TYPES.UNDEFINED:
        return None
    return attr.type


def to_onnx(graph: Graph, *, check: bool = True, portable: bool = False, producer: str = "graphc") -> onnx.ModelProto:
    """Export `graph` as an ONNX model; `portable=True` avoids ONNX Runtime's contrib ops."""
    from graphc.version import __version__

    ex = _Exporter(graph.opset_imports, portable)
    gp = ex.graph(graph)
    opsets = [helper.make_opsetid(dom, ver) for dom, ver in sorted(ex.opsets.items())]
    meta = graph.meta
    model = helper.make_model(gp, opset_imports=opsets, producer_name=producer, producer_version=__version__)
    model.ir_version = max(helper.find_min_ir_version_for(opsets, ignore_unknown=True), 7)
    if meta.get("ir_version"):
        model.ir_version = max(model.ir_version, min(int(meta["ir_version"]), onnx.IR_VERSION))
    if meta.get("model_doc_string"):
        model.doc_string = meta["model_doc_string"]
    if meta.get("domain"):
        model.domain = meta["domain"]
    if meta.get("model_version"):
        model.model_version = int(meta["model_version"])
    for k, v in (meta.get("metadata_props") or {}).items():
        model.metadata_props.add(key=k, value=v)
    for fb in meta.get("functions") or []:  # local functions the graph's nodes may call
        f = onnx.FunctionProto()
        f.ParseFromString(fb)
        model.functions.append(f)
    if model.functions:
        model.ir_version = max(model.ir_version, 8)  # the first IR version with local functions
    if check:
        try:
            onnx.checker.check_model(model, full_check=True)
        except onnx.checker.ValidationError as e:
            raise GraphcError(f"graph {graph.name!r} exported to an invalid ONNX model: "
                              f"{str(e).strip().splitlines()[0]}") from None
        except onnx.shape_inference.InferenceError as e:
            if graph.meta.get("source_inference_error"):
                # the imported model failed ONNX's strict inference too; hold the export to the same bar
                onnx.checker.check_model(model)
                return model
            raise GraphcError(f"graph {graph.name!r}: ONNX shape inference rejects the export: "
                              f"{str(e).strip().splitlines()[0]}") from None
    return model


def save(graph: Graph, path, **kw) -> None:
    model = to_onnx(graph, **kw)
    onnx.save(model, str(path))
