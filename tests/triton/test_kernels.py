"""Each kernel family against ONNX Runtime (float32, <= 1e-5 relative), with the kernel count
that shows what fused: pointwise chains, broadcasts, injective ops folded into their consumer,
reductions with prologue and epilogue, matmul/Gemm with epilogues, and torch fallbacks."""
from __future__ import annotations

import numpy as np
import pytest

import graphc
from graphc.ir import Graph
from graphc.types import TensorType

from .conftest import check_against_ort

F32 = np.float32


def graph(*shapes, name="g"):
    g = Graph(name)
    return g, [g.add_input(f"x{i}", TensorType(F32, s)) for i, s in enumerate(shapes)]


def op(g, name, *inputs, **attrs):
    return (g.add_node(name, list(inputs), attrs), 0)


def feeds(g, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    out = {}
    for n in g.inputs:
        a = rng.standard_normal(g.type_of((n, 0)).shape).astype(F32)
        out[n] = np.abs(a) + 0.1 if positive else a
    return out


def run_case(g, outputs, kernels, *, positive=False, opt_level="O2", rtol=1e-5):
    for i, v in enumerate(outputs):
        g.add_output(f"y{i}", v)
    tri = check_against_ort(g, feeds(g, positive=positive), rtol=rtol, opt_level=opt_level)
    assert tri.kernel_count == kernels, tri.source
    return tri


def test_five_op_pointwise_chain_is_one_kernel():
    g, (x, y) = graph((4, 33), (4, 33))
    v = op(g, "Mul", op(g, "Tanh", op(g, "Sub", x, y)), x)
    v = op(g, "Sigmoid", op(g, "Exp", v))
    tri = run_case(g, [v], 1, opt_level="O0")
    assert tri.fallbacks == [] and "@triton.jit" in tri.source


def test_broadcast_operands_fold_into_one_kernel():
    g, (x, b, c) = graph((2, 3, 5), (5,), (3, 1))
    v = op(g, "Div", op(g, "Add", x, b), op(g, "Add", op(g, "Abs", c), g.add_constant(np.float32(1.5))))
    run_case(g, [op(g, "Max", v, op(g, "Neg", x))], 1)


@pytest.mark.parametrize("name,attrs,inputs", [
    ("Relu", {}, 1), ("LeakyRelu", {"alpha": 0.2}, 1), ("Elu", {"alpha": 0.7}, 1), ("Selu", {}, 1),
    ("HardSigmoid", {}, 1), ("HardSwish", {}, 1), ("Softplus", {}, 1), ("Softsign", {}, 1), ("Erf", {}, 1),
    ("Gelu", {}, 1), ("Gelu", {"approximate": "tanh"}, 1), ("Mish", {}, 1), ("Sign", {}, 1), ("Floor", {}, 1),
    ("Sin", {}, 1), ("Cos", {}, 1), ("Reciprocal", {}, 1), ("Sub", {}, 2), ("Pow", {}, 2), ("Min", {}, 2),
    ("PRelu", {}, 2),
])
def test_pointwise_ops(name, attrs, inputs):
    g, xs = graph(*[(3, 17)] * inputs)
    positive = name in ("Pow",)
    run_case(g, [op(g, name, *xs, **attrs)], 1, positive=positive, opt_level="O0")


def test_log_sqrt_clip_where_cast():
    g, (x, y) = graph((6, 7), (6, 7))
    a = op(g, "Log", op(g, "Sqrt", op(g, "Add", op(g, "Abs", x), g.add_constant(np.float32(0.5)))))
    c = op(g, "Clip", a, g.add_constant(np.float32(-0.3)), g.add_constant(np.float32(0.4)))
    w = op(g, "Where", op(g, "Greater", x, y), c, y)
    k = op(g, "Cast", op(g, "Cast", op(g, "Mul", w, g.add_constant(np.float32(10))), to=7), to=1)
    run_case(g, [k], 1, opt_level="O0")


def test_transpose_and_reshape_are_index_arithmetic():
    g, (x, y) = graph((2, 3, 4), (4, 6))
    t = op(g, "Transpose", op(g, "Relu", x), perm=[2, 0, 1])
    r = op(g, "Reshape", t, g.add_constant(np.array([4, 6], np.int64)))
    tri = run_case(g, [op(g, "Add", r, y)], 1, opt_level="O0")
    assert "Transpose" in tri.source and "Reshape" in tri.source


def test_expand_and_slice_are_index_arithmetic():
    g, (x, y) = graph((1, 5), (4, 3))
    e = op(g, "Expand", op(g, "Exp", x), g.add_constant(np.array([4, 5], np.int64)))
    s = op(g, "Slice", e, g.add_constant(np.array([4], np.int64)), g.add_constant(np.array([-6], np.int64)),
           g.add_constant(np.array([1], np.int64)), g.add_constant(np.array([-2], np.int64)))
    run_case(g, [op(g, "Mul", s, y)], 1, opt_level="O0")


def test_gather_on_constant_indices_is_index_arithmetic():
    g, (x,) = graph((3, 4, 6))
    a = op(g, "Gather", x, g.add_constant(np.array(1, np.int64)), axis=0)
    b = op(g, "Gather", x, g.add_constant(np.array([0, 2, 4], np.int64)), axis=2)
    run_case(g, [op(g, "Tanh", a), op(g, "Neg", b)], 2, opt_level="O0")


def test_injective_op_alone_is_a_copy_kernel_and_a_reshape_of_a_buffer_a_view():
    g, (x,) = graph((3, 5))
    t = op(g, "Transpose", x, perm=[1, 0])
    r = op(g, "Reshape", t, g.add_constant(np.array([15], np.int64)))
    tri = run_case(g, [t, r], 1, opt_level="O0")
    assert ".view((15,))" in tri.source


@pytest.mark.parametrize("name,axes,keep", [
    ("ReduceSum", [1], 1), ("ReduceMean", [0, 2], 0), ("ReduceMax", [2], 1), ("ReduceMin", [-1], 0),
    ("ReduceL1", [1, 2], 1), ("ReduceL2", [0], 1), ("ReduceSumSquare", [2], 0), ("ReduceLogSumExp", [1], 1),
    ("ReduceSum", None, 0),
])
def test_reductions_with_prologue_and_epilogue(name, axes, keep):
    g, (x,) = graph((3, 10, 7))
    pro = op(g, "Mul", op(g, "Sigmoid", x), g.add_constant(np.float32(3.0)))
    ins = [pro] + ([g.add_constant(np.array(axes, np.int64))] if axes is not None else [])
    r = op(g, name, *ins, keepdims=keep)
    run_case(g, [op(g, "Tanh", op(g, "Add", r, g.add_constant(np.float32(0.25))))], 1, opt_level="O0")


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_with_prologue_and_epilogue(name, axis):
    g, (x, m) = graph((2, 9, 5), (2, 9, 5))
    s = op(g, name, op(g, "Add", x, op(g, "Mul", m, g.add_constant(np.float32(2.0)))), axis=axis)
    run_case(g, [op(g, "Mul", s, g.add_constant(np.float32(0.5)))], 1, opt_level="O0")


def test_layer_normalization_with_scale_bias_and_residual():
    g, (x, r) = graph((4, 6, 24), (4, 6, 24))
    rng = np.random.default_rng(1)
    ln = op(g, "LayerNormalization", op(g, "Add", x, r), g.add_constant(rng.standard_normal(24).astype(F32)),
            g.add_constant(rng.standard_normal(24).astype(F32)), axis=-1, epsilon=1e-5)
    run_case(g, [op(g, "Relu", ln)], 1, opt_level="O0")


def test_batchnorm_inference_global_pool_and_argmax():
    g, (x,) = graph((2, 4, 5, 6))
    rng = np.random.default_rng(2)
    p = [g.add_constant(a.astype(F32)) for a in (rng.standard_normal(4), rng.standard_normal(4),
                                                  rng.standard_normal(4), rng.random(4) + 0.5)]
    bn = op(g, "BatchNormalization", x, *p, epsilon=1e-3)
    gap = op(g, "GlobalAveragePool", op(g, "Relu", bn))
    am = op(g, "ArgMax", op(g, "Softmax", x, axis=1), axis=3, keepdims=0)
    run_case(g, [gap, am], 3, opt_level="O0")


@pytest.mark.parametrize("m,k,n", [(5, 7, 3), (33, 40, 20)])
def test_matmul_with_bias_activation_residual_epilogue(m, k, n):
    g, (x, res) = graph((m, k), (m, n))
    w = g.add_constant(np.random.default_rng(3).standard_normal((k, n)).astype(F32))
    b = g.add_constant(np.random.default_rng(4).standard_normal(n).astype(F32))
    y = op(g, "Add", op(g, "Relu", op(g, "Add", op(g, "MatMul", x, w), b)), res)
    tri = run_case(g, [y], 1, opt_level="O0")
    assert "tl.dot" in tri.source


def test_batched_matmul_broadcasts_its_batch_dims():
    g, (a, b) = graph((2, 3, 6, 5), (3, 5, 4))
    run_case(g, [op(g, "Mul", op(g, "MatMul", a, b), g.add_constant(np.float32(0.125)))], 1, opt_level="O0")


@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm_transposes_alpha_beta(ta, tb):
    g, (a, b, c) = graph((4, 6) if ta else (6, 4), (5, 4) if tb else (4, 5), (5,))
    run_case(g, [op(g, "Sigmoid", op(g, "Gemm", a, b, c, transA=ta, transB=tb, alpha=0.5, beta=2.0))], 1,
             opt_level="O0")


def test_fused_gemm_from_the_passes_keeps_its_activation():
    g, (x,) = graph((3, 8))
    w = g.add_constant(np.random.default_rng(5).standard_normal((8, 4)).astype(F32))
    b = g.add_constant(np.random.default_rng(6).standard_normal(4).astype(F32))
    tri = run_case(g, [op(g, "Relu", op(g, "Add", op(g, "MatMul", x, w), b))], 1, opt_level="O2")
    assert "FusedGemm" in tri.source or "Gemm" in tri.source


def test_two_matmuls_summed_is_two_kernels():
    g, (x, y) = graph((4, 8), (4, 8))
    w = g.add_constant(np.random.default_rng(7).standard_normal((8, 8)).astype(F32))
    run_case(g, [op(g, "Add", op(g, "MatMul", x, w), op(g, "MatMul", y, w))], 2, opt_level="O0")


def test_conv_pool_concat_chain():
    g, (x,) = graph((1, 3, 8, 8))
    w = g.add_constant(np.random.default_rng(8).standard_normal((4, 3, 3, 3)).astype(F32))
    c = op(g, "Conv", op(g, "Relu", x), w, pads=[1, 0, 1, 2], strides=[2, 1])
    p = op(g, "MaxPool", c, kernel_shape=[2, 2], strides=[2, 2])
    cat = op(g, "Concat", p, op(g, "Neg", p), axis=1)
    tri = run_case(g, [op(g, "Sigmoid", cat)], 4, opt_level="O0")  # Relu, Conv, MaxPool, Concat+Neg+Sigmoid
    assert tri.fallbacks == []


@pytest.mark.parametrize("name,attrs", [
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ("MaxPool", {"kernel_shape": [2, 3], "dilations": [2, 1], "ceil_mode": 1, "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 0, 1, 2]}),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1, "strides": [2, 2]}),
    ("AveragePool", {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ("MaxPool", {"kernel_shape": [3], "strides": [2]}),
    ("AveragePool", {"kernel_shape": [3, 1], "pads": [1, 0, 1, 0]}),
])
def test_pooling_window_fuses_its_prologue_and_epilogue(name, attrs):
    shape = (2, 3, 9, 8) if len(attrs["kernel_shape"]) == 2 else (2, 3, 11)
    g, (x,) = graph(shape)
    p = op(g, name, op(g, "Relu", op(g, "Mul", x, g.add_constant(np.float32(2.0)))), **attrs)
    run_case(g, [op(g, "Tanh", p)], 1, opt_level="O0")


@pytest.mark.parametrize("xshape,wshape,attrs", [
    ((2, 3, 9, 9), (8, 3, 3, 3), {"pads": [1, 0, 1, 2], "strides": [2, 1]}),
    ((1, 4, 7, 6), (6, 2, 3, 2), {"group": 2, "dilations": [2, 1]}),
    ((2, 8, 6, 6), (8, 1, 3, 3), {"group": 8, "pads": [1, 1, 1, 1]}),  # depthwise
    ((2, 4, 6, 6), (8, 1, 3, 3), {"group": 4, "auto_pad": "SAME_UPPER", "strides": [2, 2]}),  # multiplier 2
    ((2, 3, 11), (5, 3, 4), {"strides": [3], "pads": [2, 1]}),  # 1-D
    ((1, 2, 4, 5, 4), (3, 2, 2, 3, 2), {}),  # 3-D
    ((2, 16, 1, 1), (4, 16, 1, 1), {}),  # squeeze-excite 1x1 on a pooled map: size-1 dims unguarded
])
def test_conv_implicit_gemm_with_bias_activation_residual(xshape, wshape, attrs):
    rng = np.random.default_rng(9)
    g = Graph("conv")
    x = g.add_input("x", TensorType(F32, xshape))
    w = g.add_constant(rng.standard_normal(wshape).astype(F32))
    b = g.add_constant(rng.standard_normal(wshape[0]).astype(F32))
    c = op(g, "Conv", x, w, b, **attrs)
    r = g.add_input("r", TensorType(F32, g.type_of(c).shape))
    tri = run_case(g, [op(g, "Add", op(g, "Relu", c), r)], 1, opt_level="O0")
    assert "implicit GEMM" in tri.source and tri.fallbacks == []


@pytest.mark.parametrize("xshape,wshape,attrs", [
    ((2, 9, 9, 3), (8, 3, 3, 3), {"pads": [1, 0, 1, 2], "strides": [2, 1]}),
    ((2, 6, 6, 8), (8, 1, 3, 3), {"group": 8, "pads": [1, 1, 1, 1]}),  # depthwise
    ((1, 7, 6, 4), (6, 2, 3, 2), {"group": 2, "dilations": [2, 1]}),
    ((2, 11, 3), (5, 3, 4), {"strides": [3], "pads": [2, 1]}),  # 1-D
])
def test_channels_last_conv_reads_and_writes_through_its_layout_transposes(xshape, wshape, attrs):
    """NHWC in, NHWC out (a channels-last model at O0): the conv reads the input through the
    layout Transpose and stores through the one after it, with bias, activation and a residual in
    NHWC as epilogue: one kernel, no transposed copies."""
    rng = np.random.default_rng(19)
    rank = len(xshape)
    g = Graph("conv_nhwc")
    x = g.add_input("x", TensorType(F32, xshape))
    nchw = op(g, "Transpose", x, perm=[0, rank - 1, *range(1, rank - 1)])
    c = op(g, "Conv", nchw, g.add_constant(rng.standard_normal(wshape).astype(F32)),
           g.add_constant(rng.standard_normal(wshape[0]).astype(F32)), **attrs)
    nhwc = op(g, "Transpose", c, perm=[0, *range(2, rank), 1])
    r = g.add_input("r", TensorType(F32, g.type_of(nhwc).shape))
    tri = run_case(g, [op(g, "Add", op(g, "Relu", nhwc), r)], 1, opt_level="O0")
    assert "implicit GEMM" in tri.source and tri.fallbacks == []


def test_a_transposed_conv_input_read_elsewhere_too_is_still_read_in_place_by_the_conv():
    rng = np.random.default_rng(20)
    g = Graph("conv_shared")
    x = g.add_input("x", TensorType(F32, (2, 5, 5, 3)))
    t = op(g, "Transpose", x, perm=[0, 3, 1, 2])
    c = op(g, "Conv", t, g.add_constant(rng.standard_normal((4, 3, 3, 3)).astype(F32)), pads=[1, 1, 1, 1])
    # the Transpose has two readers, so it is realized once and the conv reads that buffer
    run_case(g, [c, op(g, "Sigmoid", t)], 3, opt_level="O0")


def _attention(g, q, kt, v, chain):
    s = op(g, "MatMul", q, kt)
    for name, operand in chain:
        s = op(g, name, s, operand)
    return op(g, "MatMul", op(g, "Softmax", s, axis=-1), v)


@pytest.mark.parametrize("m,n,d,dv,chain", [
    (20, 20, 8, 12, [("Mul", "scale"), ("Add", "mask")]),  # rows and keys not multiples of the blocks
    (5, 37, 16, 16, [("Div", "scale")]),
    (16, 16, 4, 4, []),
])
def test_scaled_dot_product_attention_is_one_flash_kernel(m, n, d, dv, chain):
    rng = np.random.default_rng(21)
    g, (q, kt, v) = graph((2, 3, m, d), (2, 3, d, n), (2, 3, n, dv))
    operands = {"scale": g.add_constant(np.float32(d ** -0.5 if chain[:1] == [("Mul", "scale")] else d ** 0.5)),
                "mask": g.add_constant(np.where(rng.random((1, 1, m, n)) < 0.2, -1e4, 0.0).astype(F32))}
    tri = run_case(g, [_attention(g, q, kt, v, [(o, operands[x]) for o, x in chain])], 1, opt_level="O0")
    assert "softmax(f(" in tri.source and "tl.dot(p.to(v.dtype), v" in tri.source


def test_attention_whose_heads_merge_back_stores_through_the_transpose_and_reshape():
    g, (q, kt, v) = graph((2, 2, 6, 8), (2, 2, 8, 6), (2, 2, 6, 8))
    o = _attention(g, q, kt, v, [("Mul", g.add_constant(np.float32(0.3)))])
    merged = op(g, "Reshape", op(g, "Transpose", o, perm=[0, 2, 1, 3]), g.add_constant(np.array([12, 16], np.int64)))
    run_case(g, [merged], 1, opt_level="O0")


def test_attention_whose_probabilities_are_read_elsewhere_is_not_fused():
    g, (q, kt, v) = graph((1, 2, 6, 8), (1, 2, 8, 6), (1, 2, 6, 8))
    p = op(g, "Softmax", op(g, "MatMul", q, kt), axis=-1)
    tri = run_case(g, [op(g, "MatMul", p, v), p], 3, opt_level="O0")  # the probabilities are an output
    assert "softmax(f(" not in tri.source


def test_fused_conv_from_the_passes_keeps_its_activation():
    rng = np.random.default_rng(10)
    g, (x,) = graph((2, 3, 6, 6))
    c = op(g, "Conv", x, g.add_constant(rng.standard_normal((4, 3, 3, 3)).astype(F32)),
           g.add_constant(rng.standard_normal(4).astype(F32)), pads=[1, 1, 1, 1])
    tri = run_case(g, [op(g, "Relu", c)], 1, opt_level="O2")
    assert tri.fallbacks == []


def test_reduction_over_a_realized_reduction_is_two_kernels():
    g, (x,) = graph((4, 6, 5))
    a = op(g, "ReduceMax", x, g.add_constant(np.array([2], np.int64)), keepdims=1)
    b = op(g, "ReduceSum", op(g, "Exp", op(g, "Sub", x, a)), g.add_constant(np.array([2], np.int64)), keepdims=1)
    run_case(g, [b], 2, opt_level="O0")


def test_numpy_in_numpy_out_torch_in_torch_out():
    import torch

    g, (x,) = graph((2, 3))
    g.add_output("y", op(g, "Exp", x))
    exe = graphc.compile(g, target="triton", interpret=True)
    a = np.ones((2, 3), F32)
    assert isinstance(exe(a), np.ndarray)
    out = exe(torch.ones(2, 3))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), np.exp(a), rtol=1e-6)


def test_float16_computes_in_float32_and_stores_half():
    g = Graph("half")
    x = g.add_input("x", TensorType(np.float16, (4, 32)))
    w = g.add_constant((np.random.default_rng(11).standard_normal((32, 16)) * 0.2).astype(np.float16))
    h = op(g, "Sigmoid", op(g, "Add", op(g, "MatMul", x, w), g.add_constant(np.float16(0.5))))
    g.add_output("y", op(g, "Softmax", op(g, "Mul", h, h), axis=-1))
    a = np.random.default_rng(12).standard_normal((4, 32)).astype(np.float16)
    tri = check_against_ort(g, {"x": a}, rtol=2e-3, opt_level="O0")
    assert tri.kernel_count == 2 and tri(a).dtype == np.float16


def test_concat_reads_each_input_under_its_range():
    g, (x, y, z) = graph((2, 3, 4), (2, 5, 4), (2, 1, 4))
    cat = op(g, "Concat", op(g, "Relu", x), y, op(g, "Exp", z), axis=1)
    tri = run_case(g, [op(g, "Mul", cat, g.add_constant(np.float32(3.0)))], 1, opt_level="O0")
    assert tri.fallbacks == []


@pytest.mark.parametrize("pads,value", [([0, 1, 2, 0, 2, 1], 0.0), ([1, 0, 0, 0, 0, 0], -2.5),
                                        ([0, -1, 1, 0, 1, 0], 1.0)])
def test_constant_pad_is_a_guarded_read(pads, value):
    g, (x,) = graph((2, 4, 5))
    p = op(g, "Pad", op(g, "Tanh", x), g.add_constant(np.array(pads, np.int64)),
           g.add_constant(np.float32(value)))
    tri = run_case(g, [op(g, "Neg", p)], 1, opt_level="O0")
    assert tri.fallbacks == []


def test_a_broadcast_operand_read_by_two_concat_pieces_is_read_under_each_guard():
    # b's index does not involve the concat axis: a read under one piece's guard is not the other's
    g, (x, y, b) = graph((2, 3, 4), (2, 2, 4), (4,))
    cat = op(g, "Concat", op(g, "Mul", x, b), op(g, "Add", y, b), axis=1)
    run_case(g, [op(g, "Tanh", cat)], 1, opt_level="O0")
