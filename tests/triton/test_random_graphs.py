"""Random pointwise/reduction graphs (bounded: small shapes, a few ops) against ONNX Runtime."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphc.ir import Graph
from graphc.types import TensorType

from .conftest import check_against_ort

UNARY = ["Relu", "Tanh", "Sigmoid", "Exp", "Neg", "Abs", "Softsign", "Erf"]
BINARY = ["Add", "Sub", "Mul", "Max", "Min"]
REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"]


@st.composite
def graphs(draw):
    rank = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank)))
    g = Graph("random")
    x = g.add_input("x", TensorType(np.float32, shape))
    # a second input broadcast along some of the dims
    bshape = tuple(d if draw(st.booleans()) else 1 for d in shape)
    y = g.add_input("y", TensorType(np.float32, bshape))
    vals = [x, y]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "softmax"]))
        v = vals[-1]
        vshape = g.type_of(v).shape
        if kind == "unary":
            vals.append((g.add_node(draw(st.sampled_from(UNARY)), [v]), 0))
        elif kind == "binary":
            other = draw(st.sampled_from(vals))
            try:
                vals.append((g.add_node(draw(st.sampled_from(BINARY)), [v, other]), 0))
            except Exception:
                continue  # shapes that do not broadcast
        elif kind == "reduce" and len(vshape) > 0:
            axes = sorted(draw(st.sets(st.integers(0, len(vshape) - 1), min_size=1)))
            vals.append((g.add_node(draw(st.sampled_from(REDUCE)), [v, g.add_constant(np.array(axes, np.int64))],
                                    {"keepdims": 1}), 0))
        elif kind == "softmax" and len(vshape) > 0:
            vals.append((g.add_node(draw(st.sampled_from(["Softmax", "LogSoftmax"])), [v],
                                    {"axis": draw(st.integers(-len(vshape), len(vshape) - 1))}), 0))
    g.add_output("out", vals[-1])
    if vals[-1] != x and draw(st.booleans()):
        g.add_output("mid", vals[len(vals) // 2 + 1] if len(vals) > 3 else vals[-1])
    return g


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(), st.integers(0, 2**16))
def test_random_pointwise_reduction_graphs(g, seed):
    rng = np.random.default_rng(seed)
    feeds = {n: rng.standard_normal(g.type_of((n, 0)).shape).astype(np.float32) for n in g.inputs}
    for level in ("O0", "O2"):
        check_against_ort(g, feeds, rtol=1e-5, opt_level=level)
