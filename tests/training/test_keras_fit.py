"""graphc's `fit` on a `.keras` file against real Keras 3's `fit` on the same model: per-step losses
(Keras's running means, as its logs give them) and final weights agree to 1e-4 (SGD, no shuffle)."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

import graphc  # noqa: E402
from graphc import optimizers  # noqa: E402
from graphc.callbacks import Callback  # noqa: E402


class _Losses(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(float(logs["loss"]))


class _OurLosses(Callback):
    def on_train_begin(self, logs=None):
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(logs["loss"])


def _keras_model(frozen: bool):
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(12, activation="relu", name="d1"),
                          keras.layers.Dense(8, activation="tanh", name="d2"),
                          keras.layers.Dense(3, activation="softmax", name="out")])
    if frozen:
        m.get_layer("d1").trainable = False
    return m


@pytest.mark.parametrize("frozen", [False, True], ids=["all", "fine_tune"])
def test_fit_matches_keras(tmp_path, frozen):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 96)]
    km = _keras_model(frozen)
    path = tmp_path / "m.keras"
    km.save(path)  # the initial weights
    km.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.5), loss="categorical_crossentropy",
               metrics=["accuracy"])
    rec = _Losses()
    kh = km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[rec])

    model = graphc.load(path)
    before = model.get_weights()
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.5),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    ours = _OurLosses()
    h = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[ours])
    np.testing.assert_allclose(ours.seen, rec.seen, rtol=1e-4)
    np.testing.assert_allclose(h.history["loss"], kh.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(h.history["accuracy"], kh.history["accuracy"], atol=1e-6)
    for ours_w, theirs_w in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_allclose(ours_w, theirs_w, rtol=1e-4, atol=1e-5)
    if frozen:  # the frozen layer's kernel and bias did not move
        for a, b in zip(model.get_weights()[:2], before[:2]):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(model.predict(x), km.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_saved_compile_config_is_used_when_compile_is_not_called(tmp_path):
    """A .keras file saved after Keras's `compile` trains with that optimizer and loss, as
    keras.saving.load_model would: the same losses as Keras fitting its own loaded copy."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(48, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 48)]
    km = _keras_model(False)
    km.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="categorical_crossentropy",
               metrics=["accuracy"])
    path = tmp_path / "compiled.keras"
    km.save(path)
    theirs = keras.saving.load_model(path)  # Keras compiles it from the file's compile_config
    rec = _Losses()
    kh = theirs.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[rec])

    model = graphc.load(path)
    ours = _OurLosses()
    h = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[ours])
    opt = model._training.optimizer
    assert type(opt).__name__ == "SGD" and abs(opt.get_config()["momentum"] - 0.9) < 1e-7
    np.testing.assert_allclose(ours.seen, rec.seen, rtol=1e-4)
    np.testing.assert_allclose(h.history["loss"], kh.history["loss"], rtol=1e-4)


def test_uncompiled_file_still_asks_for_compile(tmp_path):
    km = _keras_model(False)
    path = tmp_path / "plain.keras"
    km.save(path)
    model = graphc.load(path)
    with pytest.raises(graphc.GraphcError, match="not compiled for training"):
        model.fit(np.zeros((4, 6), np.float32), np.zeros((4, 3), np.float32), verbose=0)
