import numpy as np
import pytest

from graphc.errors import GraphcError, GraphError
from graphc.ir import Graph
from graphc.passes import PIPELINES, DeadCodeElimination, Pass, PassManager, PassStats, optimize
from tests.passes.helpers import const, f32, ops


def _graph():
    g = Graph()
    x = g.add_input("x", f32(2, 3))
    a = g.add_node("Identity", [x])
    n = g.add_node("Neg", [const(g, np.ones(3))])  # constant arithmetic
    b = g.add_node("Add", [(a, 0), (n, 0)])
    g.add_node("Exp", [x])  # dead
    g.add_output("y", (b, 0))
    return g


def test_levels_return_a_copy_and_leave_the_input_alone():
    g = _graph()
    before = repr(g)
    assert set(PIPELINES) == {"O0", "O1", "O2"}
    o0 = optimize(g, "O0")
    assert o0 is not g and repr(o0) == before
    o2 = optimize(g, "O2", verify=True)
    assert repr(g) == before
    assert ops(o2) == ["Add"]
    with pytest.raises(GraphcError, match="unknown optimization level"):
        optimize(g, "O7")


def test_stats_table_and_fixed_point():
    stats = PassStats()
    optimize(_graph(), "O1", stats=stats)
    table = str(stats)
    assert "dead-code-elimination" in table and "constant-folding" in table and "total" in table
    rec = stats.records["constant-folding"]
    assert rec.rewrites >= 1 and rec.nodes_before > rec.nodes_after
    assert stats.rounds >= 2  # the last round is the one that finds nothing to do


def test_verify_names_the_pass_that_broke_the_graph():
    class Breaker(Pass):
        name = "breaker"

        def run(self, graph):
            graph.outputs.append(("dangling", ("nowhere", 0)))
            return 1

    with pytest.raises(GraphError, match="after pass 'breaker'"):
        PassManager([DeadCodeElimination(), Breaker()], verify=True).run(_graph())
