"""ONNX reader: a file path, bytes or `onnx.ModelProto` -> `graphc.Graph`.

- Older default-domain opsets are converted up to `TARGET_OPSET` with `onnx.version_converter`
  (when the converter cannot, the model keeps its own opset and `graph.meta` says why).
- External data is read only from files inside the model's folder: an absolute location, a
  `..` or a symlink that leaves the folder is refused before anything is read.
- Initializers become `Constant`s (or `Variable`s with `variables=True`); ONNX `Constant` nodes
  become `Constant`s too. Node and tensor names, doc strings and metadata survive.
- Value types come from ONNX's shape inference, falling back to the op registry.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from graphc import limits
from graphc.errors import GraphcError, GraphError, ModelFormatError
from graphc.ir import TARGET_OPSET, Graph
from graphc.ops.registry import schema_of
from graphc.types import OpaqueType, TensorType

# Pseudo-file used in messages when the model did not come from a file.
_IN_MEMORY = "<in-memory model>"


def read_model_proto(src, *, what: str | None = None) -> tuple[onnx.ModelProto, str, Path | None]:
    """Parse `src` (path, bytes or ModelProto) without touching external data."""
    if isinstance(src, onnx.ModelProto):
        return src, what or _IN_MEMORY, None
    if isinstance(src, (bytes, bytearray, memoryview)):
        data, label, folder = bytes(src), what or _IN_MEMORY, None
    else:
        path = Path(src)
        label, folder = str(path), path.resolve().parent
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelFormatError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ModelFormatError(f"{path}: is a folder, expected an .onnx file") from None
        except OSError as e:
            raise ModelFormatError(f"{path}: cannot read ({e.strerror})") from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:  # protobuf raises DecodeError, sometimes RuntimeWarning-ish errors
        raise ModelFormatError(f"{label}: not an ONNX model, or the file is truncated ({type(e).__name__}); "
                               f"check that it was fully written") from None
    if not model.HasField("graph") or (not model.opset_import and not model.graph.node):
        raise ModelFormatError(f"{label}: parsed as protobuf but holds no ONNX graph; "
                               f"is this really an .onnx file?")
    return model, label, folder


def _check_text(model: onnx.ModelProto, label: str) -> None:
    """Refuse names that are not UTF-8: protobuf hands them over as bytes, which no later stage takes."""
    graphs = [model.graph]
    while graphs:
        gp = graphs.pop()
        names = [gp.name, *(v.name for v in (*gp.input, *gp.output, *gp.value_info)),
                 *(t.name for t in gp.initializer), *(s.values.name for s in gp.sparse_initializer)]
        for node in gp.node:
            names += [node.op_type, node.domain, node.name, *node.input, *node.output,
                      *(a.name for a in node.attribute)]
            for a in node.attribute:
                graphs += [a.g] if a.HasField("g") else []
                graphs += list(a.graphs)
        bad = next((n for n in names if not isinstance(n, str)), None)
        if bad is not None:
            raise ModelFormatError(f"{label}: graph {gp.name if isinstance(gp.name, str) else '?'!r} holds the name "
                                   f"{bad!r}, which is not UTF-8 text; the file is damaged")


def _external_tensors(model: onnx.ModelProto):
    from onnx.external_data_helper import _get_all_tensors

    for t in _get_all_tensors(model):
        if t.HasField("data_location") and t.data_location == onnx.TensorProto.EXTERNAL:
            yield t


def _load_external_data(model: onnx.ModelProto, label: str, folder: Path | None) -> None:
    """Check every external-data location stays inside `folder`, then load it."""
    tensors = list(_external_tensors(model))
    if not tensors:
        return
    if folder is None:
        raise ModelFormatError(f"{label}: tensor {tensors[0].name!r} keeps its data in an external file; "
                               f"load the model from its path so the file can be found")
    for t in tensors:
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        if not loc or os.path.isabs(loc) or Path(loc).drive:
            raise ModelFormatError(f"{label}: tensor {t.name!r} points at external data {loc!r}, which is not a "
                                   f"relative path inside the model's folder; refusing to read it")
        target = (folder / loc).resolve()
        if folder != target and folder not in target.parents:
            raise ModelFormatError(f"{label}: tensor {t.name!r} points at external data {loc!r}, which leaves "
                                   f"the model's folder {folder}; refusing to read it")
        if not target.is_file():
            raise ModelFormatError(f"{label}: external data file {loc!r} of tensor {t.name!r} is missing "
                                   f"(expected at {target})")
        size = target.stat().st_size
        try:
            offset = int(info.get("offset", 0))
            length = int(info.get("length", size - offset))
        except ValueError:
            raise ModelFormatError(f"{label}: tensor {t.name!r} gives external-data offset {info.get('offset')!r} "
                                   f"and length {info.get('length')!r}; both must be whole numbers") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelFormatError(f"{label}: external data of tensor {t.name!r} ({loc!r}) is truncated: needs "
                                   f"bytes {offset}..{offset + length}, file has {size}")
    try:
        onnx.external_data_helper.load_external_data_for_model(model, str(folder))
    except Exception as e:
        raise ModelFormatError(f"{label}: cannot read external data: {e}") from None


# Ops whose version-converter adapters change the meaning of the model: (op, first safe opset).
# Scan-8 carries a batch axis that Scan-9 dropped; the converter only relabels the node.
_LOSSY_CONVERSIONS = {"Scan": 9}


def _convert_opset(model: onnx.ModelProto, target: int) -> tuple[onnx.ModelProto, str | None]:
    current = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if current is None or current >= target:
        return model, None
    for node in model.graph.node:
        safe_from = _LOSSY_CONVERSIONS.get(node.op_type)
        if safe_from is not None and current < safe_from:
            return model, f"kept opset {current}: converting {node.op_type}-{current} is not faithful"
    try:
        converted = onnx.version_converter.convert_version(model, target)
        # the converter drops local functions; their bodies keep their own opset imports
        converted.functions.extend(model.functions)
        onnx.checker.check_model(converted)
        return converted, None
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return model, f"kept opset {current}: converting to {target} failed ({first[:200]})"


def _np_dtype(elem_type: int, label: str, what: str):
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(elem_type)
    except (KeyError, ValueError, TypeError):
        raise ModelFormatError(f"{label}: {what} has element type {elem_type}, which is not an ONNX "
                               f"TensorProto.DataType") from None


def _to_array(t: onnx.TensorProto, label: str, what: str) -> np.ndarray:
    """The array of tensor `t` after checking its declared size; bad contents are a ModelFormatError."""
    dtype = _np_dtype(t.data_type, label, what)
    limits.check_shape(t.dims, max(np.dtype(dtype).itemsize, 1), label, what)
    try:
        return numpy_helper.to_array(t)
    except Exception as e:  # numpy/onnx raise ValueError, TypeError, IndexError... for bad raw data
        raise ModelFormatError(f"{label}: {what} cannot be read ({type(e).__name__}: {e}); "
                               f"its data does not match its dims and type") from None


def _type_from_proto(tp: onnx.TypeProto, label: str = _IN_MEMORY, what: str = "a value"):
    if tp.HasField("tensor_type"):
        tt = tp.tensor_type
        dtype = _np_dtype(tt.elem_type, label, what) if tt.elem_type else None
        if not tt.HasField("shape"):
            return TensorType(dtype, None)
        dims = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            elif d.HasField("dim_param") and d.dim_param:
                dims.append(d.dim_param)
            else:
                dims.append(None)
        return TensorType(dtype, tuple(dims))
    if tp.WhichOneof("value") is None:
        return TensorType()
    return OpaqueType(tp.SerializeToString())


def _attr_value(a: onnx.AttributeProto, import_graph, label: str, what: str):
    T = onnx.AttributeProto
    what = f"attribute {a.name!r} of {what}"
    if a.type == T.UNDEFINED:
        raise ModelFormatError(f"{label}: {what} has no type (UNDEFINED); the model is invalid")
    if a.type == T.GRAPH:
        return import_graph(a.g)
    if a.type == T.GRAPHS:
        return [import_graph(g) for g in a.graphs]
    if a.type == T.TENSOR:
        return _to_array(a.t, label, what)
    if a.type == T.TENSORS:
        return [_to_array(t, label, what) for t in a.tensors]
    if a.type == T.SPARSE_TENSOR:
        return _sparse_to_dense(a.sparse_tensor, label, what)
    if a.type == T.STRING:
        return _decode(a.s)
    if a.type == T.STRINGS:
        return [_decode(s) for s in a.strings]
    if a.type == T.TYPE_PROTO:
        return OpaqueType(a.tp.SerializeToString())
    if a.type == T.TYPE_PROTOS:
        return [OpaqueType(t.SerializeToString()) for t in a.type_protos]
    try:
        return onnx.helper.get_attribute_value(a)
    except ValueError as e:
        raise ModelFormatError(f"{label}: {what} cannot be read ({e})") from None


def _decode(b: bytes):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _sparse_to_dense(sp: onnx.SparseTensorProto, label: str, what: str) -> np.ndarray:
    """The dense array of `sp`, after checking its dense size and that every index lies inside it."""
    values = _to_array(sp.values, label, f"{what} (values)")
    indices = _to_array(sp.indices, label, f"{what} (indices)")
    dims = limits.check_shape(sp.dims, max(values.dtype.itemsize, 1), label, f"{what} (dense shape)")
    nnz = values.size
    if values.ndim != 1 or indices.dtype.kind not in "iu" or not (
            (indices.ndim == 1 and indices.shape[0] == nnz) or (indices.ndim == 2 and indices.shape == (nnz, len(dims)))):
        raise ModelFormatError(f"{label}: {what} is a sparse tensor whose values {list(values.shape)} and integer "
                               f"indices {list(indices.shape)} ({indices.dtype}) do not fit its dims {list(dims)}")
    bounds = np.asarray([int(np.prod(dims, dtype=np.int64))] if indices.ndim == 1 else dims, np.int64)
    if nnz and ((indices < 0).any() or (indices >= bounds).any()):
        raise ModelFormatError(f"{label}: {what} is a sparse tensor with an index outside its dims {list(dims)}")
    dense = np.zeros(dims, dtype=values.dtype)
    if indices.ndim == 1:
        dense.reshape(-1)[indices] = values
    else:
        dense[tuple(indices.T)] = values
    return dense


def _constant_node_value(node: onnx.NodeProto, label: str, what: str):
    """The array an ONNX `Constant` node produces; a Constant without a value is refused."""
    for a in node.attribute:
        if a.name == "value":
            return _to_array(a.t, label, what)
        if a.name == "sparse_value":
            return _sparse_to_dense(a.sparse_tensor, label, what)
        if a.name in ("value_float", "value_int"):
            return np.array(onnx.helper.get_attribute_value(a),
                            dtype=np.float32 if a.name == "value_float" else np.int64)
        if a.name in ("value_floats", "value_ints"):
            return np.array(list(onnx.helper.get_attribute_value(a)),
                            dtype=np.float32 if a.name == "value_floats" else np.int64)
        if a.name == "value_string":
            return np.array(_decode(a.s), dtype=object)
        if a.name == "value_strings":
            return np.array([_decode(s) for s in a.strings], dtype=object)
    raise ModelFormatError(f"{label}: Constant node {what} has no value attribute (value, sparse_value, "
                           f"value_float(s), value_int(s), value_string(s)); the model is invalid")


class _Importer:
    def __init__(self, label: str, variables: bool, opsets: dict[str, int]):
        self.label, self.variables, self.opsets = label, variables, opsets

    def graph(self, gp: onnx.GraphProto, resolve_outer=None) -> Graph:
        g = Graph(gp.name or "main")
        g.opset_imports = dict(self.opsets)
        g.doc_string = gp.doc_string
        types = {vi.name: _type_from_proto(vi.type, self.label, f"value {vi.name!r}")
                 for vi in (*gp.input, *gp.value_info, *gp.output)}
        env: dict[str, tuple] = {}
        init_names = set()

        def add_source(name, arr, kind):
            key = g.add_node(kind, attrs={"value": arr}, outputs=[TensorType(arr.dtype, arr.shape)], name=name,
                             names=[name])
            env[name] = (key, 0)

        for t in gp.initializer:
            arr = _to_array(t, self.label, f"initializer {t.name!r}")
            add_source(t.name, arr, "Variable" if self.variables else "Constant")
            init_names.add(t.name)
        for sp in gp.sparse_initializer:
            add_source(sp.values.name, _sparse_to_dense(sp, self.label, f"sparse initializer {sp.values.name!r}"),
                       "Constant")
            init_names.add(sp.values.name)
        for vi in gp.input:
            if vi.name in init_names:
                continue  # old IR versions list initializers among the inputs
            v = g.add_input(vi.name, types.get(vi.name, TensorType()))
            g.set_output_names(v[0], [vi.name])
            g.data(v[0])["doc_string"] = vi.doc_string
            env[vi.name] = v

        def lookup(name: str, node_label: str):
            if name in env:
                return env[name]
            if resolve_outer is not None:
                env[name] = resolve_outer(name, g)
                return env[name]
            raise ModelFormatError(f"{self.label}: node {node_label} reads {name!r}, which no node, input or "
                                   f"initializer of graph {g.name!r} produces (a missing initializer?)")

        # Two phases, so a node list out of topological order still imports and a cycle is
        # reported by verify() as a cycle rather than as a missing value.
        pending = []
        for i, node in enumerate(gp.node):
            label = repr(node.name) if node.name else f"#{i} ({node.op_type})"
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.output) == 1:
                arr = _constant_node_value(node, self.label, label)
                key = g.add_node("Constant", attrs={"value": arr}, outputs=[TensorType(arr.dtype, arr.shape)],
                                 name=node.name or node.output[0], names=[node.output[0]])
                self._define(env, node.output[0], (key, 0), label, g)
                continue
            captures: list[str] = []

            def capture(name, body, captures=captures):
                # called once per (body, name): the body's lookup remembers the result
                if name not in captures:
                    captures.append(name)
                return body.add_capture(captures.index(name), types.get(name, TensorType()), f"capture_{name}")

            attrs = {}
            schema = schema_of(node.op_type, node.domain, self.opsets.get(node.domain or "", TARGET_OPSET))
            for a in node.attribute:
                if a.ref_attr_name:
                    raise ModelFormatError(f"{self.label}: node {label} refers to a function attribute outside "
                                           f"a function")
                declared = schema.attributes.get(a.name) if schema is not None else None
                if declared is not None and declared.type not in (a.type, onnx.AttributeProto.UNDEFINED):
                    # passes read attributes by their schema type (perm as ints, axis as an int)
                    raise ModelFormatError(f"{self.label}: node {label} ({node.op_type}) has attribute {a.name!r} "
                                           f"of type {onnx.AttributeProto.AttributeType.Name(a.type)}, but "
                                           f"{node.op_type} takes {onnx.AttributeProto.AttributeType.Name(declared.type)}")
                attrs[a.name] = _attr_value(a, lambda sub: self.graph(sub, capture), self.label, f"node {label}")
            out_types = [types.get(n) if n else TensorType() for n in node.output]
            key = g.add_node(node.op_type, [], attrs, outputs=[t or TensorType() for t in out_types],
                             name=node.name or node.op_type, domain=node.domain if node.domain != "ai.onnx" else "",
                             names=list(node.output))
            if node.doc_string:
                g.data(key)["doc_string"] = node.doc_string
            for j, n in enumerate(node.output):
                if n:
                    self._define(env, n, (key, j), label, g)
            pending.append((key, label, list(node.input), captures, any(t is None for t in out_types)))
        untyped = []
        for key, label, names, captures, needs_types in pending:
            inputs = [None if not n else lookup(n, label) for n in names]
            inputs += [lookup(n, label) for n in captures]
            g.set_inputs(key, inputs, captures=len(captures))
            if needs_types and g.data(key)["domain"] == "":
                untyped.append(key)
        try:
            order = {n: i for i, n in enumerate(g.topo_order())}
        except GraphError as e:
            raise GraphError(f"{self.label}: {e}") from None
        if untyped:
            for key in sorted(untyped, key=order.__getitem__):
                self._fill_types(g, key)
        for vi in gp.output:
            if vi.name not in env and resolve_outer is None:
                raise ModelFormatError(f"{self.label}: graph output {vi.name!r} of {g.name!r} is not produced "
                                       f"by any node, input or initializer")
            g.add_output(vi.name, lookup(vi.name, f"output {vi.name!r}"))
        return g

    def _define(self, env, name, value, label, g):
        if name in env:
            raise ModelFormatError(f"{self.label}: node {label} writes {name!r}, which graph {g.name!r} already "
                                   f"defines; every value must have one producer")
        env[name] = value

    @staticmethod
    def _fill_types(g: Graph, key: str) -> None:
        from graphc.ops import infer_node

        d = g.data(key)
        try:
            inferred = infer_node(g, key, len(d["outputs"]))
        except GraphcError:
            return
        if inferred:
            g.set_output_types(key, [t if t is not None else TensorType() for t in inferred[: len(d["outputs"])]])


def load(src, *, variables: bool = False, convert_opset: bool = True, infer_types: bool = True) -> Graph:
    """Read an ONNX model (path, bytes or ModelProto) into a `Graph`.

    `variables=True` makes initializers trainable `Variable`s instead of `Constant`s.
    """
    model, label, folder = read_model_proto(src)
    _check_text(model, label)
    _load_external_data(model, label, folder)
    note = None
    if convert_opset:
        model, note = _convert_opset(model, TARGET_OPSET)
    strict_error = None
    if infer_types:
        try:
            model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        except Exception as e:
            # ONNX itself rejects the model (sometimes its own function bodies): remember it, so
            # the exporter does not hold graphc's output to a stricter bar than its input met.
            strict_error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            try:
                model = onnx.shape_inference.infer_shapes(model, data_prop=True)
            except Exception:
                pass  # types then come from the registry, or stay unknown for opaque ops
    opsets = {(o.domain if o.domain != "ai.onnx" else ""): o.version for o in model.opset_import}
    opsets.setdefault("", TARGET_OPSET)
    g = _Importer(label, variables, opsets).graph(model.graph)
    g.meta.update(
        ir_version=model.ir_version, producer_name=model.producer_name, producer_version=model.producer_version,
        domain=model.domain, model_version=model.model_version, model_doc_string=model.doc_string,
        metadata_props={p.key: p.value for p in model.metadata_props},
        functions=[f.SerializeToString() for f in model.functions], source=label,
    )
    if note:
        g.meta["opset_note"] = note
    if strict_error:
        g.meta["source_inference_error"] = strict_error
    return g
