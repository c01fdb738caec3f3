"""The Keras front door on graphc models: compile/fit/evaluate/train_on_batch, resident weights,
frozen layers, callbacks, the gradient and update graphs apart, and bad input."""
import csv

import numpy as np
import pytest

from graphc import nn, optimizers
from graphc.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint, TerminateOnNaN
from graphc.errors import GraphcError
from graphc.training.front import trainer


def _model(seed=0):
    return nn.Sequential([nn.Input((4,)), nn.Dense(8, activation="relu"), nn.Dense(3, activation="softmax")])


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    return x, np.eye(3, dtype=np.float32)[labels], labels


def test_weights_stay_resident_until_read():
    m = _model()
    x, y, _ = _data()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    raw = [w.value.copy() for w in m.weights]
    version = m.weights_version
    for _ in range(3):
        m.train_on_batch(x, y)
    # the model's own arrays did not move: the parameters live in the trainer
    assert m.weights_version == version
    for w, r in zip(m.weights, raw):
        np.testing.assert_array_equal(w.value, r)
    after = m.get_weights()  # reading them writes them back, once
    assert m.weights_version > version
    assert any(not np.array_equal(a, r) for a, r in zip(after, raw))
    np.testing.assert_array_equal(m.weights[0].value, after[0])


def test_fit_history_metrics_and_evaluate(tmp_path):
    m = _model()
    x, y, labels = _data(128)
    m.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss="categorical_crossentropy",
              metrics=["accuracy", "mae"])
    log = tmp_path / "log.csv"
    ckpt = tmp_path / "w.npz"
    h = m.fit(x, y, batch_size=32, epochs=6, validation_split=0.25, verbose=0, shuffle=False,
              callbacks=[CSVLogger(log), ModelCheckpoint(ckpt)])
    assert sorted(h.history) == ["accuracy", "loss", "mae", "val_accuracy", "val_loss", "val_mae"]
    assert len(h.history["loss"]) == 6 and h.history["loss"][-1] < h.history["loss"][0]
    loss, acc, mae = m.evaluate(x[96:], y[96:])
    assert loss == pytest.approx(h.history["val_loss"][-1], rel=1e-5)
    assert acc == pytest.approx(np.mean(np.argmax(m.predict(x[96:]), -1) == labels[96:]))
    rows = list(csv.reader(open(log)))
    assert rows[0][0] == "epoch" and len(rows) == 7
    saved = np.load(ckpt)
    for i, w in enumerate(m.get_weights()):
        np.testing.assert_array_equal(saved[f"arr_{i}"], w)
    assert not list(tmp_path.glob("*.tmp"))


def test_sparse_labels_and_sample_weights():
    m = _model()
    x, _, labels = _data()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    zero = m.evaluate(x, labels, sample_weight=np.zeros(len(x), np.float32))
    assert zero[0] == 0.0
    loss, acc = m.train_on_batch(x, labels)
    assert np.isfinite(loss) and 0 <= acc <= 1


def test_early_stopping_stops():
    m = _model()
    x, y, _ = _data()
    m.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="categorical_crossentropy")
    h = m.fit(x, y, epochs=20, verbose=0, callbacks=[EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)])
    assert len(h.history["loss"]) == 3  # the loss never improves on the first epoch's


def test_progress_bar(capsys):
    m = _model()
    x, y, _ = _data()
    m.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, batch_size=16, epochs=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "4/4 ━━━━━━━━━━━━━━━━━━━━" in out and "accuracy:" in out and "loss:" in out


def test_freezing_rebuilds_the_step():
    m = _model()
    x, y, _ = _data()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    m.train_on_batch(x, y)
    dense, head = m.layers[1], m.layers[2]
    m.sync_weights()  # a layer's own get_weights reads what the model last wrote back
    first, head_first = dense.get_weights(), head.get_weights()
    dense.trainable = False
    for _ in range(3):
        m.train_on_batch(x, y)
    m.sync_weights()
    for a, b in zip(dense.get_weights(), first):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(head.get_weights()[0], head_first[0])


