import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphc.ir import Graph
from graphc.passes import DeadCodeElimination, TransposeOptimization, optimize
from graphc.passes.layout import invert
from tests.passes.graphs import TO_NCHW, TO_NHWC, mobilenet_like
from tests.passes.helpers import check, const, f32, ops, rand


def _passes():
    return [TransposeOptimization(), DeadCodeElimination()]


def _count(g, op="Transpose"):
    return ops(g).count(op)


def test_inverse_pairs_cancel_and_pairs_compose():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    a = g.add_node("Transpose", [x], {"perm": TO_NCHW})
    b = g.add_node("Transpose", [(a, 0)], {"perm": TO_NHWC})
    c = g.add_node("Transpose", [(b, 0)], {"perm": [1, 0, 2, 3]})
    d = g.add_node("Transpose", [(c, 0)], {"perm": [0, 2, 1, 3]})
    g.add_output("y", (d, 0))
    out = check(g, _passes())
    assert _count(out) == 1


def test_sinks_through_pointwise_with_permuted_constants_and_cancels():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    t = g.add_node("Transpose", [x], {"perm": TO_NHWC})  # (2, 4, 5, 3)
    m = g.add_node("Mul", [(t, 0), const(g, np.arange(3) + 1.0)])  # per-channel constant
    a = g.add_node("Add", [(m, 0), const(g, np.ones((5, 1)))])  # broadcast over W
    s = g.add_node("Sigmoid", [(a, 0)])
    sw = g.add_node("Mul", [(a, 0), (s, 0)])  # swish: the value is read twice
    c = g.add_node("Clip", [(sw, 0), const(g, 0.0), const(g, 6.0)])
    back = g.add_node("Transpose", [(c, 0)], {"perm": TO_NCHW})
    g.add_output("y", (back, 0))
    out = check(g, _passes())
    assert _count(out) == 0


def test_residual_add_concat_pad_softmax_and_reduce():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    y = g.add_input("y", f32(2, 3, 4, 5))
    tx = g.add_node("Transpose", [x], {"perm": TO_NHWC})
    ty = g.add_node("Transpose", [y], {"perm": TO_NHWC})
    add = g.add_node("Add", [(tx, 0), (ty, 0)])
    cat = g.add_node("Concat", [(add, 0), (tx, 0)], {"axis": 3})
    pad = g.add_node("Pad", [(cat, 0), const(g, [0, 1, 0, 0, 0, 0, 2, 0], np.int64)])
    sm = g.add_node("Softmax", [(pad, 0)], {"axis": -1})
    red = g.add_node("ReduceMean", [(sm, 0), const(g, [1, 2], np.int64)], {"keepdims": 0})
    g.add_output("pooled", (red, 0))
    out = check(g, _passes())
    assert _count(out) == 0


def test_slice_with_constant_axes_joins_the_region():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 6, 7))
    t = g.add_node("Transpose", [x], {"perm": TO_NHWC})  # (2, 6, 7, 3)
    pad = g.add_node("Pad", [(t, 0), const(g, [0, 1, 1, 0, 0, 0, 0, 0], np.int64)])
    crop = g.add_node("Slice", [(pad, 0), const(g, [1, 0], np.int64), const(g, [7, -1], np.int64),
                                const(g, [1, -2], np.int64)])  # Cropping2D after a ZeroPadding2D
    rev = g.add_node("Slice", [(crop, 0), const(g, [-1], np.int64), const(g, [-100], np.int64),
                               const(g, [3], np.int64), const(g, [-1], np.int64)])  # channels reversed
    back = g.add_node("Transpose", [(rev, 0)], {"perm": TO_NCHW})
    g.add_output("y", (back, 0))
    out = check(g, _passes())
    assert _count(out) == 0


def test_keeps_transposes_when_nothing_cancels():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    z = g.add_input("z", f32(2, 4, 5, 3))
    t = g.add_node("Transpose", [x], {"perm": TO_NHWC})
    a = g.add_node("Add", [(t, 0), z])  # z is not transposed: sinking would add one
    g.add_output("y", (a, 0))
    r = g.add_node("Relu", [(t, 0)])
    g.add_output("r", (r, 0))  # a graph output needs its transpose anyway
    mm = g.add_node("MatMul", [(t, 0), const(g, np.ones((3, 2)))])  # a 1x1 Conv on NCHW: saves nothing here
    g.add_output("m", (mm, 0))
    out = check(g, _passes(), expect_change=False)
    assert _count(out) == 1


