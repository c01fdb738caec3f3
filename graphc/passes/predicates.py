"""Questions passes ask about a node or value: its op and traits, whether it may move, its
constant arguments and known types, who reads it. Op facts come from the registry's traits."""
from __future__ import annotations

from graphc.ir import SOURCE_OPS, Graph, Value
from graphc.ops._shapes import ints, ints_arg
from graphc.ops.registry import InferContext, input_arity, traits_of
from graphc.types import TensorType


def opset(g: Graph) -> int:
    return g.opset_imports.get("", 1)


def is_op(g: Graph, node: str, *ops: str) -> bool:
    """`node` is a standard-domain op among `ops`."""
    d = g.data(node)
    return d["op"] in ops and d["domain"] == ""


def has_trait(g: Graph, node: str, trait: str) -> bool:
    """The registry entry of `node`'s op has `trait` (see graphc.ops.registry.TRAITS)."""
    d = g.data(node)
    return trait in traits_of(d["op"], d["domain"])


def has_subgraph(g: Graph, node: str) -> bool:
    for v in g.data(node)["attrs"].values():
        if isinstance(v, Graph) or (type(v) is list and v and isinstance(v[0], Graph)):
            return True
    return False


def movable(g: Graph, node: str) -> bool:
    """A plain standard op that a pass may fold, merge or rewrite: no body graph, no randomness,
    no outer-scope captures."""
    d = g.data(node)
    return (d["domain"] == "" and not d["captures"] and d["op"] not in SOURCE_OPS
            and "nondeterministic" not in traits_of(d["op"]) and not has_subgraph(g, node))


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
    return all(not used(g, (node, i)) for i in range(1, len(g.data(node)["outputs"])))


def branch_condition_cone(g: Graph) -> set[str]:
    """Nodes an If condition depends on. Folding passes leave them computed: ONNX Runtime inlines
    an If whose condition it can compute at load time and re-checks the branch with stricter
    shape inference, which rejects models that run fine otherwise (ONNX's own AffineGrid
    function body, for one)."""
    cone: set[str] = set()
    stack = [g.input_values(n)[0] for n, d in g.node_items() if d["op"] == "If" and d["domain"] == ""]
    stack = [v[0] for v in stack if v is not None]
    while stack:
        n = stack.pop()
        if n not in cone:
            cone.add(n)
            stack.extend(v[0] for v in g.input_values(n) if v is not None)
    return cone


def producer(g: Graph, node: str, port: int) -> Value | None:
    """The value on input `port` of `node` (None when absent or beyond its ports)."""
    ins = g.input_values(node)
    return ins[port] if port < len(ins) else None


def const_input(g: Graph, node: str, port: int):
    """The constant array on input `port` of `node`, else None."""
    return g.const_value(producer(g, node, port))


def const_ints(g: Graph, node: str, port: int) -> list[int] | None:
    """Constant input `port` of `node` as a list of ints (None when absent or computed)."""
    v = const_input(g, node, port)
    return None if v is None else ints(v)


def int_arg(g: Graph, node: str, port: int | None, attr: str | None = None):
    """`ops._shapes.ints_arg` read off `node`: an int list given as input `port` or attribute
    `attr`, None when absent, `ops._shapes.DYNAMIC` when its input is computed."""
    return ints_arg(InferContext(g, node, 0), port, attr)


def axes_from_input(g: Graph, node: str) -> bool:
    """Whether `node`'s op reads its axes from input 1 at the graph's opset (ReduceSum from 13,
    the other reductions from 18), as ONNX's schema says."""
    arity = input_arity(g.op(node), "", opset(g))
    return arity is not None and arity[1] > 1