def test_gradient_and_update_graphs_apart_equal_the_fused_step():
    x, y, _ = _data()
    fused, apart = _model(), _model()
    apart.set_weights(fused.get_weights())
    for m in (fused, apart):
        m.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="categorical_crossentropy")
    sw = np.ones(len(x), np.float32)
    for _ in range(3):
        fused_loss = fused.train_on_batch(x, y)
        t = trainer(apart, [y])
        loss, grads = t.gradients([x], [y], [sw])
        t.apply_gradients(grads)
        assert loss == pytest.approx(fused_loss, rel=1e-6)
    for a, b in zip(fused.get_weights(), apart.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_batch_normalization_moving_statistics_update():
    m = nn.Sequential([nn.Input((4,)), nn.Dense(6), nn.BatchNormalization(), nn.Dense(2)])
    x = np.random.default_rng(0).normal(3, 2, size=(32, 4)).astype(np.float32)
    m.compile(optimizer="sgd", loss="mse")
    bn = m.layers[2]
    start = [w.copy() for w in bn.get_weights()]
    m.fit(x, np.zeros((32, 2), np.float32), epochs=2, verbose=0)
    moving_mean = bn.get_weights()[2]
    assert not np.array_equal(moving_mean, start[2])


def _unchanged(m, before):
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_labels_that_do_not_fit_the_loss():
    m = _model()
    x, _, _ = _data()
    before = m.get_weights()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(GraphcError, match="output"):
        m.fit(x, np.zeros((len(x), 5), np.float32), verbose=0)
    _unchanged(m, before)


def test_nan_loss_stops_with_weights_untouched(capsys):
    m = _model()
    x, y, _ = _data()
    x[40] = np.nan
    before = m.get_weights()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(GraphcError, match="nan"):
        m.fit(x, y, batch_size=16, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    _unchanged(m, before)
    assert "Invalid loss" in capsys.readouterr().out


def test_empty_data_and_nothing_to_train():
    m = _model()
    before = m.get_weights()
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(GraphcError, match="empty"):
        m.fit(np.zeros((0, 4), np.float32), np.zeros((0, 3), np.float32), verbose=0)
    for layer in m.layers:
        layer.trainable = False
    x, y, _ = _data()
    with pytest.raises(GraphcError, match="nothing to train"):
        m.fit(x, y, verbose=0)
    _unchanged(m, before)


def test_compile_with_executable_keywords_says_where_to_go():
    m = _model()
    with pytest.raises(GraphcError, match="model.executable"):
        m.compile(target="cpu", opt_level="O2")
    with pytest.raises(GraphcError, match="not compiled for training"):
        m.fit(*_data()[:2], verbose=0)
    assert m.executable(opt_level="O1") is m.executable(opt_level="O1")


def test_dropout_runs_are_reproducible():
    def run(rate):
        m = nn.Sequential([nn.Input((4,)), nn.Dense(16, activation="relu", name="h"), nn.Dropout(rate),
                           nn.Dense(3, activation="softmax", name="o")])
        m.set_weights(weights)
        m.compile(optimizer="sgd", loss="categorical_crossentropy")
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return m.get_weights()

    x, y, _ = _data()
    m0 = nn.Sequential([nn.Input((4,)), nn.Dense(16, activation="relu"), nn.Dense(3, activation="softmax")])
    weights = m0.get_weights()
    a, b, off = run(0.5), run(0.5), run(0.0)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a[0], off[0])  # the masks were active


def test_imported_onnx_model_trains(tmp_path):
    import graphc

    x, y, _ = _data()
    m = _model()
    path = tmp_path / "m.onnx"
    m.export(path, opt_level="O0")
    with pytest.raises(GraphcError, match="variables=True"):
        g = graphc.load(path)
        g.compile(optimizer="adam", loss="categorical_crossentropy")
        g.fit(x, y, verbose=0)
    g = graphc.load(path, variables=True)
    g.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    before = g.predict(x)
    h = g.fit(x, y, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert not np.allclose(g.predict(x), before)  # predict sees the trained weights
    assert g.evaluate(x, y)[0] == pytest.approx(g.evaluate(x, y, batch_size=7)[0], rel=1e-5)


def test_iterator_data_and_two_outputs():
    from graphc.data.iterator import BatchIterator

    x, y, _ = _data()
    i = nn.Input((4,), name="inp")
    hidden = nn.Dense(8, activation="relu")(i)
    f = nn.Model(i, [nn.Dense(3, activation="softmax", name="cls")(hidden), nn.Dense(1, name="reg")(hidden)])
    f.compile(optimizer="sgd", loss={"cls": "categorical_crossentropy", "reg": "mse"},
              loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    labels = {"cls": y, "reg": x[:, :1]}
    h = f.fit(x, labels, epochs=2, verbose=0, validation_data=(x, labels))
    assert sorted(h.history) == ["cls_accuracy", "loss", "reg_mae", "val_cls_accuracy", "val_loss", "val_reg_mae"]
    m = _model()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    h = m.fit(BatchIterator(x, y, batch_size=16), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2


def test_learning_rate_callbacks_and_pickling():
    import pickle

    from graphc.callbacks import LearningRateScheduler, ReduceLROnPlateau

    x, y, _ = _data()
    m = _model()
    m.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    m.learning_rate = 0.0
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)])
    assert m.learning_rate == 0.0 and h.history["loss"][0] == pytest.approx(h.history["loss"][-1])
    m.learning_rate = 0.05
    m.train_on_batch(x, y)
    clone = pickle.loads(pickle.dumps(m))  # the trainer's weights go with it; the session does not
    for a, b in zip(clone.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    clone.train_on_batch(x, y)


def test_schedule_learning_rate():
    x, y, _ = _data()
    m = _model()
    m.compile(optimizer=optimizers.SGD(learning_rate=optimizers.ExponentialDecay(0.1, 1, 0.5)),
              loss="categorical_crossentropy")
    assert np.isfinite(m.train_on_batch(x, y))
    assert isinstance(m.learning_rate, optimizers.ExponentialDecay)
    with pytest.raises(GraphcError, match="schedule"):
        m.learning_rate = 0.1


def test_binary_metrics_match_their_definitions():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    m = nn.Sequential([nn.Input((4,)), nn.Dense(1, activation="sigmoid")])
    m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", "precision", "recall"])
    loss, acc, prec, rec = m.evaluate(x, y, batch_size=16)
    pred = m.predict(x) > 0.5
    truth = y > 0.5
    assert acc == pytest.approx(np.mean(pred == truth))
    assert prec == pytest.approx((pred & truth).sum() / pred.sum())
    assert rec == pytest.approx((pred & truth).sum() / truth.sum())
