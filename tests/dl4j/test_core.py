"""graphc.dl4j core: builders, configuration, feed-forward/CNN layers, MultiLayerNetwork, JSON,
ModelSerializer, listeners, the LeNet example."""
import json

import numpy as np
import pytest

import graphc.dl4j as dl4j
from graphc.dl4j import (Activation, ConfigError, DenseLayer, InputType, LossFunction, NormalDistribution,
                         OutputLayer, WeightInit)
from graphc.errors import GraphcError


# ---- builders ----------------------------------------------------------------------------------
def test_builder_chain_equals_keywords():
    a = DenseLayer(n_in=3, n_out=4, activation="tanh", weight_init=WeightInit.XAVIER)
    b = DenseLayer.Builder().n_in(3).n_out(4).activation(Activation.TANH).weight_init("xavier").build()
    assert a == b
    assert a != DenseLayer(n_in=3, n_out=5, activation="tanh", weight_init=WeightInit.XAVIER)
    out = OutputLayer.Builder(LossFunction.MCXENT).n_out(3).activation("softmax").build()
    assert out == OutputLayer(LossFunction.MCXENT, n_out=3, activation="softmax")
    assert out.loss_function is LossFunction.MCXENT and out.is_output
    assert NormalDistribution(0, 0.01) == NormalDistribution.Builder(0, 0.01).build()


def test_unknown_setter_and_field_name_class_and_field():
    with pytest.raises(ConfigError, match=r"DenseLayer.Builder has no setting 'n_outs'"):
        DenseLayer.Builder().n_outs(3)
    with pytest.raises(ConfigError, match=r"DenseLayer has no field\(s\) \['units'\]"):
        DenseLayer(units=3)
    with pytest.raises(ConfigError, match="not a Activation|is not a Activation"):
        DenseLayer(activation="nonsense")
    assert issubclass(ConfigError, GraphcError)


def test_to_dict_round_trip_through_json():
    layer = DenseLayer(n_in=3, n_out=4, activation="relu", weight_init=WeightInit.DISTRIBUTION,
                       dist=NormalDistribution(0.0, 0.5), l2=1e-3)
    d = json.loads(json.dumps(layer.to_dict()))
    assert d["@class"] == "DenseLayer" and d["dist"]["@class"] == "NormalDistribution"
    assert dl4j.Buildable.from_dict(d) == layer


# ---- configuration ---------------------------------------------------------------------------------
from graphc.dl4j import (BackpropType, ConvolutionLayer, ConvolutionLayerSetup, DataSet,  # noqa: E402
                         MultiLayerConfiguration, MultiLayerNetwork, NeuralNetConfiguration, PoolingType,
                         SubsamplingLayer, Updater)


def lenet_builder(seed=42):
    builder = (NeuralNetConfiguration.Builder().seed(seed).iterations(1).regularization(True).l2(0.0005)
               .learning_rate(0.02).weight_init(WeightInit.XAVIER).updater(Updater.ADAGRAD).list(6)
               .layer(0, ConvolutionLayer.Builder(5, 5).n_in(1).stride(1, 1).n_out(20).activation("identity").build())
               .layer(1, SubsamplingLayer.Builder(PoolingType.MAX, [2, 2]).stride(2, 2).build())
               .layer(2, ConvolutionLayer.Builder(5, 5).stride(2, 2).n_out(50).activation("identity").build())
               .layer(3, SubsamplingLayer.Builder(PoolingType.MAX, [2, 2]).stride(2, 2).build())
               .layer(4, DenseLayer.Builder().activation("relu").n_out(200).build())
               .layer(5, OutputLayer.Builder(LossFunction.NEGATIVELOGLIKELIHOOD).n_out(10).activation("softmax")
                      .build())
               .backprop(True).pretrain(False))
    ConvolutionLayerSetup(builder, 28, 28, 1)
    return builder


def mlp_conf(seed=7, updater=Updater.NESTEROVS, dropout=None, **globals_):
    b = NeuralNetConfiguration.Builder().seed(seed).learning_rate(0.1).updater(updater).regularization(True) \
        .l2(1e-3)
    for k, v in globals_.items():
        getattr(b, k)(v)
    hidden = DenseLayer.Builder().n_in(4).n_out(8).activation("tanh")
    if dropout:
        hidden = hidden.dropout(dropout)
    return (b.list().layer(0, hidden.build())
            .layer(1, OutputLayer.Builder(LossFunction.MCXENT).n_out(3).activation("softmax").build()).build())


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    return DataSet(x, np.eye(3, dtype=np.float32)[y]).shuffle(0)


def test_lenet_n_in_inferred_with_the_cnn_to_dense_preprocessor():
    conf = lenet_builder().build()
    assert [l.n_in for l in conf.layers] == [1, 20, 20, 50, 200, 200]
    assert [l.n_out for l in conf.layers] == [20, 20, 50, 50, 200, 10]
    pre = dict(conf.input_preprocessors)
    assert sorted(pre) == [0, 4]
    assert pre[0] == dl4j.FeedForwardToCnnPreProcessor(28, 28, 1)
    assert pre[4] == dl4j.CnnToFeedForwardPreProcessor(2, 2, 50)
    assert conf.input_type == InputType.convolutional_flat(28, 28, 1)
    same = lenet_builder()
    same.set_input_type(InputType.convolutional_flat(28, 28, 1))
    assert same.build() == conf


