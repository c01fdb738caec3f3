"""Pretrainable layers and layer-wise pretraining: RBM contrastive divergence (CD-1 and CD-k, against a
numpy CD given the graph's own random draws), the denoising AutoEncoder, configuration checks."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from graphc import nn
from graphc.dl4j.builder import ConfigError
from graphc.dl4j.layers.pretrain import RBM, AutoEncoder, HiddenUnit, VisibleUnit, corrupt
from graphc.dl4j.pretrain import RBMPretrainer, pretrainer
from graphc.optimizers import SGD


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    return (X >= 8).astype(np.float32)[:600], (X / 16).astype(np.float32)[:600]


def _dense(conf, n_in):
    layers = conf.to_nn(None)
    for layer in layers:
        layer(nn.Input((n_in,)))
    return layers[-1]


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _numpy_cd(v0, W, hb, vb, draws, k, hidden, visible, sparsity=0.0):
    """CD-k as the layer's docstring states it, with the graph's draws in the order it makes them."""
    draws = list(draws)

    def mean(unit, a):
        return {"binary": sigmoid, "rectified": lambda t: np.maximum(t, 0)}.get(unit.value, lambda t: t)(a)

    def sample(unit, a, m):
        d = draws.pop(0)
        if unit.value == "binary":
            return (d < m).astype(np.float64)
        if unit.value == "rectified":
            return np.maximum(0, a + d * np.sqrt(sigmoid(a)))
        return m + d

    a0 = v0 @ W + hb
    ph0 = mean(hidden, a0)
    h = sample(hidden, a0, ph0)
    for _ in range(k):
        av = h @ W.T + vb
        v = sample(visible, av, mean(visible, av))
        ah = v @ W + hb
        phk = mean(hidden, ah)
        h = sample(hidden, ah, phk)
    n = len(v0)
    hb_stat = (sparsity - ph0) if sparsity else (ph0 - phk)  # DL4J's sparsity target
    return -(v0.T @ ph0 - v.T @ phk) / n, -hb_stat.sum(0) / n, -(v0 - v).sum(0) / n


@pytest.mark.parametrize("hidden,visible,k,sparsity", [(HiddenUnit.BINARY, VisibleUnit.BINARY, 1, 0.0),
                                                       (HiddenUnit.BINARY, VisibleUnit.BINARY, 3, 0.0),
                                                       (HiddenUnit.RECTIFIED, VisibleUnit.GAUSSIAN, 1, 0.0),
                                                       (HiddenUnit.GAUSSIAN, VisibleUnit.BINARY, 2, 0.0),
                                                       (HiddenUnit.BINARY, VisibleUnit.BINARY, 1, 0.1)])
def test_cd_update_equals_numpy_cd_given_the_same_draws(digits, hidden, visible, k, sparsity):
    v0 = digits[0][:32].astype(np.float64)
    conf = RBM.Builder(hidden, visible).n_in(64).n_out(16).k(k).sparsity(sparsity).seed(3).build()
    dense = _dense(conf, 64)
    lr = 0.05
    pt = RBMPretrainer(conf, dense, SGD(learning_rate=lr), seed=7, with_draws=True)
    W, hb, vb = (np.array(a, np.float64) for a in (dense.kernel.value, dense.bias.value, pt.visible_bias))
    pt.fit_batch(v0)
    draws = [pt.last[f"draw:{i}"].astype(np.float64) for i in range(2 * k + 1)]
    gW, ghb, gvb = _numpy_cd(v0, W, hb, vb, draws, k, hidden, visible, sparsity)
    np.testing.assert_allclose(pt.last["grad:W"], gW, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pt.last["grad:hb"], ghb, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pt.last["grad:vb"], gvb, rtol=1e-4, atol=1e-5)
    # and the update is the optimizer's: plain SGD, w - lr * grad
    np.testing.assert_allclose(dense.kernel.value, W - lr * gW, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pt.visible_bias, vb - lr * gvb, rtol=1e-4, atol=1e-6)


def test_cd_draws_change_from_step_to_step_and_replay_from_the_seed(digits):
    v0 = digits[0][:16]
    runs = []
    for _ in range(2):
        conf = RBM(n_in=64, n_out=8, seed=1)
        pt = RBMPretrainer(conf, _dense(conf, 64), SGD(learning_rate=0.1), seed=5, with_draws=True)
        pt.fit_batch(v0)
        first = pt.last["draw:0"].copy()
        pt.fit_batch(v0)
        runs.append((first, pt.last["draw:0"]))
    assert not np.array_equal(runs[0][0], runs[0][1])
    np.testing.assert_array_equal(runs[0][0], runs[1][0])


@pytest.mark.parametrize("k", [1, 3])
def test_rbm_reconstruction_error_falls_with_cd_k(digits, k):
    X = digits[0]
    conf = RBM(n_in=64, n_out=64, k=k, seed=1)
    pt = pretrainer(conf, _dense(conf, 64), SGD(learning_rate=0.1, momentum=0.5), seed=2)
    before = pt.reconstruction_error(X)
    for _ in range(3):
        for i in range(0, len(X), 50):
            pt.fit_batch(X[i:i + 50])
    after = pt.reconstruction_error(X)
    assert after < 0.5 * before


@pytest.mark.parametrize("algorithm", ["STOCHASTIC_GRADIENT_DESCENT", "CONJUGATE_GRADIENT", "LBFGS"])
def test_autoencoder_pretraining_lowers_reconstruction_error(digits, algorithm):
    X = digits[1]
    conf = AutoEncoder.Builder().n_in(64).n_out(32).activation("sigmoid").loss_function("RMSE_XENT") \
        .corruption_level(0.3).seed(1).build()
    dense = _dense(conf, 64)
    pt = pretrainer(conf, dense, SGD(learning_rate=0.05), algorithm=algorithm, seed=3)
    kernel_before = dense.kernel.value.copy()
    before = pt.reconstruction_error(X)
    for _ in range(2):
        for i in range(0, len(X), 100):
            pt.fit_batch(X[i:i + 100])
    pt.done()
    assert pt.reconstruction_error(X) < 0.8 * before
    # the encoder's weights are the network layer's own: pretraining changed them in place
    assert not np.allclose(dense.kernel.value, kernel_before)


def test_masking_noise_zeroes_about_the_corruption_level():
    x = np.ones((200, 50), np.float32)
    noisy = corrupt(x, 0.3, np.random.default_rng(0))
    assert set(np.unique(noisy)) <= {0.0, 1.0}
    assert abs(1 - noisy.mean() - 0.3) < 0.02
    assert corrupt(x, 0.0, np.random.default_rng(0)) is x


def test_builders_and_keywords_make_equal_confs_and_bad_settings_are_refused():
    assert RBM.Builder(HiddenUnit.RECTIFIED, VisibleUnit.GAUSSIAN).n_in(4).n_out(3).k(2).build() == \
        RBM(n_in=4, n_out=3, k=2, hidden_unit="rectified", visible_unit="GAUSSIAN")
    ae = AutoEncoder(n_in=4, n_out=3, corruption_level=0.2, sparsity=0.05)
    assert AutoEncoder.from_dict(ae.to_dict()) == ae
    assert ae.is_pretrainable and RBM.is_pretrainable and not ae.is_output
    with pytest.raises(ConfigError, match="corruption_level"):
        AutoEncoder(n_in=4, n_out=3, corruption_level=1.5).validate()
    with pytest.raises(ConfigError, match="decoder"):
        AutoEncoder(n_in=4, n_out=3, activation="leakyrelu").validate()
    with pytest.raises(ConfigError, match="k .*Gibbs"):
        RBM(n_in=4, n_out=3, k=0).validate()
    with pytest.raises(ConfigError, match="HiddenUnit"):
        RBM(hidden_unit="bernoulli")
    with pytest.raises(ConfigError, match="no setting 'corruption'"):
        AutoEncoder.Builder().corruption(0.1)


# ---- the network: layer-wise pretraining, backprop(False), the examples --------------------------------
def _example(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "dl4j" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dl4j_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_net(algorithm, backprop=False):
    from graphc.dl4j import LossFunction, MultiLayerNetwork, NeuralNetConfiguration, OutputLayer

    conf = (NeuralNetConfiguration.Builder().seed(5).iterations(2).learning_rate(0.1)
            .optimization_algo(algorithm).list()
            .layer(0, AutoEncoder.Builder().n_in(64).n_out(24).loss_function(LossFunction.MSE)
                   .corruption_level(0.2).build())
            .layer(1, RBM.Builder().n_in(24).n_out(16).build())
            .layer(2, OutputLayer.Builder(LossFunction.MCXENT).activation("softmax").n_in(16).n_out(10).build())
            .pretrain(True).backprop(backprop).build())
    return MultiLayerNetwork(conf).init()


@pytest.mark.parametrize("algorithm", ["STOCHASTIC_GRADIENT_DESCENT", "CONJUGATE_GRADIENT"])
def test_pretraining_trains_each_layer_then_backprop_false_trains_only_the_output_layer(digits, algorithm):
    from graphc.dl4j import DataSet
    from graphc.dl4j.pretrain import fit_output_layer, pretrain

    X = digits[1]
    y = np.eye(10, dtype=np.float32)[load_digits().target[:600]]
    batches = DataSet(X, y).batch_by(100)
    net = _small_net(algorithm)
    p0 = net.params()
    scores = pretrain(net, batches)
    assert sorted(scores) == [0, 1] and len(scores[1]) == 6 * 2  # an RBM: updater steps, 2 per batch
    assert 6 <= len(scores[0]) <= 6 * 2  # a line search may stop early on a batch
    p1 = net.params()
    n_hidden = net.num_params() - (16 * 10 + 10)
    assert not np.allclose(p0[:64 * 24], p1[:64 * 24]) and not np.allclose(p0[-170 - 16 * 24 - 16:-170],
                                                                             p1[-170 - 16 * 24 - 16:-170])
    np.testing.assert_array_equal(p0[n_hidden:], p1[n_hidden:])  # pretraining leaves the output layer
    fit_output_layer(net, batches)
    p2 = net.params()
    np.testing.assert_array_equal(p1[:n_hidden], p2[:n_hidden])  # backprop(False): the layers below stay
    assert not np.allclose(p1[n_hidden:], p2[n_hidden:])
    assert all(layer.trainable for i in range(3) for layer in net.get_nn_layers(i))  # flags restored
    # every iteration reaches the listeners: each pretraining score, then the output layer's iterations
    extra = net.iteration_count - sum(len(v) for v in scores.values())
    assert extra == 6 * 2 if algorithm.startswith("STOCHASTIC") else 6 <= extra <= 6 * 2


@pytest.mark.slow
def test_stacked_autoencoder_listing_short_run():
    accuracy, seconds = _example("stacked_autoencoder").main(["--short"])
    assert accuracy >= 0.6  # the full run reaches >= 0.9 (see the example's docstring)


@pytest.mark.slow
def test_dbn_example_short_run():
    accuracy, seconds = _example("dbn").main(["--short"])
    assert accuracy >= 0.6


def test_visible_biases_carry_over_from_one_pretrain_call_to_the_next(digits):
    from graphc.dl4j import DataSet
    from graphc.dl4j.pretrain import pretrain

    X = digits[1][:200]
    net = _small_net("STOCHASTIC_GRADIENT_DESCENT")
    pretrain(net, DataSet(X).batch_by(100))
    assert sorted(net.visible_biases) == [0, 1] and all(np.any(v != 0) for v in net.visible_biases.values())
    marks = {i: np.full_like(v, 0.5) for i, v in net.visible_biases.items()}
    net.visible_biases.update({i: m.copy() for i, m in marks.items()})
    pretrain(net, DataSet(X).batch_by(100))
    for i, m in marks.items():  # trained further from where they were (a few small steps), not from 0
        assert np.abs(net.visible_biases[i] - m).max() < 0.25


def test_sparsity_adds_the_kl_penalty_to_the_autoencoder_loss(digits):
    from graphc.dl4j.pretrain import AutoEncoderPretrainer

    X = digits[1][:100]
    losses = {}
    for rho in (0.0, 0.05):
        conf = AutoEncoder(n_in=64, n_out=16, activation="sigmoid", loss_function="MSE", corruption_level=0.0,
                           sparsity=rho, seed=4)
        dense = _dense(conf, 64)
        pt = AutoEncoderPretrainer(conf, dense, SGD(learning_rate=0.0))
        losses[rho] = pt.fit_batch(X)[0]
        hidden = sigmoid(X @ dense.kernel.value + dense.bias.value).mean(0)
    kl = np.sum(0.05 * np.log(0.05 / hidden) + 0.95 * np.log(0.95 / (1 - hidden)))
    assert losses[0.05] - losses[0.0] == pytest.approx(kl, rel=1e-4)


def test_listing_configurations_round_trip_through_json():
    from graphc.dl4j import MultiLayerConfiguration

    for name in ("stacked_autoencoder", "dbn"):
        conf = _example(name).configuration()
        back = MultiLayerConfiguration.from_json(conf.to_json())
        assert back == conf
        assert [type(l).__name__ for l in back.layers][:2] in (["AutoEncoder", "AutoEncoder"], ["RBM", "RBM"])
        assert back.pretrain and back.layers[0].is_pretrainable


def test_model_serializer_keeps_the_visible_biases(digits, tmp_path):
    from graphc.dl4j import DataSet, ModelSerializer
    from graphc.dl4j.pretrain import pretrain

    net = _small_net("STOCHASTIC_GRADIENT_DESCENT")
    pretrain(net, DataSet(digits[1][:200]).batch_by(100))
    ModelSerializer.write_model(net, tmp_path / "net.zip")
    back = ModelSerializer.restore_multi_layer_network(tmp_path / "net.zip")
    np.testing.assert_array_equal(back.params(), net.params())
    assert sorted(back.visible_biases) == [0, 1]
    for i, v in net.visible_biases.items():
        np.testing.assert_array_equal(back.visible_biases[i], v)
