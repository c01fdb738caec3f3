"""Random ONNX models for property tests: a hypothesis strategy over small DAGs of common ops."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

UNARY = ["Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Softsign", "Identity", "Erf"]
BINARY = ["Add", "Sub", "Mul", "Max", "Min"]


@st.composite
def random_models(draw, max_nodes: int = 12):
    """(ModelProto, feed) with 1–2 inputs of shape [2,3,4] and a random op chain over them."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n_inputs = draw(st.integers(1, 2))
    values = [(f"x{i}", (2, 3, 4)) for i in range(n_inputs)]
    nodes, inits = [], []
    for k in range(draw(st.integers(1, max_nodes))):
        kind = draw(st.sampled_from(["unary", "binary", "const", "transpose", "reshape", "softmax",
                                     "reduce", "concat", "matmul", "where"]))
        a = values[draw(st.integers(0, len(values) - 1))]
        out = f"v{k}"
        if kind == "unary":
            nodes.append(helper.make_node(draw(st.sampled_from(UNARY)), [a[0]], [out]))
            shape = a[1]
        elif kind == "binary":
            same = [v for v in values if v[1] == a[1]]
            b = same[draw(st.integers(0, len(same) - 1))]
            nodes.append(helper.make_node(draw(st.sampled_from(BINARY)), [a[0], b[0]], [out]))
            shape = a[1]
        elif kind == "const":
            c = f"c{k}"
            bshape = (1,) * (len(a[1]) - 1) + (a[1][-1],)
            inits.append(numpy_helper.from_array(rng.standard_normal(bshape).astype(np.float32), c))
            nodes.append(helper.make_node(draw(st.sampled_from(BINARY)), [a[0], c], [out]))
            shape = a[1]
        elif kind == "transpose":
            perm = list(draw(st.permutations(range(len(a[1])))))
            nodes.append(helper.make_node("Transpose", [a[0]], [out], perm=perm))
            shape = tuple(a[1][p] for p in perm)
        elif kind == "reshape":
            c = f"s{k}"
            target = (int(np.prod(a[1])) // a[1][-1], a[1][-1]) if len(a[1]) > 2 else (-1,) + a[1][1:]
            inits.append(numpy_helper.from_array(np.array(target, dtype=np.int64), c))
            nodes.append(helper.make_node("Reshape", [a[0], c], [out]))
            shape = tuple(int(np.prod(a[1])) // int(np.prod(target[1:])) if t == -1 else t for t in target)
        elif kind == "softmax":
            axis = draw(st.integers(-len(a[1]), len(a[1]) - 1))
            nodes.append(helper.make_node("Softmax", [a[0]], [out], axis=axis))
            shape = a[1]
        elif kind == "reduce":
            axis = draw(st.integers(0, len(a[1]) - 1))
            c = f"ax{k}"
            inits.append(numpy_helper.from_array(np.array([axis], dtype=np.int64), c))
            nodes.append(helper.make_node("ReduceSum", [a[0], c], [out], keepdims=1))
            shape = tuple(1 if i == axis else d for i, d in enumerate(a[1]))
        elif kind == "concat":
            same = [v for v in values if v[1] == a[1]]
            b = same[draw(st.integers(0, len(same) - 1))]
            axis = draw(st.integers(0, len(a[1]) - 1))
            nodes.append(helper.make_node("Concat", [a[0], b[0]], [out], axis=axis))
            shape = tuple(d * 2 if i == axis else d for i, d in enumerate(a[1]))
        elif kind == "matmul":
            c = f"w{k}"
            n = draw(st.integers(1, 5))
            inits.append(numpy_helper.from_array(rng.standard_normal((a[1][-1], n)).astype(np.float32), c))
            nodes.append(helper.make_node("MatMul", [a[0], c], [out]))
            shape = a[1][:-1] + (n,)
        else:  # where
            same = [v for v in values if v[1] == a[1]]
            b = same[draw(st.integers(0, len(same) - 1))]
            cond = f"cond{k}"
            nodes.append(helper.make_node("Greater", [a[0], b[0]], [cond]))
            nodes.append(helper.make_node("Where", [cond, a[0], b[0]], [out]))
            shape = a[1]
        values.append((out, shape))
    n_out = draw(st.integers(1, min(3, len(values) - n_inputs)))
    outs = values[-n_out:]
    graph = helper.make_graph(
        nodes, "random",
        [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, [2, 3, 4]) for i in range(n_inputs)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)) for name, shape in outs],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    feed = {f"x{i}": rng.standard_normal((2, 3, 4)).astype(np.float32) for i in range(n_inputs)}
    return model, feed
