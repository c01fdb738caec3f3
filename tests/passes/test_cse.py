from graphc.ir import Graph
from graphc.passes import CommonSubexpressionElimination, DeadCodeElimination
from tests.passes.helpers import check, const, f32, ops


def test_merges_duplicates_transitively_and_commutative_operands():
    g = Graph()
    x = g.add_input("x", f32(2, 3))
    y = g.add_input("y", f32(2, 3))
    a1 = g.add_node("Add", [x, y])
    a2 = g.add_node("Add", [y, x])
    e1 = g.add_node("Exp", [(a1, 0)])
    e2 = g.add_node("Exp", [(a2, 0)])
    c1 = g.add_node("Mul", [(e1, 0), const(g, [1.0, 2.0, 3.0])])
    c2 = g.add_node("Mul", [(e2, 0), const(g, [1.0, 2.0, 3.0])])
    g.add_output("o1", (c1, 0))
    g.add_output("o2", (c2, 0))
    out = check(g, [CommonSubexpressionElimination(), DeadCodeElimination()])
    assert ops(out) == ["Add", "Exp", "Mul"]
    assert out.outputs[0][1] == out.outputs[1][1]


def test_keeps_different_attrs_order_sensitive_ops_and_random():
    g = Graph()
    x = g.add_input("x", f32(2, 3))
    y = g.add_input("y", f32(2, 3))
    s1 = g.add_node("Sub", [x, y])
    s2 = g.add_node("Sub", [y, x])
    l1 = g.add_node("LeakyRelu", [x], {"alpha": 0.1})
    l2 = g.add_node("LeakyRelu", [x], {"alpha": 0.2})
    r1 = g.add_node("RandomUniformLike", [x])
    r2 = g.add_node("RandomUniformLike", [x])
    for i, n in enumerate((s1, s2, l1, l2)):
        g.add_output(f"o{i}", (n, 0))
    g.add_output("r1", (g.add_node("Shape", [(r1, 0)]), 0))
    g.add_output("r2", (g.add_node("Shape", [(r2, 0)]), 0))
    out = check(g, [CommonSubexpressionElimination()], expect_change=False)
    assert ops(out).count("RandomUniformLike") == 2
