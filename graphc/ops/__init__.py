"""The op registry and its families; importing this package registers every family."""
from graphc.ops.registry import REGISTRY, InferContext, OpSpec, infer_node, input_arity, lookup, register
from graphc.ops.gradient import GradContext, gradient, input_gradients, register_gradient
from graphc.ops import (cast, conv, elementwise, fused, matmul, misc, normalization, pool, reduce,  # noqa: F401
                        rnn, scan, shape)  # (each family registers on import)

__all__ = ["REGISTRY", "InferContext", "OpSpec", "infer_node", "input_arity", "lookup", "register",
           "GradContext", "gradient", "input_gradients", "register_gradient"]