def test_cascade_globals_to_layers_own_setting_wins():
    conf = (NeuralNetConfiguration.Builder().seed(3).activation("relu").weight_init(WeightInit.RELU)
            .learning_rate(0.05).regularization(True).l2(0.01).l1(0.002).drop_out(0.8).list()
            .layer(0, DenseLayer(n_in=4, n_out=5))
            .layer(1, DenseLayer(n_out=6, activation="tanh", l2=0.5, weight_init="xavier"))
            .layer(2, OutputLayer(LossFunction.MSE, n_out=2, activation="identity")).build())
    a, b, c = conf.layers
    assert (a.activation, a.weight_init, a.l2, a.l1, a.dropout, a.learning_rate) == \
        (Activation.RELU, WeightInit.RELU, 0.01, 0.002, 0.8, 0.05)
    assert (b.activation, b.weight_init, b.l2, b.l1) == (Activation.TANH, WeightInit.XAVIER, 0.5, 0.002)
    assert c.activation is Activation.IDENTITY and b.n_in == 5 and c.n_in == 6
    assert len({a.seed, b.seed, c.seed}) == 3  # each layer draws its own initial weights
    # DL4J: l1/l2 count only under regularization(True), a layer's own included
    off = (NeuralNetConfiguration.Builder().l2(0.01).list().layer(0, DenseLayer(n_in=4, n_out=5, l2=0.3))
           .layer(1, OutputLayer(LossFunction.MSE, n_out=2, activation="identity")).build())
    assert [l.l2 for l in off.layers] == [0.0, 0.0]
    # defaults: DL4J 0.9's sigmoid and Xavier
    plain = NeuralNetConfiguration.Builder().list().layer(0, OutputLayer(LossFunction.MSE, n_in=2, n_out=1)).build()
    assert plain.layers[0].activation is Activation.SIGMOID and plain.layers[0].weight_init is WeightInit.XAVIER


def test_configuration_json_round_trip_and_same_params_from_the_seed():
    conf = lenet_builder(seed=5).build()
    text = conf.to_json()
    back = MultiLayerConfiguration.from_json(text)
    assert back == conf and back.to_json() == text
    a, b = MultiLayerNetwork(conf).init(), MultiLayerNetwork(back).init()
    assert a.num_params() == b.num_params() == 20 * 25 + 20 + 50 * 20 * 25 + 50 + 200 * 200 + 200 + 2010
    np.testing.assert_array_equal(a.params(), b.params())
    other = MultiLayerNetwork(lenet_builder(seed=6).build()).init()
    assert not np.array_equal(a.params(), other.params())


def _err(builder_fn, *patterns):
    with pytest.raises(ConfigError) as e:
        builder_fn()
    for p in patterns:
        assert p in str(e.value), str(e.value)
    return str(e.value)


def test_errors_at_build_name_the_layer_and_the_fix():
    L = lambda: NeuralNetConfiguration.Builder().list()  # noqa: E731
    out = OutputLayer(LossFunction.MCXENT, n_out=3, activation="softmax")
    _err(lambda: L().layer(0, DenseLayer(n_in=4, n_out=5, name="hidden")).layer(1, out.copy(n_in=7)).build(),
         "layer 1", "OutputLayer", "n_in is 7", "has 5")
    _err(lambda: L().layer(0, DenseLayer(n_in=4, n_out=5)).layer(1, out.copy(activation="sigmoid")).build(),
         "layer 1", "MCXENT", "softmax")
    _err(lambda: L().layer(0, OutputLayer(LossFunction.NEGATIVELOGLIKELIHOOD, n_in=4, n_out=3,
                                          activation="relu")).build(), "NEGATIVELOGLIKELIHOOD", "softmax")
    _err(lambda: L().layer(0, OutputLayer(LossFunction.XENT, n_in=4, n_out=3, activation="softmax")).build(),
         "XENT", "sigmoid")
    _err(lambda: L().layer(0, OutputLayer(n_in=4, n_out=3, activation="softmax")).build(), "needs a loss")
    _err(lambda: L().layer(0, DenseLayer(n_in=4, n_out=5, name="last")).build(), "'last'", "not an output layer")
    _err(lambda: L().layer(0, DenseLayer.Builder().n_in(4).n_out(5)).layer(1, out).build(), "call .build()")
    _err(lambda: L().layer(0, DenseLayer(n_in=4, n_out=5)).layer(2, out).build(), "leave out [1]")
    _err(lambda: NeuralNetConfiguration.Builder().list(3).layer(0, out.copy(n_in=4)).build(), ".list(3)")
    _err(lambda: L().layer(0, DenseLayer(n_in=4, n_out=5)).layer(1, out).backprop_type(BackpropType.TRUNCATED_BPTT)
         .build(), "TRUNCATED_BPTT", "recurrent")
    _err(lambda: L().layer(0, DenseLayer(n_out=5)).layer(1, out).build(), "n_in is not set")
    _err(lambda: L().layer(0, ConvolutionLayer(n_in=1, n_out=4)).layer(1, out).build(), "image size")
    _err(lambda: L().set_input_type(InputType.convolutional(6, 6, 1)).layer(0, ConvolutionLayer(
        kernel_size=(3, 3), stride=(2, 2), n_out=2, convolution_mode="strict")).layer(1, out).build(),
        "STRICT", "not divisible")
    _err(lambda: L().layer(0, DenseLayer(n_in=4)).layer(1, out).build(), "n_out is not set")
    _err(lambda: L().layer(0, DenseLayer(n_in=4, n_out=4, name="a")).layer(1, out.copy(name="a")).build(),
         "['a']", "more than one layer")
    conf = (NeuralNetConfiguration.Builder().updater(Updater.ADAM).list()
            .layer(0, DenseLayer(n_in=4, n_out=5, updater=Updater.SGD)).layer(1, out).build())
    _err(lambda: MultiLayerNetwork(conf).init(), "layer 0", "updater", "NeuralNetConfiguration")
    _err(lambda: MultiLayerConfiguration.from_json("{nope"), "not JSON")


