"""Helpers shared by the passes: the `Pass` base class, node predicates, constants, permutations."""
from __future__ import annotations

import numpy as np

from graphc.ir import SOURCE_OPS, Graph, Value
from graphc.types import TensorType

# Ops whose result is not a function of their inputs: never folded, merged or moved.
NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                              "Multinomial", "Bernoulli"})

# Pointwise ops whose inputs and output broadcast together (the ONNX multidirectional rule,
# unidirectional for PRelu and Clip's bounds) and carry no axis attribute.
UNARY_POINTWISE = frozenset({
    "Abs", "Neg", "Floor", "Ceil", "Round", "Sqrt", "Reciprocal", "Exp", "Log", "Sin", "Cos", "Tan",
    "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf", "Sign", "Identity",
    "Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "ThresholdedRelu",
    "HardSigmoid", "HardSwish", "Mish", "Gelu", "Celu", "Shrink", "BitwiseNot", "Not", "IsNaN", "IsInf",
    "Cast",
})
NARY_POINTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "BitShift", "BitwiseAnd",
    "BitwiseOr", "BitwiseXor", "PRelu", "And", "Or", "Xor", "Equal", "Less", "Greater", "LessOrEqual",
    "GreaterOrEqual", "Where", "Clip",
})
POINTWISE = UNARY_POINTWISE | NARY_POINTWISE


class Pass:
    """A graph rewrite: `run(graph)` mutates `graph` in place and returns the number of rewrites."""

    name = "pass"

    def run(self, graph: Graph) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<pass {self.name}>"


# ---- node predicates ------------------------------------------------------------------------

def opset(g: Graph) -> int:
    return g.opset_imports.get("", 1)


def is_op(g: Graph, node: str, *ops: str) -> bool:
    """`node` is a standard-domain op among `ops`."""
    d = g.nx._node[node]
    return d["op"] in ops and d["domain"] == ""


def has_subgraph(g: Graph, node: str) -> bool:
    for v in g.nx._node[node]["attrs"].values():
        if isinstance(v, Graph) or (type(v) is list and v and isinstance(v[0], Graph)):
            return True
    return False


def movable(g: Graph, node: str) -> bool:
    """A plain standard op that a pass may fold, merge or rewrite: no body graph, no randomness,
    no outer-scope captures."""
    d = g.nx._node[node]
    return (d["domain"] == "" and d["op"] not in NONDETERMINISTIC and not d["captures"]
            and d["op"] not in SOURCE_OPS and not has_subgraph(g, node))


def tensor_type(g: Graph, v: Value | None) -> TensorType | None:
    """The TensorType of `v` when its dtype and shape are known (symbols allowed), else None."""
    if v is None:
        return None
    t = g.type_of(v)
    if isinstance(t, TensorType) and t.dtype is not None and t.shape is not None:
        return t
    return None


def rank(g: Graph, v: Value) -> int | None:
    t = g.type_of(v)
    return t.rank if isinstance(t, TensorType) else None


def used(g: Graph, v: Value) -> bool:
    """Some node or graph output reads `v`."""
    return bool(g.consumers(v)) or g.is_output(v)


def sole_consumer(g: Graph, v: Value):
    """The (node, port) reading `v` when it is the only reader and `v` is not a graph output."""
    cons = g.consumers(v)
    if len(cons) != 1 or g.is_output(v):
        return None
    return cons[0]


def only_first_output_used(g: Graph, node: str) -> bool:
    return all(not used(g, (node, i)) for i in range(1, len(g.nx._node[node]["outputs"])))


def branch_condition_cone(g: Graph) -> set[str]:
    """Nodes an If condition depends on. Folding passes leave them computed: ONNX Runtime inlines
    an If whose condition it can compute at load time and re-checks the branch with stricter
    shape inference, which rejects models that run fine otherwise (ONNX's own AffineGrid
    function body, for one)."""
    cone: set[str] = set()
    stack = [u for n, d in g.nx.nodes.items() if d["op"] == "If" and d["domain"] == ""
             for u, _, e in g.nx.in_edges(n, data=True) if e["dst"] == 0]
    while stack:
        n = stack.pop()
        if n not in cone:
            cone.add(n)
            stack.extend(g.nx.pred[n])
    return cone


