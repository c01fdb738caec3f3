"""The reverse-mode walk: what it builds (pruning by what the loss reads and what is trainable),
how it sums contributions and handles multi-output nodes, and its errors."""
from __future__ import annotations

import numpy as np
import pytest
from onnx.reference import ReferenceEvaluator

from graphc.autodiff import gradient_graph, gradients
from graphc.errors import InputError, UnsupportedOpError
from graphc.gradcheck import check_gradients
from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.types import TensorType

F64 = np.float64
RNG = np.random.default_rng(0)


def _mlp():
    g = Graph("mlp")
    x = g.add_input("x", TensorType(F64, ("batch", 3)))
    w1 = g.add_variable(RNG.standard_normal((3, 4)), "w1")
    b1 = g.add_variable(RNG.standard_normal(4), "b1")
    w2 = g.add_variable(RNG.standard_normal((4, 2)), "w2")
    h = (g.add_node("Tanh", [(g.add_node("Add", [(g.add_node("MatMul", [x, w1]), 0), b1]), 0)]), 0)
    y = (g.add_node("MatMul", [h, w2]), 0)
    loss = (g.add_node("ReduceSumSquare", [y], {"keepdims": 0}, name="loss"), 0)
    g.add_output("loss", loss)
    return g, loss


def test_gradient_graph_outputs_the_loss_then_one_gradient_per_variable():
    g, loss = _mlp()
    gg = gradient_graph(g, loss)
    gg.verify()
    assert [n for n, _ in gg.outputs] == ["loss", "grad/w1", "grad/b1", "grad/w2"]
    for name, v in gg.outputs[1:]:
        assert gg.type_of(v) == g.type_of((name[len("grad/"):], 0))
    result = check_gradients(g, loss, feeds={"x": RNG.standard_normal((5, 3))})
    assert result.passed, result.report()
    assert len(g) == len(_mlp()[0])  # the forward graph is left as it was


def test_a_parameter_the_loss_does_not_read_gets_no_gradient_nodes():
    g, loss = _mlp()
    side = g.add_variable(RNG.standard_normal(4), "side")
    other = (g.add_node("Mul", [side, side], name="other"), 0)  # read, but not by the loss
    g.add_output("other", other)
    before = set(g.nodes)
    grads = gradients(g, loss)
    assert set(grads) == {"w1", "b1", "w2"}
    new = set(g.nodes) - before
    assert not any(n.startswith("other/") for n in new)  # no backward node for the unread branch
    assert all(g.op(n) not in ("Variable",) for n in new)
    zeros = gradients(g, loss, wrt=["side"], unconnected="zeros")
    np.testing.assert_array_equal(g.const_value(zeros["side"]), np.zeros(4))


def test_frozen_variables_and_constants_get_no_gradient():
    g, loss = _mlp()
    g.data("w1")["attrs"]["trainable"] = False
    grads = gradients(g, loss)
    assert set(grads) == {"b1", "w2"}
    # the first MatMul reads only the input and the frozen weight: no backward node for it
    first = next(n for n in g.nodes if g.op(n) == "MatMul" and ("w1", 0) in g.input_values(n))
    assert not any(n.startswith(f"{first}/grad") for n in g.nodes)
    assert any(n.startswith("loss/grad") for n in g.nodes)


def test_integer_paths_carry_no_gradient():
    """Shape -> ConstantOfShape and a Cast to int read the parameter but pass no gradient."""
    g = Graph()
    w = g.add_variable(RNG.standard_normal((2, 3)), "w")
    shape = (g.add_node("Shape", [w]), 0)
    ones = (g.add_node("ConstantOfShape", [shape], {"value": np.ones(1, F64)}), 0)
    as_int = (g.add_node("Cast", [w], {"to": 7}), 0)
    back = (g.add_node("Cast", [as_int], {"to": 11}), 0)
    y = (g.add_node("Mul", [(g.add_node("Add", [w, back]), 0), ones]), 0)
    loss = (g.add_node("ReduceSum", [y], {"keepdims": 0}), 0)
    grads = gradients(g, loss)
    g.add_output("dw", grads["w"])
    (dw,) = ReferenceEvaluator(to_onnx(g)).run(None, {})[-1:]
    np.testing.assert_allclose(dw, np.ones((2, 3)))  # only the Add path: the integer round trip is flat


def test_a_value_read_several_times_sums_its_contributions():
    g = Graph()
    w = g.add_variable(RNG.standard_normal(3), "w")
    y = (g.add_node("Mul", [(g.add_node("Mul", [w, w]), 0), w]), 0)  # w^3, w read three times
    loss = (g.add_node("ReduceSum", [y], {"keepdims": 0}), 0)
    g.add_output("loss", loss)
    gg = gradient_graph(g, loss)
    (_, dw) = ReferenceEvaluator(to_onnx(gg)).run(None, {})
    np.testing.assert_allclose(dw, 3 * g.attrs("w")["value"] ** 2)


