"""The whole O1 and O2 pipelines, by difference, on random DAGs of elementwise, matmul, conv,
transpose, reshape, concat, pad, reduce and BatchNormalization ops."""
import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphc.ir import Graph
from tests.passes.helpers import check, f32

_UNARY = ["Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Identity", "LeakyRelu"]
_BINARY = ["Add", "Mul", "Sub", "Max"]


def _build(data) -> Graph:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    g = Graph("random")
    x = g.add_input("x", f32(2, 3, 4, 4))
    values = [x]
    perms = []  # perms used so far: later transposes often undo one, as layout sandwiches do

    def c(*shape):
        return g.add_constant((rng.standard_normal(shape) * 0.5).astype(np.float32))

    def shape(v):
        return g.type_of(v).shape

    for _ in range(data.draw(st.integers(2, 20), label="n_ops")):
        v = values[-1 - data.draw(st.integers(0, min(3, len(values) - 1)), label="operand")]
        s = shape(v)
        r = len(s)
        kind = data.draw(st.sampled_from(["unary", "binary", "const", "transpose", "reshape", "concat", "bn",
                                          "matmul", "conv", "pad", "reduce", "softmax", "clip"]), label="kind")
        if kind == "unary":
            n = g.add_node(data.draw(st.sampled_from(_UNARY)), [v])
        elif kind == "binary":
            same = [w for w in values if shape(w) == s]
            n = g.add_node(data.draw(st.sampled_from(_BINARY)), [v, data.draw(st.sampled_from(same))])
        elif kind == "const":
            axis = data.draw(st.integers(0, r), label="axis")  # r: a scalar
            cs = () if axis == r else tuple(d if i == axis else 1 for i, d in enumerate(s))[axis:]
            k = c(*cs)
            if data.draw(st.booleans(), label="folded"):  # a constant computed from constants
                k = (g.add_node("Neg", [k]), 0)
            n = g.add_node(data.draw(st.sampled_from(_BINARY)), [v, k])
        elif kind == "transpose":
            undo = [p for p in perms if len(p) == r]
            if undo and data.draw(st.booleans(), label="undo"):
                p = data.draw(st.sampled_from(undo))
                perm = [p.index(i) for i in range(r)]
            else:
                perm = list(data.draw(st.sampled_from(list(itertools.permutations(range(r))))))
            perms.append(perm)
            n = g.add_node("Transpose", [v], {"perm": perm})
        elif kind == "reshape":
            target = list(s[::-1]) if data.draw(st.booleans()) else [s[0], -1]
            n = g.add_node("Reshape", [v, g.add_constant(np.array(target, np.int64))])
        elif kind == "concat":
            n = g.add_node("Concat", [v, v], {"axis": data.draw(st.integers(-r, r - 1))})
        elif kind == "bn" and r >= 2:
            ch = s[1]
            n = g.add_node("BatchNormalization", [v, c(ch), c(ch), c(ch), g.add_constant(
                rng.random(ch).astype(np.float32) + 0.5)])
        elif kind == "matmul":
            n = g.add_node("MatMul", [v, c(s[-1], 3)])
            if data.draw(st.booleans()):
                n = g.add_node("Add", [(n, 0), c(3)])
        elif kind == "conv" and r == 4 and s[2] >= 3 and s[3] >= 3:
            k = data.draw(st.sampled_from([1, 3]))
            n = g.add_node("Conv", [v, c(4, s[1], k, k), c(4)], {"pads": [k // 2] * 4})
        elif kind == "pad":
            pads = [data.draw(st.integers(0, 1)) for _ in range(2 * r)]
            n = g.add_node("Pad", [v, g.add_constant(np.array(pads, np.int64))])
        elif kind == "reduce" and r >= 2:
            axes = sorted(data.draw(st.sets(st.integers(0, r - 1), min_size=1, max_size=r - 1)))
            n = g.add_node("ReduceMean", [v, g.add_constant(np.array(axes, np.int64))],
                           {"keepdims": int(data.draw(st.booleans()))})
        elif kind == "softmax":
            n = g.add_node("Softmax", [v], {"axis": data.draw(st.integers(-r, r - 1))})
        elif kind == "clip":
            n = g.add_node("Clip", [v, g.add_constant(np.float32(0)), g.add_constant(np.float32(1.5))])
        else:
            continue
        values.append((n, 0))
    outs = [values[-1]] + data.draw(st.lists(st.sampled_from(values[1:] or values), max_size=2), label="outs")
    for i, v in enumerate(dict.fromkeys(outs)):
        g.add_output(f"y{i}", v)
    return g


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_o2_preserves_outputs(data):
    check(_build(data), "O2", rtol=1e-4, atol=1e-4, seeds=(0,))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_o1_preserves_outputs(data):
    check(_build(data), "O1", rtol=1e-4, atol=1e-4, seeds=(0,))