def producer(g: Graph, node: str, port: int) -> Value | None:
    """The value on input `port` of `node` (None when absent or beyond its ports)."""
    ins = g.input_values(node)
    return ins[port] if port < len(ins) else None


def const_input(g: Graph, node: str, port: int):
    """The constant array on input `port` of `node`, else None."""
    return g.const_value(producer(g, node, port))


def bypass(g: Graph, node: str, value: Value) -> None:
    """Make the readers of `node`'s output 0 read `value`, then drop `node`."""
    g.replace_uses((node, 0), value)
    g.remove_node(node)


def remove_if_dead(g: Graph, node: str) -> None:
    if node in g.nx and not g.is_source(node) and not any(
            used(g, (node, i)) for i in range(len(g.nx._node[node]["outputs"]))):
        g.remove_node(node)


def add_constant(g: Graph, array, near: str) -> Value:
    return g.add_constant(np.asarray(array), name=f"{near}_const")


def add_op(g: Graph, op: str, inputs, attrs: dict | None, out: TensorType, near: str) -> str:
    """A new single-output standard node typed `out` (passes know their result types)."""
    return g.add_node(op, inputs, attrs, outputs=[out], name=f"{near}_{op.lower()}")


# ---- attribute and argument readers ---------------------------------------------------------

def int_list(x) -> list[int] | None:
    return None if x is None else [int(v) for v in np.asarray(x).reshape(-1)]


def axes_arg(g: Graph, node: str, port: int, attr: str = "axes"):
    """An axes-like argument given as input `port` (newer opsets) or attribute: a list of ints,
    None when absent, or False when it is a non-constant input."""
    vals = g.input_values(node)
    if port < len(vals) and vals[port] is not None:
        arr = g.const_value(vals[port])
        return False if arr is None else int_list(arr)
    a = g.nx._node[node]["attrs"].get(attr)
    return None if a is None else [int(v) for v in a]


# ---- permutations ---------------------------------------------------------------------------

def invert(perm) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def compose(first, then) -> list[int]:
    """The perm of Transpose(Transpose(x, first), then)."""
    return [first[t] for t in then]


def is_identity(perm) -> bool:
    return all(i == p for i, p in enumerate(perm))


def permute(shape, perm) -> tuple:
    return tuple(shape[p] for p in perm)


def transpose_perm(g: Graph, node: str) -> list[int] | None:
    """The perm of Transpose `node` (ONNX's default reverses the axes), None when the rank is unknown."""
    perm = g.nx._node[node]["attrs"].get("perm")
    if perm is not None:
        return [int(p) for p in perm]
    r = rank(g, g.input_values(node)[0])
    return None if r is None else list(range(r))[::-1]


# ---- reshape targets ------------------------------------------------------------------------

def reshape_target(in_shape, out_shape) -> list[int] | None:
    """A constant Reshape shape (allowzero=0) taking a tensor of `in_shape` to `out_shape`, or None.

    Known dims are written out; a symbolic dim sitting at the same position in both shapes is
    copied with 0; one remaining unknown dim becomes -1 (only when no known dim is 0, which
    would make -1 ambiguous)."""
    if in_shape is None or out_shape is None:
        return None
    target, unknown = [], 0
    for i, d in enumerate(out_shape):
        if isinstance(d, int):
            if d == 0:
                return None  # with allowzero=0 a literal 0 means "copy", not "empty"
            target.append(d)
        elif isinstance(d, str) and i < len(in_shape) and in_shape[i] == d:
            target.append(0)
        else:
            target.append(-1)
            unknown += 1
    if unknown > 1 or (unknown and any(d == 0 for d in in_shape if isinstance(d, int))):
        return None
    return target