def test_multi_output_nodes_with_an_unused_output():
    g = Graph()
    w = g.add_variable(RNG.standard_normal((6, 2)), "w")
    key = g.add_node("Split", [w, g.add_constant(np.array([2, 1, 3], np.int64))], {"axis": 0}, n_outputs=3)
    y = (g.add_node("Add", [(g.add_node("ReduceSum", [(key, 0)], {"keepdims": 0}), 0),
                           (g.add_node("ReduceSumSquare", [(key, 2)], {"keepdims": 0}), 0)]), 0)
    g.add_output("loss", y)
    result = check_gradients(g, y)
    assert result.passed, result.report()
    (_, dw) = ReferenceEvaluator(to_onnx(gradient_graph(g, y))).run(None, {})
    wv = g.attrs("w")["value"]
    np.testing.assert_allclose(dw, np.concatenate([np.ones((2, 2)), np.zeros((1, 2)), 2 * wv[3:]]))


def test_gradients_with_respect_to_inputs_and_intermediate_values():
    g, loss = _mlp()
    hidden = next(n for n in g.nodes if g.op(n) == "Tanh")
    grads = gradients(g, loss, wrt=["x", (hidden, 0)])
    assert set(grads) == {"x", hidden}
    assert g.type_of(grads["x"]) == TensorType(F64, ("batch", 3))
    result = check_gradients(g, loss, feeds={"x": RNG.standard_normal((2, 3))}, wrt=["x", "w2"])
    assert result.passed, result.report()


def test_non_scalar_loss_is_summed():
    g = Graph()
    w = g.add_variable(RNG.standard_normal((2, 3)), "w")
    y = (g.add_node("Mul", [w, w]), 0)
    (_, dw) = ReferenceEvaluator(to_onnx(gradient_graph(g, y))).run(None, {})
    np.testing.assert_allclose(dw, 2 * g.attrs("w")["value"])


def test_an_op_without_a_rule_names_the_op_and_node():
    g = Graph()
    w = g.add_variable(RNG.standard_normal(3), "w")
    y = (g.add_node("Sin", [w], name="my_sin"), 0)
    with pytest.raises(UnsupportedOpError, match=r"'my_sin'.*Sin has no gradient rule"):
        gradients(g, (g.add_node("ReduceSum", [y], {"keepdims": 0}), 0))
    h = Graph()
    v = h.add_variable(RNG.standard_normal(3), "v")
    z = (h.add_node("Mystery", [v], domain="com.example", outputs=[TensorType(F64, (3,))], name="mine"), 0)
    with pytest.raises(UnsupportedOpError, match=r"'mine'.*com.example.Mystery is opaque"):
        gradients(h, z)


def test_bad_arguments_name_what_is_wrong():
    g, loss = _mlp()
    with pytest.raises(InputError, match="nowhere"):
        gradients(g, loss, wrt=["nowhere"])
    shape = (g.add_node("Shape", [("x", 0)]), 0)
    with pytest.raises(InputError, match="must be floating point"):
        gradients(g, shape)
    with pytest.raises(InputError, match="unconnected"):
        gradients(g, loss, unconnected="ignore")


def test_vjp_with_given_cotangents_of_two_outputs():
    """sum(c1 * y1) + sum(c2 * y2): the gradients of both meet at the shared input."""
    g = Graph()
    x = g.add_input("x", TensorType(F64, (2, 3)))
    w = g.add_variable(RNG.standard_normal((3, 3)), "w")
    y1 = (g.add_node("MatMul", [x, w]), 0)
    y2 = (g.add_node("Tanh", [x]), 0)
    c1, c2 = g.add_input("c1", TensorType(F64, (2, 3))), g.add_input("c2", TensorType(F64, (2, 3)))
    from graphc.autodiff import vjp

    grads = vjp(g, {y1: c1, y2: c2}, wrt=["x", "w"])
    g.outputs = [("dx", grads["x"]), ("dw", grads["w"])]
    xs, cs1, cs2 = (RNG.standard_normal((2, 3)) for _ in range(3))
    dx, dw = ReferenceEvaluator(to_onnx(g)).run(None, {"x": xs, "c1": cs1, "c2": cs2})
    wv = g.attrs("w")["value"]
    np.testing.assert_allclose(dx, cs1 @ wv.T + cs2 * (1 - np.tanh(xs) ** 2))
    np.testing.assert_allclose(dw, xs.T @ cs1)


def test_gradient_graph_can_keep_the_graph_outputs():
    g, loss = _mlp()
    y = g.input_values("loss")[0]
    g.add_output("y", y)
    gg = gradient_graph(g, loss, keep_outputs=True)
    assert [n for n, _ in gg.outputs] == ["loss", "grad/w1", "grad/b1", "grad/w2", "loss", "y"]
    x = RNG.standard_normal((2, 3))
    out = ReferenceEvaluator(to_onnx(gg)).run(None, {"x": x})
    np.testing.assert_allclose(out[4], out[0])
    np.testing.assert_allclose(out[0], np.sum(out[5] ** 2))
