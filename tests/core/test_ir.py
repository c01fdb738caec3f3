"""IR invariants: verify() names the offending node; mutators; copy, extract, topological order, summary."""
import numpy as np
import pytest

from graphc import Graph, GraphError, ShapeError, TensorType


def small_graph():
    g = Graph("small")
    x = g.add_input("x", TensorType(np.float32, ("batch", 4)))
    w = g.add_constant(np.ones((4,), np.float32), name="w")
    a = g.add_node("Add", [x, w], name="add")
    r = g.add_node("Relu", [(a, 0)], name="relu")
    g.add_output("y", (r, 0))
    return g


def test_types_are_inferred_with_symbolic_dims():
    g = small_graph()
    assert g.type_of(("add", 0)) == TensorType(np.float32, ("batch", 4))
    g.verify()
    assert g.topo_order().index("add") < g.topo_order().index("relu")


def test_verify_reports_a_cycle_with_its_nodes():
    g = small_graph()
    g.set_arity("add", 3)
    g.set_input("add", 2, ("relu", 0))
    with pytest.raises(GraphError, match=r"cycle: .*(add|relu)"):
        g.verify()


def test_verify_reports_a_port_fed_twice():
    g = small_graph()
    g.nx.add_edge("x", "relu", src=0, dst=0)
    with pytest.raises(GraphError, match=r"port 0 of node 'relu' \(Relu\).*fed twice"):
        g.verify()


def test_verify_reports_an_unfed_required_input():
    g = small_graph()
    g.set_input("add", 1, None)
    with pytest.raises(GraphError, match=r"required input 1 of node 'add'"):
        g.verify()


def test_verify_reports_inconsistent_types():
    g = small_graph()
    g.set_output_type(("relu", 0), TensorType(np.float32, ("batch", 5)))
    with pytest.raises(ShapeError, match=r"node 'relu'"):
        g.verify()


def test_verify_reports_a_missing_output():
    g = small_graph()
    g.outputs.append(("ghost", ("nope", 0)))
    with pytest.raises(GraphError, match="ghost"):
        g.verify()


def test_constant_value_must_match_its_type():
    g = small_graph()
    g.data("w")["attrs"]["value"] = np.ones((3,), np.float32)
    with pytest.raises(ShapeError, match=r"Constant 'w'"):
        g.verify()


def test_broadcast_mismatch_is_a_shape_error_naming_the_node():
    g = small_graph()
    bad = g.add_constant(np.ones((3,), np.float32), name="bad")
    with pytest.raises(ShapeError, match="do not broadcast"):
        g.add_node("Mul", [("relu", 0), bad], name="mul")


def test_copy_is_independent():
    g = small_graph()
    h = g.copy()
    h.replace_uses(("relu", 0), ("add", 0))
    h.remove_node("relu")
    g.verify(), h.verify()
    assert "relu" in g and "relu" not in h
    assert g.outputs == [("y", ("relu", 0))] and h.outputs == [("y", ("add", 0))]


def test_extract_cuts_at_given_values():
    g = small_graph()
    sub = g.extract(outputs=[("relu", 0)], inputs=[("add", 0)])
    sub.verify()
    assert [sub.op(n) for n in sub.topo_order()] == ["Input", "Relu"]
    whole = g.extract(outputs=[("relu", 0)])
    assert set(whole.nx.nodes) == {"x", "w", "add", "relu"} and whole.inputs == ["x"]


def test_repr_and_summary_are_readable():
    g = small_graph()
    text = repr(g)
    assert "add = Add(x, w) -> float32[batch,4]" in text and "return y=relu" in text
    s = g.summary()
    assert "parameters: 4 (16 bytes)" in s and "Add×1" in s


def test_multi_edges_between_one_pair():
    g = Graph()
    x = g.add_input("x", TensorType(np.float32, (3,)))
    m = g.add_node("Mul", [x, x])
    g.add_output("y", (m, 0))
    g.verify()
    assert g.input_values(m) == [x, x]
    assert sorted(p for _, p in g.consumers(x)) == [0, 1]


def test_set_input_refuses_a_port_the_node_lacks():
    g = small_graph()
    with pytest.raises(GraphError, match=r"node 'relu' \(Relu\) has 1 input ports, not port 1"):
        g.set_input("relu", 1, ("x", 0))


def test_set_arity_widens_and_narrows_keeping_captures_last():
    g = Graph()
    c = g.add_input("c", TensorType(np.bool_, ()))
    x = g.add_input("x", TensorType(np.float32, (3,)))
    body = Graph("branch")
    body.add_output("out", body.add_capture(0, TensorType(np.float32, (3,)), "cap_x"))
    node = g.add_node("If", [c, x], {"then_branch": body, "else_branch": body.copy()},
                      outputs=[TensorType(np.float32, (3,))], captures=1)
    g.add_output("y", (node, 0))
    g.verify()
    g.set_arity(node, 3)  # two absent formal inputs, then the capture
    assert g.input_values(node) == [c, None, None, x] and g.data(node)["captures"] == 1
    g.set_arity(node, 1)
    assert g.input_values(node) == [c, x]
    g.verify()


def test_set_inputs_rewires_every_port():
    g = small_graph()
    g.set_inputs("add", [("x", 0), ("x", 0), None])
    assert g.input_values("add") == [("x", 0), ("x", 0), None]
    assert sorted(p for _, p in g.consumers(("x", 0))) == [0, 1]
    assert not g.consumers(("w", 0))
    with pytest.raises(GraphError, match="not a value"):
        g.set_inputs("add", [("ghost", 0)])
    assert g.input_values("add") == [("x", 0), ("x", 0), None]  # a refused rewiring changes nothing


def test_output_types_and_names():
    g = small_graph()
    g.set_output_types("relu", [TensorType(np.float32, (2, 4)), TensorType(np.bool_, (2, 4))])
    assert g.data("relu")["names"] == [None, None] and g.type_of(("relu", 1)).dtype == np.bool_
    g.set_output_names("relu", ["r", "mask"])
    assert g.value_label(("relu", 1)) == "mask"
    with pytest.raises(GraphError, match="1 names for 2 outputs"):
        g.set_output_names("relu", ["r"])


def test_retarget_outputs_leaves_node_readers_and_replace_uses_moves_both():
    g = small_graph()
    n = g.add_node("Neg", [("add", 0)], name="neg")
    g.add_output("a", ("add", 0))
    g.retarget_outputs(("add", 0), ("relu", 0))
    assert dict(g.outputs)["a"] == ("relu", 0) and g.input_values(n) == [("add", 0)]
    g.replace_uses(("add", 0), ("x", 0))
    assert g.input_values(n) == [("x", 0)] and g.input_values("relu") == [("x", 0)]
    g.verify()


def test_set_op_keeps_the_inputs():
    g = small_graph()
    g.set_op("add", "Sub")
    assert g.op("add") == "Sub" and g.input_values("add") == [("x", 0), ("w", 0)]
    g.verify()
