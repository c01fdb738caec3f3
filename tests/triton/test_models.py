"""Whole models on the interpreter against ONNX Runtime (<= 1e-4 relative), with their kernel
counts and fallbacks asserted: the committed torch-exported ONNX fixtures (MLP, ResNet-style CNN
with BatchNorm folded, transformer encoder block), graphc.nn models (a CNN with BatchNorm at O0,
a MobileNet-style depthwise block, a transformer encoder block) and small Keras fixtures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import nn

from .conftest import check_against_ort

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def randomize(model, seed=0):
    """Random weights everywhere (BatchNorm variances positive), so no layer is an identity."""
    rng = np.random.default_rng(seed)
    arrays = []
    for w in model.weights:
        a = rng.standard_normal(w.shape).astype(np.float32) * 0.3
        arrays.append(np.abs(a) + 0.5 if "variance" in w.name else a)
    model.set_weights(arrays)
    return model


@pytest.mark.parametrize("name,kernels,fallback_ops", [
    ("torch_mlp", 4, []),
    ("torch_resnet_block", 11, []),  # 9 convolutions (residual add and ReLU as epilogue), pool, Gemm
    ("torch_transformer", 11, []),  # attention one flash kernel; head merges stored through their views
])
def test_onnx_fixtures(name, kernels, fallback_ops):
    model = graphc.load(FIXTURES / "onnx" / f"{name}.onnx")
    data = np.load(FIXTURES / "onnx" / f"{name}.npz")
    tri = check_against_ort(model, {"input_0": data["input_0"]}, rtol=1e-4)
    assert tri.kernel_count == kernels
    assert sorted(op for _, op, _ in tri.fallbacks) == sorted(fallback_ops)


def test_mlp_from_graphc_nn():
    m = randomize(nn.Sequential([nn.Input((20,)), nn.Dense(32, activation="relu"), nn.Dense(16, activation="tanh"),
                                 nn.Dense(5, activation="softmax")]))
    x = np.random.default_rng(1).standard_normal((7, 20)).astype(np.float32)
    tri = check_against_ort(m, {m.graph.inputs[0]: x}, rtol=1e-4)
    # each Dense is one matmul with its bias and activation as epilogue; the softmax is a reduction
    assert tri.kernel_count == 4 and tri.fallbacks == []


def test_small_cnn_with_batchnorm_unfolded():
    m = randomize(nn.Sequential([
        nn.Input((10, 10, 3)), nn.Conv2D(8, 3, padding="same"), nn.BatchNormalization(), nn.ReLU(),
        nn.MaxPooling2D(2), nn.Conv2D(8, 3), nn.BatchNormalization(), nn.ReLU(),
        nn.GlobalAveragePooling2D(), nn.Dense(4)]), seed=2)
    x = np.random.default_rng(3).standard_normal((2, 10, 10, 3)).astype(np.float32)
    tri = check_against_ort(m, {m.graph.inputs[0]: x}, rtol=1e-4, opt_level="O0")
    assert tri.fallbacks == []
    # O0 keeps the weight transposes and BatchNorm's constant arithmetic (4 small kernels); each
    # convolution is an implicit-GEMM kernel, the first reading the NHWC input through its layout
    # transpose (no copy); the first BatchNorm+ReLU, the layout transposes and the max pool are one
    # kernel; the second BatchNorm+ReLU is the global pool's prologue; Dense is a matmul with its bias
    assert tri.kernel_count == 9, tri.source
    prog = tri.program({"batch": 2})
    pool, = [k for k in prog.schedule.kernels if k.anchor and prog.graph.op(k.anchor) == "ReduceMean"]
    assert {prog.graph.op(n) for n in pool.nodes} == {"Relu", "Mul", "Add", "Neg", "Transpose", "ReduceMean"}


def test_mobilenet_style_depthwise_block():
    x = nn.Input((12, 12, 8))
    h = nn.Conv2D(16, 1, use_bias=False)(x)
    h = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(h))
    h = nn.DepthwiseConv2D(3, padding="same", use_bias=False)(h)
    h = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(h))
    h = nn.BatchNormalization()(nn.Conv2D(8, 1, use_bias=False)(h))
    m = randomize(nn.Model(x, nn.Add()([x, h])), seed=4)
    data = np.random.default_rng(5).standard_normal((2, 12, 12, 8)).astype(np.float32)
    tri = check_against_ort(m, {m.graph.inputs[0]: data}, rtol=1e-4)
    # two convolutions with BatchNorm+ReLU6 folded in (FusedConv), the first reading the NHWC input
    # through its layout transpose; the last 1x1 convolution with its BatchNorm, the layout transpose
    # back and the residual add as epilogue (stored NHWC): 3 kernels, no transposed copies
    assert tri.fallbacks == [] and tri.kernel_count == 3, tri.source


def test_transformer_encoder_block_from_graphc_nn():
    x = nn.Input((6, 16))
    a = nn.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    h = nn.LayerNormalization(epsilon=1e-5)(nn.Add()([x, a]))
    f = nn.Dense(16)(nn.Dense(32, activation="gelu")(h))
    m = randomize(nn.Model(x, nn.LayerNormalization(epsilon=1e-5)(nn.Add()([h, f]))), seed=6)
    data = np.random.default_rng(7).standard_normal((3, 6, 16)).astype(np.float32)
    tri = check_against_ort(m, {m.graph.inputs[0]: data}, rtol=1e-4)
    assert tri.fallbacks == [], tri.fallbacks
    # q, k and v projections (bias and head split as epilogue); attention as one flash kernel storing
    # the merged heads; the output projection; Add+LayerNorm; the two Dense (GELU as epilogue); Add+LayerNorm
    assert tri.kernel_count == 9, tri.source
    assert sum(k.kind == "attention" for k in tri.program({"batch": 3}).schedule.kernels) == 1


@pytest.mark.parametrize("name", ["dense_relu", "batchnorm_dense", "struct_sequential_mlp", "struct_nested",
                                  "attention_dot", "bench_transformer_block", "bench_small_cnn", "cropping2d",
                                  "depthwise_conv2d", "conv2d_groups", "dense_3d_input", "struct_two_in_two_out",
                                  "lstm", "gru", "activations_all", "upsampling1d", "upsampling2d_bilinear",
                                  "center_crop", "zeropadding2d", "concatenate_axis1", "gru_backwards",
                                  "conv1d_transpose", "conv2d_transpose_dilation"])
def test_keras_fixtures(name):
    model = graphc.load(FIXTURES / "keras" / f"{name}.keras")
    data = np.load(FIXTURES / "keras" / f"{name}.npz")
    names = graphc.compile(model, threads=1).input_names
    check_against_ort(model, {n: data[f"input_{i}"] for i, n in enumerate(names)}, rtol=1e-4)
