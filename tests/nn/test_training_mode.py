"""`training` reaches the layers: inference graphs (what predict runs) leave the training-only layers
out; `Model.build_graph(training=True)` gives the training forms, checked against their definitions
(statistically for the random ones) and BatchNormalization against numpy's batch statistics."""
from __future__ import annotations

import numpy as np
import pytest

from graphc import nn
from graphc.model import GraphModel

RNG = np.random.default_rng(0)


def run_training(model, x):
    """The training graph's outputs: the model's, then its state updates and losses."""
    g = model.build_graph(training=True)
    out = GraphModel(g).predict(x, opt_level="O0")
    return g, out if isinstance(out, list) else [out]


def one_layer(layer, shape):
    x = nn.Input(shape)
    return nn.Model(x, layer(x))


def test_inference_graph_has_no_randomness():
    m = one_layer(nn.Dropout(0.5), (16,))
    ops = set(m.graph.op_counts())
    assert not ops & {"RandomUniformLike", "RandomNormalLike", "Dropout"}
    x = RNG.normal(size=(4, 16)).astype(np.float32)
    np.testing.assert_array_equal(m.predict(x, opt_level="O0"), x)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout_training_zeroes_rate_and_keeps_the_mean(rate):
    m = one_layer(nn.Dropout(rate, seed=3), (1000,))
    x = np.ones((64, 1000), np.float32)  # 64,000 draws: the fraction's std is < 0.002
    _, (y,) = run_training(m, x)
    assert abs((y == 0).mean() - rate) < 0.02
    np.testing.assert_allclose(np.unique(y), [0.0, 1.0 / (1.0 - rate)], rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.03


def test_dropout_noise_shape_and_spatial_dropout_drop_whole_blocks():
    x = np.ones((32, 6, 5, 8), np.float32)
    for layer in (nn.SpatialDropout2D(0.5), nn.Dropout(0.5, noise_shape=(None, 1, 1, 8))):
        _, (y,) = run_training(one_layer(layer, (6, 5, 8)), x)
        # constant over the broadcast axes: each (sample, channel) is all kept or all dropped
        assert (y.min(axis=(1, 2)) == y.max(axis=(1, 2))).all()
        assert abs((y[:, 0, 0, :] == 0).mean() - 0.5) < 0.1
    _, (y,) = run_training(one_layer(nn.SpatialDropout1D(0.5), (7, 8)), np.ones((32, 7, 8), np.float32))
    assert (y.min(axis=1) == y.max(axis=1)).all()


def test_gaussian_noise_and_dropout_statistics():
    _, (y,) = run_training(one_layer(nn.GaussianNoise(0.5), (1000,)), np.zeros((64, 1000), np.float32))
    assert abs(y.mean()) < 0.01 and abs(y.std() - 0.5) < 0.01
    rate = 0.2
    _, (y,) = run_training(one_layer(nn.GaussianDropout(rate), (1000,)), np.ones((64, 1000), np.float32))
    assert abs(y.mean() - 1) < 0.01 and abs(y.std() - np.sqrt(rate / (1 - rate))) < 0.01


def test_alpha_dropout_is_keras_affine_map():
    rate = 0.3
    alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    x = RNG.normal(size=(64, 500)).astype(np.float32)
    _, (y,) = run_training(one_layer(nn.AlphaDropout(rate), (500,)), x)
    kept = np.isclose(y, a * x + b, atol=1e-5)
    dropped = np.isclose(y, a * alpha_p + b, atol=1e-5)
    assert (kept | dropped).all() and abs(dropped.mean() - rate) < 0.02
    assert abs(y.mean()) < 0.05 and abs(y.std() - 1) < 0.05  # self-normalizing on N(0, 1) inputs


def test_batchnorm_training_matches_numpy_and_reports_updates():
    bn = nn.BatchNormalization(momentum=0.9, epsilon=1e-3)
    m = one_layer(bn, (5, 5, 3))
    gamma, beta = RNG.normal(size=3), RNG.normal(size=3)
    mm, mv = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    bn.set_weights([gamma, beta, mm, mv])
    x = (RNG.normal(size=(16, 5, 5, 3)) * 2 + 1).astype(np.float32)
    g, (y, new_mean, new_var) = run_training(m, x)
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-4)
    assert g.meta["updates"] == {"batch_normalization/moving_mean:update": (bn.name, "moving_mean"),
                                 "batch_normalization/moving_variance:update": (bn.name, "moving_variance")} \
        or set(g.meta["updates"].values()) == {(bn.name, "moving_mean"), (bn.name, "moving_variance")}
    np.testing.assert_allclose(new_mean, 0.9 * mm + 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_var, 0.9 * mv + 0.1 * var, rtol=1e-5, atol=1e-6)
    # inference still reads the moving statistics
    np.testing.assert_allclose(m.predict(x, opt_level="O0"), (x - mm) / np.sqrt(mv + 1e-3) * gamma + beta,
                               rtol=1e-4, atol=1e-4)


