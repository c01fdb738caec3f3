"""The registry's traits drive the passes: every op the registry calls commutative is merged by CSE
with its operands swapped, every pointwise op lets Transposes sink through it, a nondeterministic
op is never merged; an op's trait is read from its entry, nowhere else."""
import numpy as np
import onnx
import pytest

from graphc.ir import Graph
from graphc.ops import REGISTRY
from graphc.passes import CommonSubexpressionElimination, DeadCodeElimination, TransposeOptimization
from tests.passes.helpers import check, f32, ops

FLOAT = "tensor(float)"


def _standard_ops_with(*traits):
    return sorted(op for (domain, op), spec in REGISTRY.items() if not domain and set(traits) <= spec.traits)


def _takes_float_without_attrs(op: str, n_inputs: int) -> bool:
    """The op's schema accepts float32 on its first `n_inputs` inputs and needs no attribute."""
    schema = onnx.defs.get_schema(op, 21)
    if any(a.required for a in schema.attributes.values()):
        return False
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    return all(FLOAT in allowed.get(p.type_str, {p.type_str}) for p in schema.inputs[:n_inputs])


COMMUTATIVE = [op for op in _standard_ops_with("commutative") if _takes_float_without_attrs(op, 2)]
POINTWISE_UNARY = [op for op in _standard_ops_with("pointwise", "unary") if _takes_float_without_attrs(op, 1)]
POINTWISE_NARY = [op for op in _standard_ops_with("pointwise", "nary") if _takes_float_without_attrs(op, 2)
                  and op not in ("Where",)]


def test_the_trait_lists_are_what_they_claim():
    assert {"Add", "Mul", "Max", "Min"} <= set(COMMUTATIVE) and "Sub" not in COMMUTATIVE
    assert {"Relu", "Exp", "Clip", "Sigmoid"} <= set(POINTWISE_UNARY) and "Softmax" not in POINTWISE_UNARY
    assert {"Add", "Sub", "Pow", "PRelu"} <= set(POINTWISE_NARY)


@pytest.mark.parametrize("op", COMMUTATIVE)
def test_cse_merges_swapped_operands_of_every_commutative_op(op):
    g = Graph()
    x, y = g.add_input("x", f32(2, 3)), g.add_input("y", f32(2, 3))
    g.add_output("a", (g.add_node(op, [x, y]), 0))
    g.add_output("b", (g.add_node(op, [y, x]), 0))
    out = check(g, [CommonSubexpressionElimination(), DeadCodeElimination()])
    assert ops(out) == [op]


def test_cse_keeps_swapped_operands_of_a_non_commutative_op_and_random_twins():
    g = Graph()
    x, y = g.add_input("x", f32(2, 3)), g.add_input("y", f32(2, 3))
    g.add_output("a", (g.add_node("Sub", [x, y]), 0))
    g.add_output("b", (g.add_node("Sub", [y, x]), 0))
    for i in range(2):  # outputs of Shape only, so the random values are not compared
        g.add_output(f"r{i}", (g.add_node("Shape", [(g.add_node("RandomNormalLike", [x]), 0)]), 0))
    out = check(g, [CommonSubexpressionElimination()], expect_change=False)
    assert ops(out).count("Sub") == 2 and ops(out).count("RandomNormalLike") == 2


def _sandwich(op: str, n_inputs: int) -> Graph:
    """Transpose -> op (other operands broadcast constants) -> inverse Transpose."""
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    t = (g.add_node("Transpose", [x], {"perm": [0, 2, 3, 1]}), 0)
    rng = np.random.default_rng(1)
    others = [g.add_constant(rng.uniform(0.5, 1.5, (3,)).astype(np.float32)) for _ in range(n_inputs - 1)]
    y = (g.add_node(op, [t, *others]), 0)
    g.add_output("y", (g.add_node("Transpose", [y], {"perm": [0, 3, 1, 2]}), 0))
    return g


@pytest.mark.parametrize("op, n_inputs", [(op, 1) for op in POINTWISE_UNARY] + [(op, 2) for op in POINTWISE_NARY])
def test_transposes_sink_through_every_pointwise_op(op, n_inputs):
    out = check(_sandwich(op, n_inputs), [TransposeOptimization(), DeadCodeElimination()])
    assert "Transpose" not in ops(out)