# ---- training ---------------------------------------------------------------------------------------
def test_dl4j_mlp_trains_as_the_same_graphc_nn_model_with_the_same_updater(iris):
    from graphc import nn, optimizers
    from graphc.optimizers import Regularization

    net = MultiLayerNetwork(mlp_conf(updater=Updater.NESTEROVS, momentum=0.8)).init()
    flat = net.params()

    def twin():
        model = nn.Sequential([nn.Input((4,)), nn.Dense(8, activation="tanh"), nn.Dense(3, activation="softmax")])
        ws, start = [], 0
        for w in model.weights:  # DL4J's params(): layer by layer, W then b
            ws.append(flat[start:start + w.value.size].reshape(w.shape))
            start += w.value.size
        model.set_weights(ws)
        # DL4J's L2 on weights only (biases have l2_bias, 0 by default), Nesterov momentum 0.8 at 0.1
        model.compile(optimizer=optimizers.dl4j("Nesterovs", learning_rate=0.1, momentum=0.8,
                                                regularization=Regularization(l2=1e-3)),
                      loss="categorical_crossentropy")
        return model

    model, fitted = twin(), twin()
    fitted.fit(iris.features, iris.labels, batch_size=50, epochs=4, shuffle=False, verbose=0)
    batches = iris.batch_by(50)
    ours, theirs = [], []
    for epoch in range(4):
        for ds in batches:
            net.fit(ds)
            ours.append(net.score())
            # DL4J's score: the loss plus 0.5 * l2 * ||W||^2 of the weights before the step, over the batch size
            penalty = 0.5 * 1e-3 * sum(np.square(w.astype(np.float64)).sum() for w in model.get_weights()[::2])
            theirs.append(float(model.train_on_batch(ds.features, ds.labels)) + penalty / len(ds.features))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert ours[-1] < 0.6 * ours[0]
    np.testing.assert_allclose(net.params(), np.concatenate([w.ravel() for w in fitted.get_weights()]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.output(iris.features), model.predict(iris.features), rtol=1e-5, atol=1e-6)


def test_iterations_and_fit_forms(iris):
    a = MultiLayerNetwork(mlp_conf(updater=Updater.SGD, iterations=3)).init()
    b = MultiLayerNetwork(mlp_conf(updater=Updater.SGD)).init()
    a.fit(iris)  # one DataSet, three iterations on it
    for _ in range(3):
        b.fit(iris.features, iris.labels)  # arrays: one mini-batch
    assert a.iteration_count == b.iteration_count == 3
    np.testing.assert_allclose(a.params(), b.params(), rtol=1e-6, atol=1e-7)
    c = MultiLayerNetwork(mlp_conf(updater=Updater.SGD)).init()
    c.fit(iter(iris.batch_by(50)))  # an iterator of DataSets: one epoch
    assert c.iteration_count == 3 and c.epoch_count == 1
    ev = c.evaluate(iris)
    # chance is 1/3; this one epoch of 3 steps at rate 1.0 reaches 0.82-0.89 over seeds 0-9
    fast = MultiLayerNetwork(mlp_conf(updater=Updater.SGD, learning_rate=1.0)).init()
    fast.fit(iter(iris.batch_by(50)))
    assert ev.n_samples == 150 and fast.evaluate(iris).accuracy() > 0.7
    assert c.predict(iris.features).shape == (150,)
    assert np.isfinite(c.score(iris))
    from graphc.data import IrisDataSetIterator

    d = MultiLayerNetwork(mlp_conf(updater=Updater.SGD)).init()
    it = IrisDataSetIterator(batch_size=50)  # graphc.data's DataSetIterator: reset and read each epoch
    d.fit(it, num_epochs=2)
    assert d.iteration_count == 6 and d.epoch_count == 2
    assert d.evaluate(it).n_samples == 150


def test_params_set_params_round_trip(iris):
    a = MultiLayerNetwork(mlp_conf(seed=1)).init()
    b = MultiLayerNetwork(mlp_conf(seed=2)).init()
    a.fit(iris)
    flat = a.params()
    assert flat.dtype == np.float32 and flat.shape == (a.num_params(),) == (4 * 8 + 8 + 8 * 3 + 3,)
    assert not np.allclose(a.output(iris.features), b.output(iris.features))
    b.set_params(flat)
    np.testing.assert_array_equal(b.params(), flat)
    np.testing.assert_array_equal(a.output(iris.features), b.output(iris.features))
    table = a.param_table()
    np.testing.assert_array_equal(table["0_kernel"].ravel(), flat[:32])
    with pytest.raises(GraphcError, match="67 parameters"):
        b.set_params(flat[:-1])
    assert a.get_layer(1).is_output and "Total parameters: 67" in a.summary()


def test_serializer_resumes_bit_identically_with_updater_state_and_dropout(tmp_path, iris):
    from graphc.dl4j import ModelSerializer

    batches = iris.batch_by(30)
    conf = mlp_conf(updater=Updater.RMSPROP, dropout=0.7)
    a = MultiLayerNetwork(conf).init()
    for ds in batches[:3]:
        a.fit(ds)
    path = tmp_path / "net.zip"
    ModelSerializer.write_model(a, path, save_updater=True)
    for ds in batches[3:]:
        a.fit(ds)
    b = ModelSerializer.restore_multi_layer_network(path)
    assert b.conf == conf and b.iteration_count == 3
    for ds in batches[3:]:
        b.fit(ds)
    np.testing.assert_array_equal(a.params(), b.params())
    # without the updater state the same weights go on differently (RmsProp starts over)
    ModelSerializer.write_model(b, tmp_path / "plain.zip", save_updater=False)
    c = ModelSerializer.restore_multi_layer_network(tmp_path / "plain.zip")
    np.testing.assert_array_equal(c.params(), b.params())
    fresh = MultiLayerNetwork(conf).init(b.params())  # these weights with a new updater (and dropout stream)
    for net in (a, b, c, fresh):
        for ds in batches[:2]:
            net.fit(ds)
    np.testing.assert_array_equal(a.params(), b.params())  # both kept RmsProp's state
    np.testing.assert_array_equal(c.params(), fresh.params())  # c started over...
    assert np.abs(c.params() - b.params()).max() > 0.1  # ...and went elsewhere (1.2 here)
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(GraphcError, match="bad.zip"):
        ModelSerializer.restore_multi_layer_network(tmp_path / "bad.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip", "net.zip", "plain.zip"]  # no temp files left


# ---- listeners --------------------------------------------------------------------------------------
def test_listeners_record_what_they_claim(tmp_path, iris):
    from graphc.dl4j import (CheckpointListener, CollectScoresIterationListener, EvaluativeListener, ModelSerializer,
                             PerformanceListener, ScoreIterationListener)

    batches = iris.batch_by(25)  # 6 mini-batches an epoch
    net = MultiLayerNetwork(mlp_conf()).init()
    printed = []
    score = ScoreIterationListener(2, print_fn=printed.append)
    collect = CollectScoresIterationListener(1)
    perf = PerformanceListener(3, total_iterations=12, print_fn=None, report_score=True)
    evals = EvaluativeListener(iris, 1, invocation="epoch", print_fn=None)
    ckpt = CheckpointListener(tmp_path / "ckpt", save_every_n_iterations=4, keep_last=2)
    net.set_listeners(score, collect, perf, evals, ckpt)
    net.fit(batches, num_epochs=2)  # an iterable of DataSets: two epochs
    twin, seen = MultiLayerNetwork(mlp_conf()).init(), []  # the same seed, one mini-batch at a time
    for ds in batches * 2:
        twin.fit(ds)
        seen.append(twin.score())
    assert net.epoch_count == 2 and twin.epoch_count == 0
    assert [i for i, _ in collect.scores] == list(range(12))
    assert [s for _, s in collect.scores] == seen
    assert printed == score.lines == [f"Score at iteration {i} is {seen[i]}" for i in range(0, 12, 2)]
    # the first iteration starts the clock; then one record every 3 iterations
    assert [r["iteration"] for r in perf.records] == [3, 6, 9]
    for r in perf.records:
        assert r["samples_per_sec"] > 0 and r["batches_per_sec"] > 0
        assert r["samples_per_sec"] == pytest.approx(25 * r["batches_per_sec"])
        assert r["eta_sec"] == pytest.approx((12 - r["iteration"] - 1) / r["batches_per_sec"])
        assert r["score"] == seen[r["iteration"]]
    assert [at for at, _ in evals.evaluations] == [1, 2]
    assert evals.evaluations[-1][1].accuracy() == net.evaluate(iris).accuracy()
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == ["checkpoint_1_MultiLayerNetwork.zip", "checkpoint_2_MultiLayerNetwork.zip"]
    last = ModelSerializer.restore_multi_layer_network(ckpt.last_checkpoint())
    assert last.iteration_count == 12
    np.testing.assert_array_equal(last.params(), net.params())
    twin.set_listeners(guess := PerformanceListener(2, print_fn=None))  # no total: the fit's own length
    twin.fit(batches, num_epochs=2)
    assert [r["iteration"] for r in guess.records] == [14, 16, 18, 20, 22]
    assert [round(r["eta_sec"] * r["batches_per_sec"]) for r in guess.records] == [9, 7, 5, 3, 1]
    twin_copy = twin.clone()
    np.testing.assert_array_equal(twin_copy.params(), twin.params())
    csv = tmp_path / "scores.csv"
    collect.export_scores(csv)
    assert csv.read_text().splitlines()[:2] == ["Iteration,Score", f"0,{seen[0]!r}"]
    png = tmp_path / "scores.png"
    collect.plot(png)
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"


def test_plot_raster_draws_each_series(tmp_path):
    import struct
    import zlib

    from graphc.plot import raster_plot

    path = tmp_path / "p.png"
    raster_plot(str(path), {"a": [3.0, 2.0, 1.0], "b": [-1.0, 0.5]}, w=120, h=80)
    data = path.read_bytes()
    w, h = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    n = struct.unpack(">I", data[idat - 4:idat])[0]
    rows = np.frombuffer(zlib.decompress(data[idat + 4:idat + 4 + n]), np.uint8).reshape(h, 1 + 3 * w)
    img = rows[:, 1:].reshape(h, w, 3)
    assert (w, h) == (120, 80)
    for color in [(31, 119, 180), (255, 127, 14)]:
        assert (img == color).all(-1).sum() > 50  # a polyline of each colour


# ---- the LeNet example ------------------------------------------------------------------------------
def test_lenet_example_shortened(tmp_path):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "examples" / "dl4j" / "lenet.py"
    spec = importlib.util.spec_from_file_location("lenet_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result = mod.main(["--epochs", "1", "--limit", "320", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "lenet_result.json").read_text())
    assert saved["train_samples"] == 320 and saved["test_samples"] == 359 and saved["epochs"] == 1
    assert saved["accuracy"] == result["accuracy"] > 0.3  # one epoch on 320 digits is far above chance
    assert (tmp_path / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the layers against PyTorch, numpy and the gradient check ------------------------------------------
def test_cnn_layers_compute_what_torch_computes():
    import torch
    import torch.nn.functional as F

    from graphc.dl4j import BatchNormalization, LocalResponseNormalization

    conf = (NeuralNetConfiguration.Builder().seed(11).list()
            .layer(0, ConvolutionLayer(kernel_size=(3, 3), n_out=4, padding=(1, 1), activation="relu"))
            .layer(1, SubsamplingLayer(PoolingType.AVG, (2, 2), stride=(1, 1)))
            .layer(2, LocalResponseNormalization(n=3, alpha=0.5, beta=0.75, k=2.0))
            .layer(3, SubsamplingLayer(PoolingType.PNORM, (2, 2), pnorm=2))
            .layer(4, SubsamplingLayer(PoolingType.SUM, (1, 2), stride=(1, 1)))
            .layer(5, BatchNormalization())
            .layer(6, DenseLayer(n_out=5, activation="tanh"))
            .layer(7, OutputLayer(LossFunction.MSE, n_out=2, activation="identity"))
            .set_input_type(InputType.convolutional(7, 8, 2)).build())
    assert [l.n_in for l in conf.layers] == [2, 4, 4, 4, 4, 4, 4 * 3 * 2, 5]
    net = MultiLayerNetwork(conf).init()
    p = {k: torch.tensor(v, dtype=torch.float64) for k, v in net.param_table().items()}
    x = np.random.default_rng(0).standard_normal((3, 2, 7, 8)).astype(np.float32)
    t = torch.tensor(x, dtype=torch.float64)
    t = F.relu(F.conv2d(t, p["0_kernel"].permute(3, 2, 0, 1), p["0_bias"], padding=1))
    t = F.avg_pool2d(t, 2, stride=1)
    t = F.local_response_norm(t, 3, alpha=0.5 * 3, beta=0.75, k=2.0)  # torch divides alpha by the size
    t = F.lp_pool2d(t, 2, 2, stride=2)
    t = F.avg_pool2d(t, (1, 2), stride=1) * 2
    t = F.batch_norm(t, p["5_moving_mean"], p["5_moving_variance"], p["5_gamma"], p["5_beta"], False, eps=1e-5)
    t = torch.tanh(t.reshape(3, -1) @ p["6_kernel"] + p["6_bias"])
    t = t @ p["7_kernel"] + p["7_bias"]
    np.testing.assert_allclose(net.output(x), t.numpy(), rtol=1e-4, atol=1e-5)
    # trains: the MSE falls on a fixed target
    y = np.random.default_rng(1).standard_normal((3, 2)).astype(np.float32)
    first = None
    for _ in range(20):
        net.fit(x, y)
        first = net.score() if first is None else first
    assert net.score() < first


@pytest.mark.parametrize("make", ["lrn", "pnorm"])
def test_lrn_and_pnorm_gradients_check(make):
    from graphc import nn
    from graphc.dl4j.layers.convolution import PowerPooling2D
    from graphc.dl4j.layers.normalization import LRN
    from graphc.gradcheck import check_gradients

    layer = LRN(k=1.5, n=3, alpha=0.3, beta=0.75) if make == "lrn" else PowerPooling2D((2, 2), (1, 1), pnorm=3)
    inp = nn.Input((4, 3, 3), name="x")
    g = nn.Model(inp, layer(inp)).graph.copy()
    rng = np.random.default_rng(2)
    y = g.outputs[0][1]
    w = g.add_constant(rng.standard_normal(g.type_of(y).shape[1:]).astype(np.float32), name="w")
    loss = (g.add_node("ReduceSum", [(g.add_node("Mul", [y, w]), 0)], {"keepdims": 0}, name="loss"), 0)
    x = rng.standard_normal((2, 4, 3, 3)) + (0.0 if make == "lrn" else 2.0)  # p-norm: away from |x| = 0
    result = check_gradients(g, loss, feeds={"x": x}, wrt=["x"])
    assert result.passed, result.report()


def test_embedding_is_a_dense_layer_on_one_hot_input_and_dropout_layer_is_identity_at_inference():
    from graphc.dl4j import DropoutLayer, EmbeddingLayer

    conf = (NeuralNetConfiguration.Builder().seed(4).list()
            .layer(0, EmbeddingLayer(n_in=6, n_out=3, activation="identity", has_bias=True, bias_init=0.25))
            .layer(1, DropoutLayer(0.5))
            .layer(2, OutputLayer(LossFunction.MCXENT, n_out=2, activation="softmax")).build())
    net = MultiLayerNetwork(conf).init()
    table = net.param_table()
    idx = np.array([[0], [5], [2], [2]], np.float32)
    h = table["0_embeddings"][idx[:, 0].astype(int)] + table["0_bias"]
    logits = h @ table["2_kernel"] + table["2_bias"]
    want = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(net.output(idx), want, rtol=1e-5, atol=1e-6)
    assert conf.layers[1].n_in == conf.layers[1].n_out == 3
    train = net.output(np.repeat(idx, 50, 0), train=True)
    assert not np.allclose(train, np.repeat(want, 50, 0), atol=1e-3)  # dropout is on in training


# ---- the DL4J optimizer settings ---------------------------------------------------------------------
def _steps(conf, ds, n):
    net = MultiLayerNetwork(conf).init()
    out = [net.params()]
    for _ in range(n):
        net.fit(ds)
        out.append(net.params())
    return net, [b - a for a, b in zip(out, out[1:])]


def test_learning_rate_schedule_momentum_after_and_gradient_clipping(iris):
    from graphc.dl4j import GradientNormalization, LearningRatePolicy

    # a schedule to 0 after two iterations: the weights stop moving
    _, moves = _steps(mlp_conf(updater=Updater.SGD, learning_rate_policy=LearningRatePolicy.SCHEDULE,
                               learning_rate_schedule={0: 0.1, 2: 0.0}), iris, 4)
    assert [bool(np.abs(m).max() > 0) for m in moves] == [True, True, False, False]
    # STEP policy: lr * 0.5 ** floor(iteration / 1); plain SGD with no L2 moves by lr * gradient
    net, moves = _steps(mlp_conf(updater=Updater.SGD, learning_rate_policy=LearningRatePolicy.STEP,
                                 lr_policy_decay_rate=0.5, lr_policy_steps=1, regularization=False), iris, 2)
    assert net.model._training.optimizer.learning_rate.get_config()["decay_rate"] == 0.5
    # element-wise clipping at 1e-3: no SGD step moves a parameter by more than lr * 1e-3
    _, moves = _steps(mlp_conf(updater=Updater.SGD, regularization=False,
                               gradient_normalization=GradientNormalization.CLIP_ELEMENT_WISE_ABSOLUTE_VALUE,
                               gradient_normalization_threshold=1e-3), iris, 2)
    assert max(np.abs(m).max() for m in moves) <= 0.1 * 1e-3 + 1e-7  # + float32 rounding of w + step
    # momentum_after for Nesterovs: a schedule of the momentum
    net = MultiLayerNetwork(mlp_conf(momentum=0.5, momentum_after={3: 0.9})).init()
    assert net.model._training.optimizer.momentum.get_config()["values"] == {0: 0.5, 3: 0.9}
    with pytest.raises(ConfigError, match="Nesterovs"):
        MultiLayerNetwork(mlp_conf(updater=Updater.ADAM, momentum_after={3: 0.9})).init()


def test_l2_only_under_regularization_true(iris):
    w0 = MultiLayerNetwork(mlp_conf(updater=Updater.SGD)).init().param_table()["0_kernel"]
    _, moves_on = _steps(mlp_conf(updater=Updater.SGD), iris, 1)
    _, moves_off = _steps(mlp_conf(updater=Updater.SGD, regularization=False), iris, 1)
    diff = (moves_on[0] - moves_off[0])[:32].reshape(4, 8)  # layer 0's kernel: DL4J's -lr * l2 * w
    np.testing.assert_allclose(diff, -0.1 * 1e-3 * w0, rtol=0, atol=2e-7)
    np.testing.assert_array_equal(moves_on[0][32:40], moves_off[0][32:40])  # biases: l2_bias 0


def test_bad_data_is_refused_before_training(iris):
    net = MultiLayerNetwork(mlp_conf()).init()
    before = net.params()
    with pytest.raises(GraphcError, match=r"features of shape \[150, 5\]"):
        net.fit(np.zeros((150, 5), np.float32), iris.labels)
    with pytest.raises(GraphcError, match="no labels"):
        net.fit(DataSet(iris.features))
    with pytest.raises(GraphcError, match="not initialized"):
        MultiLayerNetwork(mlp_conf()).fit(iris)
    np.testing.assert_array_equal(net.params(), before)


def test_lenet_example_reads_mnist_idx_files(tmp_path):
    import importlib.util
    import pathlib

    from graphc.data import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 96), ("t10k", 40)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # a bright bar whose row tells the class
            images[i, 2 + 2 * c:4 + 2 * c, 4:24] = 255
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)
    path = pathlib.Path(__file__).parents[2] / "examples" / "dl4j" / "lenet.py"
    spec = importlib.util.spec_from_file_location("lenet_example_idx", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result = mod.main(["--idx", str(tmp_path), "--epochs", "2", "--out", str(tmp_path / "out")])
    assert result["data"] == "mnist-idx" and result["train_samples"] == 96 and result["test_samples"] == 40
    assert result["accuracy"] > 0.8  # chance is 0.1; the bars are learnt (1.0 for seeds 0-4 and 123)


def test_weight_init_variances_are_dl4js():
    # XAVIER: N(0, 2 / (fanIn + fanOut)); a convolution's fanOut is divided by its stride area (DL4J's
    # ConvolutionParamInitializer); RELU: N(0, 2 / fanIn); UNIFORM: U(+-1/sqrt(fanIn))
    conf = (NeuralNetConfiguration.Builder().seed(0).list()
            .layer(0, ConvolutionLayer(kernel_size=(5, 5), stride=(2, 2), n_out=64, weight_init="xavier"))
            .layer(1, DenseLayer(n_out=300, weight_init=WeightInit.RELU))
            .layer(2, OutputLayer(LossFunction.MSE, n_out=200, weight_init=WeightInit.UNIFORM, activation="identity"))
            .set_input_type(InputType.convolutional(24, 24, 16)).build())
    t = MultiLayerNetwork(conf).init().param_table()
    fan_in, fan_out = 16 * 25, 64 * 25 / 4
    assert t["0_kernel"].std() == pytest.approx(np.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    n1 = 64 * 10 * 10
    assert t["1_kernel"].std() == pytest.approx(np.sqrt(2 / n1), rel=0.02)
    assert np.abs(t["2_kernel"]).max() <= 1 / np.sqrt(300) and t["2_kernel"].std() == pytest.approx(
        1 / np.sqrt(300) / np.sqrt(3), rel=0.03)


def test_feed_forward_gives_every_layers_activation(iris):
    net = MultiLayerNetwork(mlp_conf()).init()
    net.fit(iris)
    acts = net.feed_forward(iris.features)
    t = net.param_table()
    assert [a.shape for a in acts] == [(150, 4), (150, 8), (150, 3)]
    np.testing.assert_allclose(acts[1], np.tanh(iris.features @ t["0_kernel"] + t["0_bias"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(acts[2], net.output(iris.features))
    net.fit(iris)  # the weights move: the activations follow
    np.testing.assert_allclose(net.feed_forward(iris.features)[2], net.output(iris.features), rtol=1e-6, atol=1e-7)


def test_per_layer_learning_rates_scale_that_layers_steps(iris):
    import pickle

    def conf(lr0=None, bias_lr0=None, updater=Updater.ADAM, base=0.1):
        b = NeuralNetConfiguration.Builder().seed(7).learning_rate(base).updater(updater)
        return (b.list().layer(0, DenseLayer(n_in=4, n_out=8, activation="tanh", learning_rate=lr0,
                                             bias_learning_rate=bias_lr0))
                .layer(1, OutputLayer(LossFunction.MCXENT, n_out=3, activation="softmax")).build())

    def first_step(c):
        net = MultiLayerNetwork(c).init()
        before = net.params()
        net.fit(iris)
        return net, net.params() - before

    _, plain = first_step(conf())
    net, scaled = first_step(conf(lr0=0.025, bias_lr0=0.0))
    # Adam's first step is linear in the rate: layer 0's kernel moves a quarter, its bias not at all
    np.testing.assert_allclose(scaled[:32], plain[:32] * 0.25, rtol=1e-4, atol=1e-8)
    assert not scaled[32:40].any() and plain[32:40].any()
    np.testing.assert_allclose(scaled[40:], plain[40:], rtol=1e-4, atol=1e-8)
    assert pickle.loads(pickle.dumps(net.model._training.optimizer)).rate_factors == \
        net.model._training.optimizer.rate_factors
    with pytest.raises(ConfigError, match="ADADELTA"):
        MultiLayerNetwork(conf(lr0=0.5, updater=Updater.ADADELTA)).init()


# ---- review fixes: what fit would skip or replace silently is refused, one-shot iterators -------------
def _pretrain_conf(backprop):
    from graphc.dl4j import AutoEncoder

    return (NeuralNetConfiguration.Builder().seed(3).learning_rate(0.1).updater(Updater.SGD).list()
            .layer(0, AutoEncoder(n_in=4, n_out=3, loss_function=LossFunction.MSE, corruption_level=0.0))
            .layer(1, OutputLayer(LossFunction.MCXENT, n_out=3, activation="softmax"))
            .pretrain(True).backprop(backprop).build())


@pytest.mark.parametrize("backprop", [True, False])
def test_pretraining_on_a_one_shot_iterator_leaves_the_batches_to_training(iris, backprop):
    batches = iris.batch_by(50)
    listed = MultiLayerNetwork(_pretrain_conf(backprop)).init()
    listed.fit(batches)  # a list: pretraining and training each read all of it
    for data in (iter(batches), (ds for ds in batches)):
        once = MultiLayerNetwork(_pretrain_conf(backprop)).init()
        p0 = once.params()
        once.fit(data)
        assert once.iteration_count == listed.iteration_count == 3 + 3
        np.testing.assert_array_equal(once.params(), listed.params())
        assert not np.allclose(once.params()[-12:], p0[-12:])  # the output layer trained
    twice = MultiLayerNetwork(mlp_conf(updater=Updater.SGD)).init()
    twice.fit(iter(batches), num_epochs=2)  # every epoch reads the batches
    assert twice.iteration_count == 6 and twice.epoch_count == 2


def test_training_settings_fit_would_skip_are_refused_at_build():
    from graphc.dl4j import GravesLSTM, OptimizationAlgorithm, RnnOutputLayer

    def build(algo="STOCHASTIC_GRADIENT_DESCENT", tbptt=True, out=None, dropout=None, backprop=True,
              recurrent=True):
        first = GravesLSTM(n_out=4, activation="tanh") if recurrent else DenseLayer(n_out=4, dropout=dropout)
        b = (NeuralNetConfiguration.Builder().optimization_algo(algo).list().layer(0, first)
             .layer(1, out or RnnOutputLayer(LossFunction.MCXENT, n_out=2, activation="softmax"))
             .set_input_type(InputType.recurrent(3) if recurrent else InputType.feed_forward(3)))
        if tbptt:
            b = b.backprop_type(BackpropType.TRUNCATED_BPTT).tbptt_forward_length(4).tbptt_backward_length(4)
        return b.backprop(backprop).build()

    for algo in ("LBFGS", "CONJUGATE_GRADIENT", "LINE_GRADIENT_DESCENT"):
        _err(lambda: build(algo), f"optimization_algo({algo})", "TRUNCATED_BPTT", "STOCHASTIC_GRADIENT_DESCENT")
    _err(lambda: build(OptimizationAlgorithm.LBFGS, tbptt=False), "optimization_algo(LBFGS)", "time-series output")
    _err(lambda: build(out=OutputLayer(LossFunction.MCXENT, n_out=2, activation="softmax", name="flat")),
         "layer 1 'flat' (OutputLayer)", "TRUNCATED_BPTT", "time-series output", "RnnOutputLayer")
    _err(lambda: build(backprop=False), "backprop(False) with pretrain(False)", ".backprop(True)", ".pretrain(True)")
    out = OutputLayer(LossFunction.MCXENT, n_out=2, activation="softmax")
    _err(lambda: build("LBFGS", tbptt=False, recurrent=False, out=out, dropout=0.5),
         "layer 0 (DenseLayer)", "dropout 0.5", "optimization_algo(LBFGS)", "STOCHASTIC_GRADIENT_DESCENT")
    assert build().backprop_type is BackpropType.TRUNCATED_BPTT
    assert build("LBFGS", tbptt=False, recurrent=False, out=out).layers[0].dropout == 0.0  # no dropout: fine
    assert build(tbptt=False, recurrent=False, out=out, dropout=0.5).layers[0].dropout == 0.5  # SGD: fine


def test_listener_settings_are_refused_as_config_errors(tmp_path, iris):
    from graphc.dl4j import CheckpointListener, EvaluativeListener

    _err(lambda: EvaluativeListener(iris, 1, invocation="batch"), "EvaluativeListener", "'batch'",
         "invocation='iteration'", "'epoch'")
    _err(lambda: CheckpointListener(tmp_path / "never"), "CheckpointListener", "never save",
         "save_every_n_iterations", "save_every_n_epochs")
    assert not (tmp_path / "never").exists()  # refused before the folder is made


def test_score_adds_dl4js_l1_l2_penalty_over_the_batch_size(iris):
    def conf(regularization=True, mini_batch=True):
        return (NeuralNetConfiguration.Builder().seed(9).learning_rate(0.1).updater(Updater.SGD)
                .regularization(regularization).l1(1e-3).l2(2e-2).mini_batch(mini_batch).list()
                .layer(0, DenseLayer(n_in=4, n_out=8, activation="tanh", l2_bias=0.5))
                .layer(1, OutputLayer(LossFunction.MCXENT, n_out=3, activation="softmax", l1=0.3)).build())

    def numpy_score(t, ds, regularization=True, mini_batch=True):
        x, y = ds.features.astype(np.float64), ds.labels
        h = np.tanh(x @ t["0_kernel"] + t["0_bias"])
        z = h @ t["1_kernel"] + t["1_bias"]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        loss = -(y * np.log(p)).sum()
        # DL4J's BaseLayer.calcL1/calcL2: l1 * ||w||_1 + 0.5 * l2 * ||w||_2^2 per parameter, then
        # BaseOutputLayer.computeScore: (loss sum + L1 + L2) / mini-batch size
        penalty = (1e-3 * np.abs(t["0_kernel"]).sum() + 0.5 * 2e-2 * np.square(t["0_kernel"]).sum()
                   + 0.5 * 0.5 * np.square(t["0_bias"]).sum()
                   + 0.3 * np.abs(t["1_kernel"]).sum() + 0.5 * 2e-2 * np.square(t["1_kernel"]).sum())
        if not regularization:
            penalty = 0.0
        return (loss + penalty) / len(x) if mini_batch else loss + penalty

    ds = iris.batch_by(50)[0]
    for reg, mb in ((True, True), (True, False), (False, True)):
        net = MultiLayerNetwork(conf(reg, mb)).init()
        before = {k: v.astype(np.float64) for k, v in net.param_table().items()}
        want = numpy_score(before, ds, reg, mb)
        assert net.score(ds) == pytest.approx(want, rel=1e-5)
        net.fit(ds)  # the iteration's score: the weights before its update
        assert net.score() == pytest.approx(want, rel=1e-5)
        after = {k: v.astype(np.float64) for k, v in net.param_table().items()}
        assert net.score(ds) == pytest.approx(numpy_score(after, ds, reg, mb), rel=1e-5)
    assert net.regularization_score() == 0.0  # regularization(False): l1/l2 do not count
    net = MultiLayerNetwork(conf()).init()
    t = {k: v.astype(np.float64) for k, v in net.param_table().items()}
    zero = {k: 0 * v for k, v in t.items()}  # the loss of zero weights is log 3 a sample, their penalty 0
    assert net.regularization_score() == pytest.approx(numpy_score(t, ds) * 50 - numpy_score(t, ds, False) * 50,
                                                       rel=1e-5)
    assert numpy_score(zero, ds) == pytest.approx(np.log(3))