def test_applied_updates_reach_inference():
    i = nn.Input((3,))
    bn = nn.BatchNormalization(momentum=0.5)
    x = nn.Input((3,))
    m = nn.Model(x, nn.Model(i, bn(i), name="inner")(x))  # the updated weight sits in a nested model
    x_data = (RNG.normal(size=(32, 3)) + 3).astype(np.float32)
    before = m.predict(x_data, opt_level="O2")
    g = m.build_graph(training=True)
    outs = GraphModel(g).predict(x_data, opt_level="O0")
    m.apply_updates(g, dict(zip([n for n, _ in g.outputs], outs)))
    mean, var = 0.5 * x_data.mean(0), 0.5 + 0.5 * x_data.var(0)
    np.testing.assert_allclose(bn.moving_mean.value, mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.value, var, rtol=1e-5)
    after = m.predict(x_data, opt_level="O2")  # the weights changed: predict recompiles
    np.testing.assert_allclose(after, (x_data - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    assert not np.allclose(before, after)


def test_batchnorm_training_with_a_mask_uses_masked_moments():
    x_in = nn.Input((6, 3))
    m = nn.Model(x_in, nn.BatchNormalization()(nn.Masking()(x_in)))
    x = RNG.normal(size=(4, 6, 3)).astype(np.float32)
    x[:, 4:] = 0
    x[0, 2:] = 0
    _, (y, new_mean, _) = run_training(m, x)
    keep = np.any(x != 0, -1)
    mean, var = x[keep].mean(0), x[keep].var(0)
    np.testing.assert_allclose(y[keep], (x[keep] - mean) / np.sqrt(var + 1e-3), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(new_mean, 0.01 * mean, rtol=1e-3, atol=1e-6)


def test_training_argument_of_a_call_overrides_the_graph():
    x = nn.Input((1000,))
    frozen_bn = nn.BatchNormalization()
    y = frozen_bn(nn.Dropout(0.5)(x, training=False), training=False)
    mc = nn.Dropout(0.5, seed=1)(y, training=True)  # Monte-Carlo dropout: active even at inference
    m = nn.Model(x, mc)
    data = np.ones((8, 1000), np.float32)
    assert abs((m.predict(data, opt_level="O0") == 0).mean() - 0.5) < 0.05
    g, outs = run_training(m, data)
    assert g.meta["updates"] == {}  # the BatchNormalization called with training=False stays frozen
    assert abs((outs[0] == 0).mean() - 0.5) < 0.05


def test_nested_model_called_with_training_false_is_inference_inside():
    i = nn.Input((100,))
    inner = nn.Model(i, nn.BatchNormalization()(nn.Dropout(0.5)(i)))
    x = nn.Input((100,))
    outer = nn.Model(x, inner(x, training=False))
    data = RNG.normal(size=(4, 100)).astype(np.float32)
    g, outs = run_training(outer, data)
    assert g.meta["updates"] == {} and len(outs) == 1
    np.testing.assert_allclose(outs[0], data / np.sqrt(1 + 1e-3), rtol=1e-5)


def test_untrainable_batchnorm_is_inference_in_training():
    bn = nn.BatchNormalization(trainable=False)
    g, outs = run_training(one_layer(bn, (3,)), np.ones((4, 3), np.float32))
    assert g.meta["updates"] == {} and len(outs) == 1


def test_activity_regularization_adds_loss_terms():
    x = nn.Input((5,))
    d = nn.Dense(4, activity_regularizer="l2")
    y = nn.ActivityRegularization(l1=0.1)(d(x))
    m = nn.Model(x, y)
    data = RNG.normal(size=(3, 5)).astype(np.float32)
    g, (out, l2_term, l1_term) = run_training(m, data)
    assert g.meta["losses"] == ["loss_0", "loss_1"]
    k, b = d.get_weights()
    h = data @ k + b
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-6)
    # Keras 3 divides an activity penalty by the batch size
    np.testing.assert_allclose(l2_term, 0.01 * np.sum(h ** 2) / 3, rtol=1e-5)
    np.testing.assert_allclose(l1_term, 0.1 * np.sum(np.abs(h)) / 3, rtol=1e-5)
    assert m.graph.outputs == [(m.graph.outputs[0][0], m.graph.outputs[0][1])]  # inference: no losses


@pytest.mark.parametrize("steps", [3, None])  # unrolled, and the ONNX Scan of an unknown length
def test_rnn_dropout_masks_are_per_sequence(steps):
    """A linear SimpleRNN of one unit makes the masks visible: with kernel 1 on a one-hot input and
    no recurrence, every step outputs the input mask (0 or 1/(1-rate)), the same at every step; with
    kernel 0, recurrence 1 and bias 1, step two outputs 1 + recurrent mask."""
    rate = 0.4
    x = nn.Input((steps, 4))
    rnn = nn.SimpleRNN(1, activation="linear", return_sequences=True, dropout=rate)
    m = nn.Model(x, rnn(x))
    rnn.set_weights([np.array([[0], [1], [0], [0]]), np.zeros((1, 1)), np.zeros(1)])
    data = np.zeros((2000, 3, 4), np.float32)
    data[:, :, 1] = 1
    _, (y,) = run_training(m, data)
    assert (y[:, :, 0] == y[:, :1, 0]).all() and abs((y == 0).mean() - rate) < 0.04
    np.testing.assert_allclose(np.unique(y), [0, 1 / (1 - rate)], rtol=1e-6)
    np.testing.assert_array_equal(m.predict(data, opt_level="O0"), data[:, :, 1:2])  # inference: no dropout

    rec = nn.SimpleRNN(1, activation="linear", return_sequences=True, recurrent_dropout=rate)
    m = nn.Model(x2 := nn.Input((steps, 4)), rec(x2))
    rec.set_weights([np.zeros((4, 1)), np.ones((1, 1)), np.ones(1)])
    _, (y,) = run_training(m, data)
    np.testing.assert_allclose(y[:, 0, 0], 1)
    assert abs((y[:, 1, 0] == 1).mean() - rate) < 0.04
    np.testing.assert_allclose(np.unique(y[:, 1, 0]), [1, 1 + 1 / (1 - rate)], rtol=1e-6)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_gated_rnn_training_graph_with_both_dropouts(cls):
    x = nn.Input((None, 3))
    layer = cls(4, dropout=0.3, recurrent_dropout=0.3, seed=2)
    m = nn.Model(x, layer(x))
    data = RNG.normal(size=(8, 5, 3)).astype(np.float32)
    _, (y,) = run_training(m, data)
    assert y.shape == (8, 4) and np.isfinite(y).all()
    assert not np.allclose(y, m.predict(data, opt_level="O0"))
    clean = cls(4)
    m2 = nn.Model(x2 := nn.Input((None, 3)), clean(x2))
    clean.set_weights(layer.get_weights())
    np.testing.assert_allclose(m.predict(data, opt_level="O0"), m2.predict(data, opt_level="O0"), rtol=1e-6)


def test_conv_lstm_training_graph_with_both_dropouts():
    x = nn.Input((3, 5, 5, 2))
    layer = nn.ConvLSTM2D(3, 3, padding="same", dropout=0.3, recurrent_dropout=0.3)
    m = nn.Model(x, layer(x))
    data = RNG.normal(size=(4, 3, 5, 5, 2)).astype(np.float32)
    g, (y,) = run_training(m, data)
    assert y.shape == (4, 5, 5, 3) and np.isfinite(y).all() and g.op_counts()["RandomUniformLike"] == 8
    assert not np.allclose(y, m.predict(data, opt_level="O0"))


def test_training_graph_matches_real_keras_training_call():
    """BatchNormalization's training output and moving statistics, and the activity losses, as
    Keras computes them in `model(x, training=True)`."""
    keras = pytest.importorskip("keras")
    kx = keras.Input((4,))
    kd = keras.layers.Dense(3, activity_regularizer=keras.regularizers.L1L2(0.01, 0.02))
    kbn = keras.layers.BatchNormalization(momentum=0.8)
    km = keras.Model(kx, kbn(kd(kx)))
    x = nn.Input((4,))
    d = nn.Dense(3, activity_regularizer={"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.02}})
    bn = nn.BatchNormalization(momentum=0.8)
    m = nn.Model(x, bn(d(x)))
    d.set_weights(kd.get_weights())
    kbn.set_weights([RNG.normal(size=3), RNG.normal(size=3), RNG.normal(size=3), RNG.uniform(1, 2, 3)])
    bn.set_weights(kbn.get_weights())
    data = RNG.normal(size=(10, 4)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(km(data, training=True))
    g, (y, new_mean, new_var, loss) = run_training(m, data)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_mean, kbn.moving_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_var, kbn.moving_variance.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, keras.ops.convert_to_numpy(km.losses[0]), rtol=1e-5)
