"""graphc's AUC metric against real Keras 3's `keras.metrics.AUC` on the same data: ROC and PR curves,
each summation method, counts added over several batches, predictions on the thresholds and at 0 and 1;
`metrics=["AUC"]`/`"auc"` in compile reports Keras's value over an evaluation."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from graphc import nn  # noqa: E402
from graphc.training.metrics import AUC, AUCTracker, MetricError, resolve  # noqa: E402


def _batches(seed=0, n=3, size=40):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y = rng.integers(0, 2, (size, 2)).astype(np.float32)
        # informative but noisy scores, some exactly on a threshold k/199, some at 0 and 1
        p = np.clip(0.35 * y + rng.uniform(0, 0.65, y.shape), 0, 1).astype(np.float32)
        p[:4, 0] = np.array([0, 1, 100 / 199, 37 / 199], np.float32)
        out.append((y, p))
    return out


@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_matches_keras(curve, summation):
    ours, theirs = AUC(curve=curve, summation_method=summation), keras.metrics.AUC(curve=curve,
                                                                                   summation_method=summation)
    tracker = AUCTracker(ours)
    for y, p in _batches():
        tracker.update(ours(y, p))
        theirs.update_state(y, p)
    want = float(theirs.result())
    assert 0.5 < want < 1.0
    assert tracker.result() == pytest.approx(want, rel=1e-6, abs=1e-7)


def test_thresholds_and_logits():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 64).astype(np.float32)
    logits = (2 * y - 1 + rng.normal(size=64)).astype(np.float32)
    theirs = keras.metrics.AUC(num_thresholds=13, from_logits=True)
    theirs.update_state(y, logits)
    ours = AUC(num_thresholds=13, from_logits=True)
    assert ours.area(ours(y, logits)) == pytest.approx(float(theirs.result()), rel=1e-6)


def test_bad_configuration_is_refused():
    for kwargs in ({"num_thresholds": 1}, {"curve": "ROCK"}, {"summation_method": "midpoint"}):
        with pytest.raises(MetricError, match="AUC"):
            AUC(**kwargs)


def test_compile_names_and_evaluate():
    assert resolve("AUC", None)[0] == resolve("auc", None)[0] == "auc"
    rng = np.random.default_rng(2)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = (x[:, :1] + 0.5 * rng.normal(size=(96, 1)) > 0).astype(np.float32)
    model = nn.Sequential([nn.Input((5,)), nn.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["AUC", "accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert 0.0 <= hist.history["auc"][0] <= 1.0
    logs = model.evaluate(x, y, batch_size=32, return_dict=True)
    theirs = keras.metrics.AUC()
    p = model.predict(x, batch_size=32)
    for i in range(0, 96, 32):  # counts summed over the evaluation's batches, as Keras does
        theirs.update_state(y[i:i + 32], p[i:i + 32])
    assert logs["auc"] == pytest.approx(float(theirs.result()), rel=1e-6)


def test_keras_config_and_saved_compile_config(tmp_path):
    """A .keras file compiled with AUC metrics trains in graphc with them (compile_config honoured)."""
    import graphc

    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    k.compile(optimizer="adam", loss="binary_crossentropy", metrics=["AUC", keras.metrics.AUC(curve="PR", name="pr")])
    k.save(tmp_path / "m.keras")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = graphc.load(tmp_path / "m.keras")
    before = model.predict(x)  # one batch: the step's metrics see the weights before its update
    logs = model.fit(x, y, batch_size=64, epochs=1, verbose=0).history
    assert set(logs) == {"loss", "auc", "pr"}
    for name, curve in (("auc", "ROC"), ("pr", "PR")):
        want = keras.metrics.AUC(curve=curve)
        want.update_state(y, before)
        assert logs[name][0] == pytest.approx(float(want.result()), rel=1e-6)
    with pytest.raises(MetricError, match="multi_label"):
        AUC.from_config(keras.metrics.AUC(multi_label=True).get_config())


def test_sparse_labels_for_a_softmax_output_are_refused_before_any_step():
    from graphc import nn
    from graphc.training.metrics import MetricError

    m = nn.Sequential([nn.Input((4,)), nn.Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["AUC"])
    before = [w.copy() for w in m.get_weights()]
    x, y = np.ones((8, 4), np.float32), np.arange(8) % 3
    for run in (lambda: m.fit(x, y, epochs=1, verbose=0), lambda: m.train_on_batch(x, y)):
        with pytest.raises(MetricError, match="a label per prediction"):
            run()
        assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
