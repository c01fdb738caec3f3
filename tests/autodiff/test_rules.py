"""Every gradient rule against float64 central differences (graphc.gradcheck), on one-node graphs:
fixed cases covering each rule's attributes, then random shapes drawn by hypothesis."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphc.autodiff import gradient_graph
from graphc.gradcheck import as_float64, check_gradients, with_float_type
from tests.autodiff._cases import away_from, one_op_graph

RNG = np.random.default_rng(0)


def r(*shape):
    return RNG.standard_normal(shape)


def pos(*shape):
    return np.abs(r(*shape)) + 0.5


I64 = np.int64
CASES = {
    # elementwise and activations
    "Add": ("Add", [r(3, 4), r(4)], {}),
    "Sub": ("Sub", [r(3, 4), r(1, 4)], {}),
    "Mul": ("Mul", [r(2, 1, 3), r(4, 1)], {}),
    "Div": ("Div", [r(3, 4), away_from(r(3, 1), gap=0.3)], {}),
    "Pow": ("Pow", [pos(3, 2), r(2)], {}),
    "Neg": ("Neg", [r(4)], {}),
    "Sqrt": ("Sqrt", [pos(5)], {}),
    "Exp": ("Exp", [r(5)], {}),
    "Log": ("Log", [pos(5)], {}),
    "Abs": ("Abs", [away_from(r(6))], {}),
    "Reciprocal": ("Reciprocal", [pos(5)], {}),
    "Relu": ("Relu", [away_from(r(6))], {}),
    "LeakyRelu": ("LeakyRelu", [away_from(r(6))], {"alpha": 0.2}),
    "Elu": ("Elu", [away_from(r(6))], {"alpha": 0.7}),
    "Selu": ("Selu", [away_from(r(6))], {}),
    "Sigmoid": ("Sigmoid", [r(5)], {}),
    "Tanh": ("Tanh", [r(3, 4)], {}),
    "Softplus": ("Softplus", [r(5)], {}),
    "Softsign": ("Softsign", [away_from(r(6))], {}),
    "HardSigmoid": ("HardSigmoid", [away_from(r(8) * 3, (-2.5, 2.5))], {}),
    "HardSwish": ("HardSwish", [away_from(r(8) * 3, (-3, 3))], {}),
    "Identity": ("Identity", [r(3)], {}),
    "Cos": ("Cos", [r(4)], {}),
    "Tan": ("Tan", [r(4) * 0.5], {}),
    "Asin": ("Asin", [r(4) * 0.3], {}),
    "Acos": ("Acos", [r(4) * 0.3], {}),
    "Atan": ("Atan", [r(4)], {}),
    "Sinh": ("Sinh", [r(4)], {}),
    "Cosh": ("Cosh", [r(4)], {}),
    "Asinh": ("Asinh", [r(4)], {}),
    "Acosh": ("Acosh", [pos(4) + 1], {}),
    "Atanh": ("Atanh", [r(4) * 0.3], {}),
    "ThresholdedRelu": ("ThresholdedRelu", [away_from(r(6) * 2, (0.5,))], {"alpha": 0.5}),
    "Mish": ("Mish", [r(6)], {}),
    "Max": ("Max", [r(3, 4), r(4)], {}),
    "Min": ("Min", [r(3, 4), r(3, 1), r(4)], {}),
    "Sum": ("Sum", [r(3, 4), r(4), r(3, 1)], {}),
    "Mean": ("Mean", [r(3, 4), r(4)], {}),
    "Clip": ("Clip", [away_from(r(8), (-0.5, 0.5)), np.array(-0.5), np.array(0.5)], {}),
    "Where": ("Where", [np.array([True, False, True]), r(2, 3), r(1)], {}),
    "PRelu": ("PRelu", [away_from(r(2, 3)), r(3)], {}),
    "Softmax": ("Softmax", [r(3, 4)], {"axis": 0}),
    "LogSoftmax": ("LogSoftmax", [r(3, 4)], {}),
    "Dropout-inference": ("Dropout", [r(3, 4)], {}),
    # products
    "MatMul-2d": ("MatMul", [r(3, 4), r(4, 5)], {}),
    "MatMul-batched": ("MatMul", [r(2, 1, 3, 4), r(3, 4, 2)], {}),
    "MatMul-shared-weight": ("MatMul", [r(2, 3, 4), r(4, 5)], {}),  # one Gemm over the rows for the weight
    "MatMul-vector-left": ("MatMul", [r(4), r(2, 4, 5)], {}),
    "MatMul-vector-right": ("MatMul", [r(2, 3, 4), r(4)], {}),
    "Gemm": ("Gemm", [r(3, 4), r(4, 5), r(5)], {}),
    "Gemm-transposed": ("Gemm", [r(4, 3), r(5, 4), r(3, 1)], {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
    "Gemm-transA": ("Gemm", [r(4, 3), r(4, 5)], {"transA": 1}),
    "Einsum": ("Einsum", [r(2, 3, 4), r(4, 5)], {"equation": "btd,de->bte"}),
    "Einsum-attention": ("Einsum", [r(2, 3, 4), r(2, 5, 4)], {"equation": "bqd,bkd->bqk"}),
    "Einsum-ellipsis": ("Einsum", [r(2, 3, 4), r(4, 5)], {"equation": "...d,de->...e"}),
    "Einsum-ellipsis-middle": ("Einsum", [r(2, 3, 2, 4), r(3, 2, 4)], {"equation": "b...d,...d->b..."}),
    # convolution and pooling
    "Conv1D": ("Conv", [r(2, 3, 7), r(4, 3, 3), r(4)], {}),
    "Conv2D-groups-strides-dilations-pads": (
        "Conv", [r(1, 4, 6, 5), r(6, 2, 3, 2), r(6)], {"group": 2, "strides": [2, 1], "dilations": [1, 2],
                                                      "pads": [1, 0, 2, 1]}),
    "Conv3D": ("Conv", [r(1, 2, 5, 4, 4), r(2, 2, 2, 2, 2)], {"strides": [2, 2, 1]}),
    "Conv2D-depthwise-same": ("Conv", [r(1, 3, 6, 6), r(3, 1, 3, 3)], {"group": 3, "auto_pad": "SAME_UPPER",
                                                                        "strides": [2, 2]}),
    "ConvTranspose2D-groups": ("ConvTranspose", [r(1, 4, 3, 3), r(4, 3, 2, 2), r(6)],
                               {"group": 2, "strides": [2, 2], "pads": [1, 0, 0, 1]}),
    "ConvTranspose1D": ("ConvTranspose", [r(2, 2, 4), r(2, 3, 3)], {"strides": [2], "output_padding": [1],
                                                                     "dilations": [2]}),
    "MaxPool2D": ("MaxPool", [r(2, 2, 5, 5)], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "MaxPool1D": ("MaxPool", [r(1, 2, 6)], {"kernel_shape": [2], "strides": [2]}),
    "AveragePool-excluding-pads": ("AveragePool", [r(1, 2, 5, 5)], {"kernel_shape": [3, 3], "strides": [2, 2],
                                                                     "pads": [1, 1, 1, 1]}),
    "AveragePool-including-pads": ("AveragePool", [r(1, 2, 5, 5)], {"kernel_shape": [2, 2], "count_include_pad": 1,
                                                                     "pads": [1, 0, 0, 1]}),
    "GlobalAveragePool": ("GlobalAveragePool", [r(2, 3, 4, 4)], {}),
    "GlobalMaxPool": ("GlobalMaxPool", [r(2, 3, 4, 3)], {}),
    # normalization
    "BatchNormalization": ("BatchNormalization", [r(2, 3, 4), r(3), r(3), r(3), pos(3)], {}),
    "LayerNormalization": ("LayerNormalization", [r(2, 3, 4), r(3, 4), r(3, 4)], {"axis": 1}),
    "LayerNormalization-last": ("LayerNormalization", [r(2, 5), r(5)], {}),
    "InstanceNormalization": ("InstanceNormalization", [r(2, 3, 4, 2), r(3), r(3)], {}),
    "LpNormalization-2": ("LpNormalization", [r(3, 4)], {"axis": 1}),
    "LpNormalization-1": ("LpNormalization", [away_from(r(3, 4))], {"axis": 0, "p": 1}),
    # shapes
    "Reshape": ("Reshape", [r(2, 6), np.array([3, -1], I64)], {}),
    "Flatten": ("Flatten", [r(2, 3, 2)], {"axis": 2}),
    "Transpose": ("Transpose", [r(2, 3, 4)], {"perm": [1, 2, 0]}),
    "Squeeze": ("Squeeze", [r(2, 1, 3), np.array([1], I64)], {}),
    "Unsqueeze": ("Unsqueeze", [r(2, 3), np.array([0, 3], I64)], {}),
    "Expand": ("Expand", [r(3, 1), np.array([2, 3, 4], I64)], {}),
    "Tile": ("Tile", [r(2, 3), np.array([2, 1], I64)], {}),
    "Concat": ("Concat", [r(2, 3), r(2, 1), r(2, 2)], {"axis": 1}),
    "Split": ("Split", [r(5, 2), np.array([2, 3], I64)], {"axis": 0}),
    "Slice-steps": ("Slice", [r(5, 4), np.array([1, 3]), np.array([4, 0]), np.array([0, 1]), np.array([2, -1])], {}),
    "Gather-rows": ("Gather", [r(5, 3), np.array([[0, 2], [2, 4]])], {}),
    "Gather-axis1": ("Gather", [r(5, 3), np.array([0, 2, 2])], {"axis": 1}),
    "GatherElements": ("GatherElements", [r(3, 4), np.array([[0, 1], [2, 0], [1, 1]])], {"axis": 1}),
    "Pad-constant": ("Pad", [r(2, 3), np.array([1, 0, 0, 2])], {}),
    "Pad-reflect": ("Pad", [r(3, 4), np.array([1, 2, 1, 0])], {"mode": "reflect"}),
    "DepthToSpace": ("DepthToSpace", [r(1, 4, 2, 3)], {"blocksize": 2}),
    "CumSum-reverse-exclusive": ("CumSum", [r(3, 4), np.array(1)], {"reverse": 1, "exclusive": 1}),
    "CumSum": ("CumSum", [r(5), np.array(0)], {}),
    "Trilu": ("Trilu", [r(3, 4), np.array(1)], {"upper": 0}),
    "ScatterElements": ("ScatterElements", [r(3, 4), np.array([[1, 0], [2, 3], [0, 1]]), r(3, 2)], {"axis": 1}),
    "ScatterND": ("ScatterND", [r(4, 3), np.array([[2], [0]]), r(2, 3)], {}),
    "SpaceToDepth": ("SpaceToDepth", [r(1, 2, 4, 2)], {"blocksize": 2}),
    # reductions
    "ReduceSum": ("ReduceSum", [r(3, 4), np.array([0])], {"keepdims": 0}),
    "ReduceMean": ("ReduceMean", [r(3, 4, 2), np.array([1, 2])], {}),
    "ReduceMax": ("ReduceMax", [r(3, 4)], {"keepdims": 0}),
    "ReduceMin": ("ReduceMin", [r(3, 4), np.array([-1])], {}),
    "ReduceSumSquare": ("ReduceSumSquare", [r(3, 4), np.array([1])], {}),
    "ReduceL1": ("ReduceL1", [away_from(r(3, 4)), np.array([1])], {}),
    "ReduceL2": ("ReduceL2", [r(3, 4), np.array([0])], {"keepdims": 0}),
    "ReduceLogSumExp": ("ReduceLogSumExp", [r(3, 4), np.array([0])], {}),
    "ReduceLogSum": ("ReduceLogSum", [pos(3, 4), np.array([1])], {}),
    "ReduceProd": ("ReduceProd", [pos(3, 2), np.array([1])], {}),
    "Cast": ("Cast", [r(3)], {"to": 11}),
    "Resize-nearest": ("Resize", [r(1, 2, 3, 2)], {"mode": "nearest"},
                       {2: np.array([1, 1, 2, 1.5], np.float32)}),
    "Resize-linear-sizes": ("Resize", [r(1, 1, 3, 4)], {"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
                            {3: np.array([1, 1, 5, 3], np.int64)}),
    "Resize-cubic-axes": ("Resize", [r(2, 4)], {"mode": "cubic", "axes": [1]}, {2: np.array([1.75], np.float32)}),
    "TopK": ("TopK", [r(3, 5), np.array([2])], {"axis": 1}),
    "GatherND": ("GatherND", [r(3, 4, 2), np.array([[0, 1], [2, 3], [0, 1]])], {}),
    "Floor": ("Floor", [r(4) * 3], {}),
}
ZERO = ("Floor",)  # no gradient flows: the check has nothing to compare


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_matches_central_differences(case):
    op, arrays, attrs, *consts = CASES[case]
    n_outputs = 2 if op in ("Split", "TopK") else 1
    g, loss = one_op_graph(op, [np.array(a, dtype=np.int64) if a.dtype.kind == "i" else a for a in arrays], attrs,
                           consts=consts[0] if consts else None, n_outputs=n_outputs, outputs=(0,) if op == "TopK" else None)
    if op in ZERO:
        from graphc.autodiff import gradients

        assert gradients(g, loss) == {}
        return
    result = check_gradients(g, loss, max_per_param=24)
    assert result.params, "no parameter was checked"
    assert result.passed, result.report()


def test_batch_normalization_training_form():
    """The batch statistics depend on X: dX has the mean and variance terms. The running outputs
    stay alive at weight 0 (ONNX wants all three outputs of the training form)."""
    g, loss = one_op_graph("BatchNormalization", [r(4, 3, 2, 2), r(3), r(3), r(3), pos(3)], {"training_mode": 1},
                           n_outputs=3)
    for k in (1, 2):
        g.data(f"w{k}")["attrs"]["value"] = np.zeros(3)
    result = check_gradients(g, loss, wrt=["x0", "x1", "x2"])
    assert result.passed, result.report()


def test_dropout_training_uses_the_mask():
    """Training-mode Dropout: the gradient is g * mask / (1 - ratio), mask from the node itself."""
    g, loss = one_op_graph("Dropout", [r(4, 5)], consts={1: np.array(0.25), 2: np.array(True)}, n_outputs=2,
                           outputs=(0,))
    gg = gradient_graph(g, loss)
    from onnx.reference import ReferenceEvaluator

    from graphc.lower.onnx import to_onnx

    gg.add_output("y", ("op", 0))
    gg.add_output("mask", ("op", 1))
    loss_v, dx, y, mask = ReferenceEvaluator(to_onnx(gg)).run(None, {})
    w = g.attrs("w0")["value"]
    np.testing.assert_allclose(dx, w * mask / 0.75)
    assert 0 < mask.mean() < 1


def _mvn(v):
    mean = v.mean(dim=(0, 2, 3), keepdim=True)
    return (v - mean) / v.var(dim=(0, 2, 3), unbiased=False, keepdim=True).sqrt()


@pytest.mark.parametrize("op,attrs,fn,dtype,shape", [
    ("Gelu", {}, "gelu", np.float64, (7,)), ("Gelu", {"approximate": "tanh"}, "gelu_tanh", np.float64, (7,)),
    ("Erf", {}, "erf", np.float64, (7,)), ("Celu", {"alpha": 0.8}, "celu", np.float32, (7,)),
    ("Shrink", {"lambd": 0.5, "bias": 0.5}, "softshrink", np.float32, (7,)),
    ("MeanVarianceNormalization", {"axes": [0, 2, 3]}, "mvn", np.float32, (2, 3, 2, 2))])
def test_against_torch_where_float64_is_missing(op, attrs, fn, dtype, shape):
    """Where ONNX Runtime has no float64 kernel and onnx.reference computes in float32 (Erf, Gelu),
    or ONNX allows float32 only (Celu, MeanVarianceNormalization's function) or ONNX Runtime's
    float64 kernel is not exact (Shrink), finite differences cannot check the rule; PyTorch's
    autograd can."""
    import torch

    from graphc.gradcheck import _Runner

    x = away_from(r(*shape) * 2, (-0.5, 0.5) if op == "Shrink" else (0.0,)).astype(dtype)
    g, loss = one_op_graph(op, [x], attrs)
    if dtype != np.float64:
        g = with_float_type(g, dtype)
    got = _Runner(gradient_graph(g, loss))({})[1]
    t = torch.tensor(x, requires_grad=True)
    f = {"gelu": torch.nn.functional.gelu, "erf": torch.erf, "celu": lambda v: torch.celu(v, alpha=0.8),
         "softshrink": lambda v: torch.nn.functional.softshrink(v, 0.5), "mvn": _mvn,
         "gelu_tanh": lambda v: torch.nn.functional.gelu(v, approximate="tanh")}[fn]
    (f(t) * torch.tensor(g.attrs("w0")["value"])).sum().backward()
    tol = 1e-6 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, t.grad.numpy(), rtol=tol, atol=tol)



def test_as_float64_switches_cast_targets():
    g, loss = one_op_graph("Cast", [r(3).astype(np.float32)], {"to": 1})
    h = as_float64(g)
    assert h.attrs("op")["to"] == 11 and h.type_of(("op", 0)).dtype == np.float64


# ---- random shapes ------------------------------------------------------------------------

dims = st.integers(1, 3)
SETTINGS = settings(max_examples=8, deadline=None, derandomize=True)


@SETTINGS
@given(st.lists(dims, min_size=1, max_size=3), st.lists(st.booleans(), min_size=3, max_size=3),
       st.sampled_from(["Add", "Sub", "Mul", "Div", "Max", "Pow"]))
def test_broadcasting_binary_ops_on_random_shapes(shape, ones, op):
    """The second operand broadcasts: some of its dims are 1 and it may have fewer of them."""
    b_shape = [1 if o else d for d, o in zip(shape, ones)][len(shape) // 2:]
    rng = np.random.default_rng(len(shape))
    a = np.abs(rng.standard_normal(shape)) + 0.5 if op in ("Pow", "Div") else rng.standard_normal(shape)
    b = np.abs(rng.standard_normal(b_shape)) + 0.5 if op == "Div" else rng.standard_normal(b_shape)
    g, loss = one_op_graph(op, [a, b])
    result = check_gradients(g, loss)
    assert result.passed, result.report()


@SETTINGS
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.booleans())
def test_matmul_on_random_shapes(batch, m, k, n, broadcast_batch):
    rng = np.random.default_rng(m * 7 + k)
    a = rng.standard_normal((batch, m, k))
    b = rng.standard_normal((k, n) if broadcast_batch else (batch, k, n))
    g, loss = one_op_graph("MatMul", [a, b])
    result = check_gradients(g, loss)
    assert result.passed, result.report()


@SETTINGS
@given(st.integers(1, 2), st.integers(1, 3), st.integers(3, 6), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 2), st.integers(0, 1), st.sampled_from([1, 2]))
def test_conv_on_random_shapes(n, cin_per_group, size, k, stride, dilation, pad, group):
    rng = np.random.default_rng(size * 11 + k)
    k = min(k, (size + 2 * pad - 1) // dilation + 1)
    x = rng.standard_normal((n, cin_per_group * group, size, size - 1 if size > 3 else size))
    w = rng.standard_normal((2 * group, cin_per_group, k, 1))
    g, loss = one_op_graph("Conv", [x, w, rng.standard_normal(2 * group)],
                           {"strides": [stride, 1], "dilations": [dilation, 1], "pads": [pad, 0, 0, pad],
                            "group": group})
    result = check_gradients(g, loss, max_per_param=12)
    assert result.passed, result.report()


@SETTINGS
@given(st.lists(dims, min_size=2, max_size=3), st.sampled_from(["ReduceSum", "ReduceMean", "ReduceMax",
                                                                  "ReduceLogSumExp", "ReduceL2"]),
       st.booleans())
def test_reductions_on_random_shapes(shape, op, keepdims):
    rng = np.random.default_rng(sum(shape))
    axes = np.array([len(shape) - 1, 0][: 1 + keepdims])
    g, loss = one_op_graph(op, [rng.standard_normal(shape), axes], {"keepdims": int(keepdims)})
    result = check_gradients(g, loss)
    assert result.passed, result.report()
