"""A graphc model trained with graphc's fit saves as a `.keras` file that real Keras 3 loads and
predicts identically (Sequential CNN with Conv2D, BatchNormalization, MaxPooling2D, Flatten, Dropout,
Dense; a functional model), that graphc's own Keras importer reads back, and that exports to ONNX
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


def test_unknown_layer_is_refused_by_name(tmp_path):
    m = nn.Sequential([nn.Input((5, 3)), nn.LSTM(4, name="rnn"), nn.Dense(2)])
    with pytest.raises(KerasExportError, match="'rnn' \\(LSTM\\)"):
        m.save(tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(KerasExportError, match=r"\.keras"):
        _cnn().save(tmp_path / "m.h5")
