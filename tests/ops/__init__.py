"""Differential checks of the op registry's type inference.

A `Case` is one single-node model. `check(case)` builds it twice, as an ONNX model and as a
graphc Graph, and asserts that the registry's output types equal what
`onnx.shape_inference.infer_shapes(strict_mode=True)` gives (dtype and every dim). It also runs
the model (`run`: "ort" for ONNX Runtime, "reference" for `onnx.reference`, None for neither),
symbols bound to the sizes in `SYMBOLS`, and checks every known dim of the registry's types
against the arrays that come out.

`refines=True` marks a case where the registry knows dims ONNX leaves unknown (for example
("batch", 3, 4) reshaped to (-1, 12) stays "batch"); there ONNX's unknown dims match anything,
and the run on ONNX Runtime is what checks the extra knowledge. `onnx_infer=False` marks a case
where ONNX's inference disagrees with what ONNX Runtime and `onnx.reference` compute; the
runtime is the judge there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from graphc.ir import Graph
from graphc.types import TensorType

SYMBOLS = {"batch": 2, "n": 3, "seq": 5, "h": 7, "w": 6}
DEFAULT_SYMBOL = 4  # the size of a symbol not in SYMBOLS and of an unknown (None) input dim


@dataclass
class T:
    """A graph input: dims may be ints, symbols or None; `feed` is the array fed to ONNX Runtime
    (default: random floats, zeros for ints, so that any index input is in range)."""

    shape: tuple | None
    dtype: object = np.float32
    feed: np.ndarray | None = None


@dataclass
class Case:
    op: str
    inputs: list  # per port: a `T`, a numpy array (a Constant) or None (absent)
    attrs: dict = field(default_factory=dict)
    n_outputs: int = 1
    opset: int = 21
    run: str | None = "ort"
    refines: bool = False
    onnx_infer: bool = True
    id: str = ""

    def __str__(self):
        return self.id or f"{self.op}-{self.opset}-{'-'.join(f'{k}={v}' for k, v in self.attrs.items())}"


def cases(*items: Case):
    """pytest params, one per case, named after the case."""
    return [pytest.param(c, id=str(c)) for c in items]


def _onnx_attr(v):
    return numpy_helper.from_array(v) if isinstance(v, np.ndarray) else v


def to_onnx(case: Case) -> onnx.ModelProto:
    inputs, inits, names = [], [], []
    for i, spec in enumerate(case.inputs):
        name = f"in{i}"
        if spec is None:
            name = ""
        elif isinstance(spec, T):
            elem = helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype))
            inputs.append(helper.make_tensor_value_info(name, elem, spec.shape))
        else:
            inits.append(numpy_helper.from_array(np.asarray(spec), name))
        names.append(name)
    outs = [f"out{i}" for i in range(case.n_outputs)]
    node = helper.make_node(case.op, names, outs, **{k: _onnx_attr(v) for k, v in case.attrs.items()})
    graph = helper.make_graph([node], "case", inputs, [helper.make_empty_tensor_value_info(o) for o in outs],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.opset)], ir_version=10)


def onnx_types(model: onnx.ModelProto) -> list[TensorType]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    out = []
    for vi in inferred.graph.output:
        tt = vi.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else None
        shape = None
        if tt.HasField("shape"):
            shape = tuple(d.dim_value if d.HasField("dim_value") else
                          d.dim_param if d.HasField("dim_param") and not d.dim_param.startswith("unk__") else None
                          for d in tt.shape.dim)
        out.append(TensorType(dtype, shape))
    return out


def graphc_types(case: Case) -> list[TensorType]:
    g = Graph()
    g.opset_imports = {"": case.opset}
    values = []
    for i, spec in enumerate(case.inputs):
        if spec is None:
            values.append(None)
        elif isinstance(spec, T):
            values.append(g.add_input(f"in{i}", TensorType(spec.dtype, spec.shape)))
        else:
            values.append(g.add_constant(np.asarray(spec), name=f"in{i}"))
    node = g.add_node(case.op, values, case.attrs, n_outputs=case.n_outputs)
    return g.data(node)["outputs"]


def _size(d) -> int:
    return d if isinstance(d, int) else SYMBOLS.get(d, DEFAULT_SYMBOL)


def _feed(spec: T, rng) -> np.ndarray:
    if spec.feed is not None:
        return spec.feed
    shape = tuple(_size(d) for d in spec.shape)
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    return np.zeros(shape, dtype)


def run(model: onnx.ModelProto, case: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {f"in{i}": _feed(s, rng) for i, s in enumerate(case.inputs) if isinstance(s, T)}
    if case.run == "reference":
        return ReferenceEvaluator(model).run(None, feeds)
    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures surface as exceptions; keep the test log clean
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _matches_onnx(mine: TensorType, theirs: TensorType, refines: bool) -> bool:
    if mine.dtype != theirs.dtype and not (refines and theirs.dtype is None):
        return False
    if theirs.shape is None:
        return mine.shape is None or refines
    if mine.shape is None or len(mine.shape) != len(theirs.shape):
        return False
    return all(a == b or (refines and b is None) for a, b in zip(mine.shape, theirs.shape))


def check(case: Case) -> list[TensorType]:
    mine = graphc_types(case)
    model = to_onnx(case)
    assert len(mine) == case.n_outputs
    theirs = onnx_types(model) if case.onnx_infer else []
    for i, (a, b) in enumerate(zip(mine, theirs)):
        assert _matches_onnx(a, b, case.refines), f"output {i}: graphc {a}, onnx {b}"
    if case.run:
        for i, (t, arr) in enumerate(zip(mine, run(model, case))):
            arr = np.asarray(arr)
            assert t.dtype == arr.dtype, f"output {i}: graphc {t}, {case.run} {arr.dtype}"
            if t.shape is not None:
                want = tuple(None if d is None else _size(d) for d in t.shape)
                got = tuple(None if w is None else a for w, a in zip(want, arr.shape))
                assert len(t.shape) == arr.ndim and got == want, \
                    f"output {i}: graphc {t} (bound {want}), {case.run} {list(arr.shape)}"
    return mine
