"""The layer library without files: functional API, Sequential, shared and nested models, summary."""
from __future__ import annotations

import numpy as np
import pytest

from graphc import nn
from graphc.errors import ModelFormatError


def run(model, *xs):
    return model.predict(list(xs) if len(xs) > 1 else xs[0], opt_level="O0")


def test_dense_functional_matches_numpy():
    x = nn.Input((4,), name="x")
    d = nn.Dense(3, activation="relu", name="d")
    m = nn.Model(x, d(x))
    data = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    k, b = d.get_weights()
    np.testing.assert_allclose(run(m, data), np.maximum(data @ k + b, 0), rtol=1e-5, atol=1e-6)
    assert [w.name for w in d.weights] == ["kernel", "bias"]
    assert m.graph.type_of(m.graph.outputs[0][1]).shape == ("batch", 3)


def test_sequential_and_batches():
    m = nn.Sequential([nn.Input((6,)), nn.Dense(4, activation="tanh"), nn.Dropout(0.5), nn.Dense(2)])
    data = np.ones((7, 6), np.float32)
    full = run(m, data)
    assert full.shape == (7, 2)
    np.testing.assert_allclose(m.predict(data, batch_size=3, opt_level="O0"), full, rtol=1e-6)


def test_sequential_builds_when_called():
    seq = nn.Sequential([nn.Dense(3), nn.Dense(2)])
    x = nn.Input((5,))
    m = nn.Model(x, seq(x))
    assert run(m, np.ones((2, 5), np.float32)).shape == (2, 2)


def test_shared_layer_uses_one_set_of_variables():
    a, b = nn.Input((3,)), nn.Input((3,))
    d = nn.Dense(2)
    m = nn.Model([a, b], nn.Add()([d(a), d(b)]))
    assert len(m.graph.variables()) == 2
    x = np.ones((1, 3), np.float32)
    k, bias = d.get_weights()
    np.testing.assert_allclose(run(m, x, 2 * x), (x @ k + bias) + (2 * x @ k + bias), rtol=1e-5)


def test_nested_model_as_layer():
    i = nn.Input((4,))
    inner = nn.Model(i, nn.Dense(2, activation="sigmoid")(i), name="inner")
    x = nn.Input((4,))
    outer = nn.Model(x, nn.Dense(1)(inner(x)))
    assert len(outer.weights) == 4 and run(outer, np.zeros((3, 4), np.float32)).shape == (3, 1)


def test_conv_layout_transposes_are_counted_and_summary_shows_them():
    x = nn.Input((8, 8, 3))
    y = nn.MaxPooling2D()(nn.Conv2D(4, 3, padding="same", activation="relu")(x))
    m = nn.Model(x, nn.Dense(2)(nn.GlobalAveragePooling2D()(y)), name="cnn")
    assert m.transpose_count == 4
    text = m.summary(print_fn=None)
    assert 'Model: "cnn"' in text and "Conv2D" in text and "(None, 8, 8, 4)" in text
    assert f"Total params: {m.count_params():,}" in text and "Transposes on data, before optimization: 4" in text


def test_set_weights_checks_shapes():
    d = nn.Dense(2)
    nn.Model(x := nn.Input((3,)), d(x))
    with pytest.raises(ModelFormatError, match=r"weight 'kernel' has shape \[4, 2\], expected \[3, 2\]"):
        d.set_weights([np.zeros((4, 2)), np.zeros(2)])


def test_embedding_mask_reaches_lstm():
    ids = nn.Input((5,), dtype="int32")
    emb = nn.Embedding(10, 3, mask_zero=True)
    lstm = nn.LSTM(4)
    m = nn.Model(ids, lstm(emb(ids)))
    a = np.array([[1, 2, 3, 0, 0]], np.int32)
    b = np.array([[1, 2, 3, 0, 0]], np.int32)
    b[0, 3:] = 0
    # padding steps do not change the result: same as the unpadded prefix model
    ids3 = nn.Input((3,), dtype="int32")
    m3 = nn.Model(ids3, lstm(emb(ids3)))
    np.testing.assert_allclose(run(m, a), run(m3, a[:, :3]), rtol=1e-5, atol=1e-6)


def test_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="unexpected"):
        nn.Dense(3, colour="blue")
