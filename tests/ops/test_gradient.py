"""Gradient rules: the registration API refuses unknown ops and second rules; the Add/Mul/Relu rules,
chained by a small reverse-mode walk, match central finite differences under onnx.reference."""
import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

from graphc.errors import RegistryError, UnsupportedOpError
from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.ops import gradient, input_gradients, lookup, register_gradient
from graphc.types import TensorType


def test_a_rule_for_an_unknown_op_is_refused():
    with pytest.raises(RegistryError, match="NoSuchOp.*does not know it"):
        register_gradient("NoSuchOp", lambda ctx: [None])
    with pytest.raises(RegistryError, match="graphc.Relu"):
        gradient("Relu", domain="graphc")(lambda ctx: [None])


def test_a_second_rule_is_refused_and_the_first_stays():
    first = lookup("Add").grad
    assert first is not None
    with pytest.raises(RegistryError, match="Add already has a gradient rule"):
        register_gradient("Add", lambda ctx: [None, None])
    assert lookup("Add").grad is first
    assert register_gradient("Add", first) is first  # the same rule again (a reloaded module) is fine


def test_differentiating_an_op_without_a_rule_names_the_node():
    g = Graph()
    x = g.add_input("x", TensorType(np.float32, (3,)))
    sin = g.add_node("Sin", [x], name="my_sin")
    opaque = g.add_node("MyOp", [x], domain="com.example", outputs=[TensorType(np.float32, (3,))], name="mine")
    with pytest.raises(UnsupportedOpError, match="'my_sin'.*Sin has no gradient rule"):
        input_gradients(g, sin, [x])
    with pytest.raises(UnsupportedOpError, match="'mine'.*com.example.MyOp is opaque"):
        input_gradients(g, opaque, [x])


def _backprop(g: Graph, out, seed, wrt):
    """Reverse mode over the registry's rules: gradients of sum(seed * out) with respect to `wrt`."""
    grads = {out: seed}
    for n in reversed(g.topo_order()):
        outs = [grads.get((n, i)) for i in range(len(g.data(n)["outputs"]))]
        if g.is_source(n) or all(o is None for o in outs):
            continue
        for v, gv in zip(g.input_values(n), input_gradients(g, n, outs)):
            if v is not None and gv is not None:
                grads[v] = gv if v not in grads else (g.add_node("Add", [grads[v], gv]), 0)
    return [grads[v] for v in wrt]


def _numeric(f, arrays, i, eps=1e-6):
    out = np.zeros_like(arrays[i])
    for idx in np.ndindex(arrays[i].shape):
        hi = [a.copy() for a in arrays]
        lo = [a.copy() for a in arrays]
        hi[i][idx] += eps
        lo[i][idx] -= eps
        out[idx] = (f(*hi) - f(*lo)) / (2 * eps)
    return out


def test_add_mul_relu_rules_match_finite_differences():
    f64 = np.float64
    g = Graph()
    x = g.add_input("x", TensorType(f64, (3, 4)))
    w = g.add_input("w", TensorType(f64, (4,)))
    b = g.add_input("b", TensorType(f64, (1, 4)))
    dy = g.add_input("dy", TensorType(f64, (3, 4)))
    h = (g.add_node("Relu", [(g.add_node("Add", [(g.add_node("Mul", [x, w]), 0), b]), 0)]), 0)
    y = (g.add_node("Mul", [h, h]), 0)  # a value read twice: its two gradients add up
    for name, v in zip(("dx", "dw", "db"), _backprop(g, y, dy, [x, w, b])):
        g.add_output(name, v)
    g.verify()

    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((3, 4)), "w": rng.standard_normal(4), "b": rng.standard_normal((1, 4)),
             "dy": rng.standard_normal((3, 4))}
    got = ReferenceEvaluator(to_onnx(g)).run(None, feeds)

    def f(x, w, b):
        return float(np.sum(feeds["dy"] * np.maximum(x * w + b, 0) ** 2))

    args = [feeds["x"], feeds["w"], feeds["b"]]
    for i, have in enumerate(got):
        assert have.shape == args[i].shape
        np.testing.assert_allclose(have, _numeric(f, args, i), rtol=1e-6, atol=1e-8)


def test_unbroadcast_with_a_symbolic_batch():
    g = Graph()
    x = g.add_input("x", TensorType(np.float32, ("batch", 4)))
    b = g.add_input("b", TensorType(np.float32, (4,)))
    y = (g.add_node("Add", [x, b]), 0)
    dx, db = input_gradients(g, y[0], [y])  # seeded with y itself: db = y summed over the batch
    assert g.type_of(dx) == TensorType(np.float32, ("batch", 4))
    assert g.type_of(db) == TensorType(np.float32, (4,))
    g.add_output("db", db)
    xs = np.arange(12, dtype=np.float32).reshape(3, 4)
    (got,) = ReferenceEvaluator(to_onnx(g)).run(None, {"x": xs, "b": np.zeros(4, np.float32)})
    np.testing.assert_allclose(got, xs.sum(0))


def test_no_output_gradient_gives_no_input_gradients_and_unwanted_ones_are_dropped():
    g = Graph()
    x = g.add_input("x", TensorType(np.float32, (3,)))
    y = g.add_input("y", TensorType(np.float32, (3,)))
    m = g.add_node("Mul", [x, y])
    before = len(g)
    assert input_gradients(g, m, [None]) == [None, None] and len(g) == before
    dx, dy = input_gradients(g, m, [(m, 0)], wanted=[True, False])
    assert dy is None and g.type_of(dx) == TensorType(np.float32, (3,))
