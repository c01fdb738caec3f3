"""IR invariants: verify() names the offending node; copy, extract, topological order, summary."""
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
    g.nx.add_edge("relu", "add", src=0, dst=2)
    g.data("add")["n_inputs"] = 3
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
    g.data("relu")["outputs"] = [TensorType(np.float32, ("batch", 5))]
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