def test_rank_lower_non_constant_operand_blocks_the_region():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    v = g.add_input("v", f32(3))
    t = g.add_node("Transpose", [x], {"perm": TO_NHWC})
    a = g.add_node("Add", [(t, 0), v])
    back = g.add_node("Transpose", [(a, 0)], {"perm": TO_NCHW})
    g.add_output("y", (back, 0))
    out = check(g, _passes(), expect_change=False)
    assert _count(out) == 2


def test_dense_and_layernorm_over_nhwc_channels_run_on_nchw():
    """ConvNeXt's block between two convolutions: LayerNormalization and Dense over the channels of
    NHWC data, a residual add. On NCHW data the Dense is a 1x1 Conv and the LayerNormalization
    (whose channel axis is no longer the trailing one) its decomposition: no Transpose is left."""
    g = Graph()
    x = g.add_input("x", f32("batch", 6, 4, 5))
    t = g.add_node("Transpose", [x], {"perm": TO_NHWC})
    ln = g.add_node("LayerNormalization", [(t, 0), const(g, rand(6) + 1), const(g, rand(6, seed=1))],
                    {"axis": -1, "epsilon": 1e-6})
    up = g.add_node("MatMul", [(ln, 0), const(g, rand(6, 8, seed=2))])
    act = g.add_node("Gelu", [(g.add_node("Add", [(up, 0), const(g, rand(8, seed=3))]), 0)])
    down = g.add_node("MatMul", [(act, 0), const(g, rand(8, 6, seed=4))])
    res = g.add_node("Add", [(t, 0), (g.add_node("Mul", [(down, 0), const(g, rand(6, seed=5))]), 0)])
    g.add_output("y", (g.add_node("Transpose", [(res, 0)], {"perm": TO_NCHW}), 0))
    out = check(g, _passes(), rtol=1e-4, atol=1e-5)
    assert _count(out) == 0
    assert _count(out, "Conv") == 2 and _count(out, "LayerNormalization") == 0 and _count(out, "MatMul") == 0


def test_layernorm_over_axes_that_stay_trailing_keeps_the_fused_op():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    t = g.add_node("Transpose", [x], {"perm": [0, 1, 3, 2]})  # (2, 3, 5, 4)
    ln = g.add_node("LayerNormalization", [(t, 0), const(g, rand(5, 4) + 1), const(g, rand(5, 4, seed=1))],
                    {"axis": 2})
    g.add_output("y", (g.add_node("Transpose", [(ln, 0)], {"perm": [0, 1, 3, 2]}), 0))
    out = check(g, _passes(), rtol=1e-4, atol=1e-5)
    assert _count(out) == 0 and _count(out, "LayerNormalization") == 1


def test_transpose_moving_only_unit_axes_becomes_a_reshape():
    """Squeeze-excite: pooled NHWC (N,1,1,C) into an NCHW 1x1 Conv; the Transpose keeps the data's
    order, so it is a Reshape, and merges with the Reshape before it."""
    g = Graph()
    x = g.add_input("x", f32("batch", 6))
    r = g.add_node("Reshape", [x, const(g, [-1, 1, 1, 6], np.int64)])
    t = g.add_node("Transpose", [(r, 0)], {"perm": TO_NCHW})
    g.add_output("y", (g.add_node("Conv", [(t, 0), const(g, rand(3, 6, 1, 1))], {"kernel_shape": [1, 1]}), 0))
    out = check(g, "O2", rtol=1e-4, atol=1e-5)
    assert _count(out) == 0 and _count(out, "Reshape") == 1


def test_mobilenet_like_keeps_only_the_edge_transpose():
    g = mobilenet_like()
    before = _count(g)
    out = check(g, "O2", rtol=1e-4, atol=1e-5)
    assert before >= 20
    assert _count(out) <= 2
    assert _count(out) == 1  # the input's NHWC -> NCHW; the output side is a Gemm on pooled features
    counts = out.op_counts()
    assert "BatchNormalization" not in counts and "Pad" not in counts
    assert counts["Mul"] == 1  # the Rescaling layer's, on the NHWC input before the edge transpose
    assert counts.get("graphc.FusedConv", 0) >= 8 and counts.get("graphc.FusedGemm", 0) == 0
    assert counts.get("Gemm", 0) == 1


