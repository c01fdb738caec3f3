"""Every op a family registers has differential cases; symbolic batch dims flow through a network."""
import importlib
from unittest import mock

import numpy as np
import pytest

from graphc.errors import RegistryError
from graphc.ir import GRAPHC_DOMAIN, Graph
from graphc.lower.onnx_forms import FORMS
from graphc.ops import REGISTRY, conv, matmul, misc, normalization, pool, reduce, register, registry, rnn, shape
from graphc.ops.registry import traits_of
from graphc.types import TensorType
from tests.ops import Case, test_conv, test_matmul, test_misc, test_normalization, test_pool, test_reduce, \
    test_rnn, test_shape

FAMILIES = (matmul, conv, pool, normalization, shape, reduce, rnn, misc)
CASE_MODULES = (test_matmul, test_conv, test_pool, test_normalization, test_shape, test_reduce, test_rnn,
                test_misc)


def _registered_by(module) -> set[str]:
    names = []
    real = registry.register

    def spy(*ops, **kw):
        names.extend(ops)
        return real(*ops, **kw)

    with mock.patch.object(registry, "register", spy):
        importlib.reload(module)
    return set(names)


def _covered() -> set[str]:
    ops = set()
    for m in CASE_MODULES:
        for v in vars(m).values():
            if isinstance(v, list):
                ops |= {p.values[0].op for p in v if getattr(p, "values", None) and isinstance(p.values[0], Case)}
    return ops


def test_every_registered_op_has_cases():
    registered = set().union(*map(_registered_by, FAMILIES))
    assert not registered - _covered()


def test_the_onnx_lowering_writes_every_graphc_op():
    graphc_ops = {op for domain, op in REGISTRY if domain == GRAPHC_DOMAIN}
    assert graphc_ops == {"FusedConv", "FusedGemm", "FusedAdd"}
    assert graphc_ops <= {op for domain, op in FORMS if domain == GRAPHC_DOMAIN}


@pytest.mark.parametrize("op, traits", [("Add", {"pointwise", "nary", "commutative"}), ("Sub", {"pointwise", "nary"}),
                                        ("Clip", {"pointwise", "unary"}), ("Cast", {"pointwise", "unary"}),
                                        ("RandomNormal", {"nondeterministic"}), ("ReduceMean", {"reduce_axes"}),
                                        ("Softmax", {"along_axis"}), ("Conv", set()), ("MyOpaqueOp", set())])
def test_traits_live_on_the_entry(op, traits):
    assert traits_of(op) == traits


def test_every_trait_is_documented_and_unknown_ones_are_refused():
    assert set().union(*(spec.traits for spec in REGISTRY.values())) <= set(registry.TRAITS)
    with pytest.raises(RegistryError, match="unknown op traits"):
        register("Relu", traits=("pointwize",))


def test_symbolic_batch_through_a_cnn():
    g = Graph()
    x = g.add_input("x", TensorType(np.float32, ("batch", 3, 32, 32)))
    w = g.add_variable(np.zeros((8, 3, 3, 3), np.float32))
    y = (g.add_node("Conv", [x, w], {"pads": [1, 1, 1, 1]}), 0)
    y = (g.add_node("Relu", [y]), 0)
    y = (g.add_node("MaxPool", [y], {"kernel_shape": [2, 2], "strides": [2, 2]}), 0)
    y = (g.add_node("Reshape", [y, g.add_constant(np.array([0, -1]))]), 0)
    y = (g.add_node("MatMul", [y, g.add_variable(np.zeros((8 * 16 * 16, 10), np.float32))]), 0)
    y = (g.add_node("ReduceMean", [y, g.add_constant(np.array([1]))], {"keepdims": 0}), 0)
    g.add_output("y", y)
    g.verify()
    assert g.type_of(y) == TensorType(np.float32, ("batch",))


def test_symbolic_batch_through_an_lstm():
    g = Graph()
    x = g.add_input("x", TensorType(np.float32, ("seq", "batch", 5)))
    lstm = g.add_node("LSTM", [x, g.add_variable(np.zeros((2, 16, 5), np.float32)),
                               g.add_variable(np.zeros((2, 16, 4), np.float32))],
                      {"hidden_size": 4, "direction": "bidirectional"}, n_outputs=3)
    y = (g.add_node("Transpose", [(lstm, 0)], {"perm": [0, 2, 1, 3]}), 0)
    y = (g.add_node("Reshape", [y, g.add_constant(np.array([0, 0, -1]))]), 0)
    g.add_output("y", y)
    g.verify()
    assert g.type_of(y) == TensorType(np.float32, ("seq", "batch", 8))
    assert g.type_of((lstm, 2)) == TensorType(np.float32, (2, "batch", 4))
