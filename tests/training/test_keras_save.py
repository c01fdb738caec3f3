"""A graphc model trained with graphc's fit saves as a `.keras` file that real Keras 3 loads and
predicts identically (Sequential CNN with Conv2D, BatchNormalization, MaxPooling2D, Flatten, Dropout,
Dense; Embedding with a mask into LSTM, GRU and SimpleRNN; Conv1D, AveragePooling2D,
LayerNormalization, Activation, global average pooling; functional models with Add, Concatenate and
an LSTM's states), that graphc's own Keras importer reads back, and that exports to ONNX
running in plain onnxruntime with the same outputs; layers the writer does not know are refused."""
import zipfile

import numpy as np
import pytest

import graphc
from graphc import nn, optimizers
from graphc.lower.keras import KerasExportError

keras = pytest.importorskip("keras")


def _cnn():
    return nn.Sequential([nn.Input((8, 8, 1)), nn.Conv2D(6, 3, padding="same", activation="relu"),
                          nn.BatchNormalization(), nn.MaxPooling2D(2), nn.Conv2D(8, 3, activation="relu"),
                          nn.Flatten(), nn.Dropout(0.25), nn.Dense(10, activation="softmax")], name="cnn")


def _digits(n=256):
    d = graphc.data.load_digits()
    return d.features[:n] / 16.0, graphc.data.one_hot(d.labels[:n], 10)


def _trained(model, x, y):
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    h = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    return model


def test_trained_cnn_loads_in_keras_and_onnxruntime(tmp_path):
    import onnxruntime as ort

    x, y = _digits()
    m = _trained(_cnn(), x, y)
    path = tmp_path / "cnn.keras"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    ours = m.predict(x)
    k = keras.saving.load_model(path)
    assert [type(l).__name__ for l in k.layers] == ["Conv2D", "BatchNormalization", "MaxPooling2D", "Conv2D",
                                                    "Flatten", "Dropout", "Dense"]
    np.testing.assert_allclose(k.predict(x, verbose=0), ours, atol=1e-5)
    # the moving statistics training made travel too
    bn = k.layers[1]
    assert not np.allclose(np.asarray(bn.moving_mean), 0)
    np.testing.assert_allclose(graphc.load(path).predict(x), ours, atol=1e-6)
    onnx_path = tmp_path / "cnn.onnx"
    graphc.export(m, onnx_path)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})[0]
    np.testing.assert_allclose(got, ours, atol=1e-5)


def test_functional_model_round_trip(tmp_path):
    x, y = _digits()
    inp = nn.Input((8, 8, 1), name="img")
    h = nn.Conv2D(4, 3, activation="relu", name="c1")(inp)
    h = nn.Flatten(name="flat")(h)
    h = nn.Dense(16, activation="relu", name="d1")(h)
    out = nn.Dense(10, activation="softmax", name="out")(h)
    m = _trained(nn.Model(inp, out, name="fn"), x, y)
    m.save(tmp_path / "fn.keras")
    k = keras.saving.load_model(tmp_path / "fn.keras")
    assert [l.name for l in k.layers] == ["img", "c1", "flat", "d1", "out"]
    np.testing.assert_allclose(k.predict(x, verbose=0), m.predict(x), atol=1e-5)


def _round_trip(tmp_path, model, x, y, loss="categorical_crossentropy"):
    """Train `model` briefly, save it, load it in Keras 3 and in graphc: the same predictions."""
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss=loss)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    ours = model.predict(x)
    k = keras.saving.load_model(path)
    np.testing.assert_allclose(k.predict(x, verbose=0), ours, atol=1e-5)
    np.testing.assert_allclose(graphc.load(path).predict(x), ours, atol=1e-5)
    return k


def test_recurrent_sequential_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 20, (48, 7)).astype(np.int32)
    tokens[::3, 4:] = 0  # padded: Embedding's mask reaches the recurrent layers
    y = np.eye(3, dtype=np.float32)[tokens[:, 0] % 3]
    m = nn.Sequential([nn.Input((7,), dtype="int32"), nn.Embedding(20, 5, mask_zero=True),
                       nn.LSTM(6, return_sequences=True), nn.GRU(4, reset_after=False, return_sequences=True),
                       nn.SimpleRNN(4, activation="relu"), nn.Dense(3, activation="softmax")], name="rnns")
    k = _round_trip(tmp_path, m, tokens, y)
    assert [type(l).__name__ for l in k.layers] == ["Embedding", "LSTM", "GRU", "SimpleRNN", "Dense"]
    assert k.layers[2].cell.reset_after is False


def test_convolution_and_normalization_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    seq = nn.Sequential([nn.Input((12, 2)), nn.Conv1D(4, 3, strides=2, padding="same", activation="relu"),
                         nn.GlobalAveragePooling1D(), nn.Dense(2, activation="softmax")], name="conv1d")
    x1 = rng.normal(size=(32, 12, 2)).astype(np.float32)
    _round_trip(tmp_path, seq, x1, np.eye(2, dtype=np.float32)[(x1[:, 0, 0] > 0).astype(int)])
    img = nn.Sequential([nn.Input((6, 6, 2)), nn.Conv2D(4, 3, padding="same"), nn.LayerNormalization(epsilon=1e-4),
                         nn.Activation("elu"), nn.AveragePooling2D(2, strides=1), nn.GlobalAveragePooling2D(),
                         nn.Dense(2, activation="softmax")], name="conv2d")
    x2 = rng.normal(size=(32, 6, 6, 2)).astype(np.float32)
    _round_trip(tmp_path, img, x2, np.eye(2, dtype=np.float32)[(x2[:, 0, 0, 0] > 0).astype(int)])


def test_functional_merges_and_states_round_trip(tmp_path):
    """Add and Concatenate take their inputs as one list; an LSTM's returned states feed them."""
    rng = np.random.default_rng(2)
    seq, vec = nn.Input((5, 3), name="seq"), nn.Input((4,), name="vec")
    h, state_h, state_c = nn.LSTM(4, return_sequences=True, return_state=True, name="lstm")(seq)
    g = nn.GRU(4, go_backwards=True, name="gru")(h)
    s = nn.SimpleRNN(4, use_bias=False, name="srnn")(h)
    total = nn.Add(name="add")([g, s, state_h])
    both = nn.Concatenate(name="cat")([total, nn.Dense(4, name="d")(vec), state_c])
    out = nn.Dense(2, activation="softmax", name="out")(nn.Activation("tanh", name="act")(both))
    m = nn.Model([seq, vec], out, name="merges")
    x = [rng.normal(size=(32, 5, 3)).astype(np.float32), rng.normal(size=(32, 4)).astype(np.float32)]
    k = _round_trip(tmp_path, m, x, np.eye(2, dtype=np.float32)[(x[1][:, 0] > 0).astype(int)])
    assert [l.name for l in k.layers] == [l.name for l in m.layers]


def test_unknown_layer_is_refused_by_name(tmp_path):
    m = nn.Sequential([nn.Input((5, 3)), nn.Bidirectional(nn.LSTM(4), name="rnn"), nn.Dense(2)])
    with pytest.raises(KerasExportError, match="'rnn' \\(Bidirectional\\)"):
        m.save(tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(KerasExportError, match=r"\.keras"):
        _cnn().save(tmp_path / "m.h5")