def test_mobilenet_like_runs_on_onnxruntime_fused_kernels():
    from graphc.lower.onnx import to_onnx
    from graphc.runtime.ort import OrtExecutable
    from tests.passes.helpers import evaluate, random_inputs

    g = mobilenet_like()
    out = optimize(g, "O2")
    feeds = random_inputs(g)
    exe = OrtExecutable(to_onnx(out), threads=1, label="m")
    assert any(n.domain == "com.microsoft" for n in to_onnx(out).graph.node)
    got = exe.session.run(None, feeds)
    np.testing.assert_allclose(got[0], evaluate(g, feeds)[0], rtol=1e-4, atol=1e-5)


_PERMS = [TO_NHWC, TO_NCHW, [0, 1, 3, 2], [3, 2, 1, 0], [1, 0, 2, 3]]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_sandwiches_sink_and_cancel(data):
    """Random chains of layout-agnostic ops between a Transpose and its inverse, with side
    branches, extra inputs and outputs: the rewrite never changes results or adds Transposes."""
    rng = np.random.default_rng(data.draw(st.integers(0, 999)))
    g = Graph()
    x = g.add_input("x", f32(2, 3, 4, 5))
    y = g.add_input("y", f32(2, 3, 4, 5))
    p = data.draw(st.sampled_from(_PERMS))
    v = (g.add_node("Transpose", [x], {"perm": p}), 0)
    vals = [v]
    for _ in range(data.draw(st.integers(1, 8))):
        s = g.type_of(v).shape
        kind = data.draw(st.sampled_from(["unary", "const", "other", "self", "concat", "pad", "softmax", "reduce",
                                          "side", "layernorm", "matmul"]))
        if kind == "unary":
            n = g.add_node(data.draw(st.sampled_from(["Relu", "Tanh", "Neg"])), [v])
        elif kind == "const":
            axis = data.draw(st.integers(0, 3))
            shape = tuple(d if i == axis else 1 for i, d in enumerate(s))[data.draw(st.integers(0, axis)):]
            n = g.add_node("Mul", [v, const(g, rng.standard_normal(shape))])
        elif kind == "other":  # the other input, transposed the same way or not at all
            o = (g.add_node("Transpose", [y], {"perm": p}), 0) if data.draw(st.booleans()) else None
            if o is None or g.type_of(o).shape != s:
                continue
            n = g.add_node("Add", [v, o])
        elif kind == "self":
            n = g.add_node("Mul", [v, data.draw(st.sampled_from(vals))]) if all(
                g.type_of(w).shape == s for w in vals) else g.add_node("Sigmoid", [v])
        elif kind == "concat":
            n = g.add_node("Concat", [v, v], {"axis": data.draw(st.integers(-4, 3))})
        elif kind == "pad":
            n = g.add_node("Pad", [v, const(g, [data.draw(st.integers(0, 1)) for _ in range(8)], np.int64)])
        elif kind == "layernorm":
            axis = data.draw(st.integers(-4, 3))
            w = [const(g, rng.standard_normal(s[axis:])) for _ in range(data.draw(st.integers(1, 2)))]
            # a large epsilon: a row the chain made nearly constant would divide rounding by ~sqrt(eps)
            n = g.add_node("LayerNormalization", [v, *w], {"axis": axis, "epsilon": 0.1})
        elif kind == "matmul":
            n = g.add_node("MatMul", [v, const(g, rng.standard_normal((s[-1], data.draw(st.integers(1, 4)))))])
        elif kind == "softmax":
            n = g.add_node("Softmax", [v], {"axis": data.draw(st.integers(-4, 3))})
        elif kind == "reduce":
            axes = sorted(data.draw(st.sets(st.integers(0, 3), min_size=1, max_size=3)))
            keep = data.draw(st.booleans())
            n = g.add_node("ReduceSum", [v, const(g, axes, np.int64)], {"keepdims": int(keep)})
            if not keep:
                g.add_output("reduced", (n, 0))
                break
        else:
            g.add_output(f"side{len(g.outputs)}", v)
            continue
        v = (n, 0)
        vals.append(v)
    if len(g.type_of(v).shape) == 4:
        g.add_output("y", (g.add_node("Transpose", [v], {"perm": invert(p)}), 0))
    before = _count(g)
    out = check(g, _passes(), expect_change=False)
    assert _count(out) <= before
