"""Every layer family of graphc.nn through gradcheck: the model's inference graph (float64), a loss
of sum of squares of the output, gradients w.r.t. every Variable and the input, checked by
central differences."""
from __future__ import annotations

import numpy as np
import pytest

from graphc import nn
from graphc.gradcheck import check_gradients

RNG = np.random.default_rng(0)


def _check(model, *xs, wrt_inputs=True, max_per_param=10):
    g = model.graph
    y = g.outputs[0][1]
    loss = (g.add_node("ReduceSumSquare", [y], {"keepdims": 0}, name="loss"), 0)
    feeds = dict(zip(g.inputs, xs))
    wrt = [n for n in g.variables()] + ([n for n in g.inputs if xs[g.inputs.index(n)].dtype.kind == "f"]
                                        if wrt_inputs else [])
    result = check_gradients(g, loss, feeds=feeds, wrt=wrt, max_per_param=max_per_param)
    assert {p.name for p in result.params} == set(wrt)
    assert result.passed, result.report()


def _seq(layers, shape):
    x = nn.Input(shape)
    y = x
    for layer in layers:
        y = layer(y)
    return nn.Model(x, y)


def x_of(*shape):
    return RNG.standard_normal(shape)


LAYERS = {
    "Dense": ([nn.Dense(4, activation="relu"), nn.Dense(3, activation="softmax")], (5,)),
    "Dense-3d": ([nn.Dense(3, activation="tanh")], (2, 4)),
    "Conv1D-dilated": ([nn.Conv1D(3, 3, dilation_rate=2, activation="sigmoid")], (9, 2)),
    "Conv2D-strided-same": ([nn.Conv2D(3, 3, strides=2, padding="same", activation="elu")], (6, 5, 2)),
    "Conv2D-groups": ([nn.Conv2D(4, 2, groups=2)], (5, 5, 4)),
    "Conv3D": ([nn.Conv3D(2, 2, padding="same")], (3, 4, 3, 2)),
    "DepthwiseConv2D": ([nn.DepthwiseConv2D(3, depth_multiplier=2)], (5, 5, 2)),
    "SeparableConv2D": ([nn.SeparableConv2D(3, 3, padding="same")], (5, 4, 2)),
    "Conv2DTranspose": ([nn.Conv2DTranspose(2, 3, strides=2)], (3, 3, 2)),
    "MaxPooling2D": ([nn.Conv2D(2, 2), nn.MaxPooling2D(2)], (5, 5, 1)),
    "MaxPooling1D-same": ([nn.MaxPooling1D(2, padding="same")], (5, 2)),
    "AveragePooling2D-same": ([nn.AveragePooling2D(2, padding="same")], (5, 5, 2)),
    "GlobalAveragePooling2D": ([nn.GlobalAveragePooling2D(), nn.Dense(2)], (3, 4, 2)),
    "GlobalMaxPooling1D": ([nn.GlobalMaxPooling1D()], (4, 3)),
    "BatchNormalization-inference": ([nn.BatchNormalization()], (4, 3)),
    "LayerNormalization": ([nn.LayerNormalization()], (3, 4)),
    "Dropout-inference": ([nn.Dense(3), nn.Dropout(0.5)], (4,)),
    "SimpleRNN": ([nn.SimpleRNN(3)], (4, 2)),
    "LSTM": ([nn.LSTM(3, return_sequences=True)], (3, 2)),
    "GRU": ([nn.GRU(2)], (3, 2)),
    "Flatten-Reshape": ([nn.Flatten(), nn.Reshape((2, 6)), nn.Dense(2)], (3, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_family(name):
    layers, shape = LAYERS[name]
    _check(_seq(layers, shape), x_of(2, *shape))


def test_embedding():
    x = nn.Input((4,), dtype="int32")
    m = nn.Model(x, nn.Dense(2)(nn.Embedding(6, 3)(x)))
    _check(m, np.array([[0, 5, 2, 2], [1, 0, 3, 5]], np.int32))  # Keras feeds int32 indices


def test_attention():
    q, v = nn.Input((3, 4)), nn.Input((2, 4))
    m = nn.Model([q, v], nn.Attention(use_scale=True)([q, v]))
    _check(m, x_of(2, 3, 4), x_of(2, 2, 4))


def test_multi_head_attention():
    q, v = nn.Input((3, 4)), nn.Input((2, 4))
    m = nn.Model([q, v], nn.MultiHeadAttention(num_heads=2, key_dim=2)(q, v))
    _check(m, x_of(2, 3, 4), x_of(2, 2, 4), max_per_param=6)


def test_merge_layers():
    a, b = nn.Input((3,)), nn.Input((3,))
    y = nn.Concatenate()([nn.Add()([a, b]), nn.Multiply()([a, b]), nn.Maximum()([a, b])])
    _check(nn.Model([a, b], nn.Dense(2)(y)), x_of(2, 3), x_of(2, 3))


def test_layer_weights_keras_does_not_train_are_frozen_in_the_graph():
    """BatchNormalization's moving statistics and a frozen layer's weights get no gradient."""
    from graphc import nn
    from graphc.autodiff import trainable_variables

    x = nn.Input((5, 5, 3))
    frozen = nn.Conv2D(2, 3, name="frozen_conv")
    frozen.trainable = False
    y = nn.Dense(2, name="head")(nn.BatchNormalization(name="bn")(frozen(nn.Conv2D(3, 1, name="c1")(x))))
    names = trainable_variables(nn.Model(x, y).graph)
    assert sorted(names) == ["bn/beta", "bn/gamma", "c1/bias", "c1/kernel", "head/bias", "head/kernel"]
