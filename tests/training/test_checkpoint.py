"""Checkpoints: resuming a run from a checkpoint into a fresh model object gives parameters
bit-identical to the run never stopped (SGD-momentum and Adam, with Dropout masks continuing), the
file is written atomically, and bad checkpoints are refused."""
import numpy as np
import pytest

from graphc import nn, optimizers
from graphc.callbacks import ModelCheckpoint
from graphc.data import NormalizerStandardize
from graphc.training import TrainingError, load_checkpoint


def _model(optimizer):
    m = nn.Sequential([nn.Input((6,)), nn.Dense(16, activation="relu", kernel_initializer=nn_init(1)),
                       nn.Dropout(0.3), nn.Dense(3, activation="softmax", kernel_initializer=nn_init(2))])
    m.compile(optimizer=optimizer(), loss="categorical_crossentropy")
    return m


def nn_init(seed):
    return {"class_name": "GlorotUniform", "config": {"seed": seed}}


def _data(n=96):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.4)]


def _batches(x, y, steps, bs=20):
    # batch sizes vary (the last one of each pass is partial): the random draws depend on them
    out, i = [], 0
    for _ in range(steps):
        j = min(i + bs, len(x))
        out.append((x[i:j], y[i:j]))
        i = 0 if j == len(x) else j
    return out


OPTIMIZERS = {"sgd_momentum": lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9),
              "adam": lambda: optimizers.Adam(learning_rate=0.01)}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resume_is_bit_identical(tmp_path, name):
    opt = OPTIMIZERS[name]
    x, y = _data()
    batches = _batches(x, y, 12)
    ref = _model(opt)
    first = _model(opt)
    first.set_weights(ref.get_weights())
    for xb, yb in batches:
        ref.train_on_batch(xb, yb)
    for xb, yb in batches[:6]:
        first.train_on_batch(xb, yb)
    norm = NormalizerStandardize().fit(x)
    path = tmp_path / "run.ckpt.npz"
    first.save_checkpoint(path, normalizers=norm)
    del first
    fresh = _model(opt)  # new layer names, fresh initial weights
    info = load_checkpoint(fresh, path)
    assert info["step"] == 6
    np.testing.assert_array_equal(info["normalizers"]["default"].transform(x), norm.transform(x))
    for xb, yb in batches[6:]:
        fresh.train_on_batch(xb, yb)
    for a, b in zip(ref.get_weights(), fresh.get_weights()):
        assert np.array_equal(a, b)


def test_dropout_replay_matters(tmp_path, monkeypatch):
    """Without replaying the random ops the resumed run differs: the test above is not vacuous."""
    opt = OPTIMIZERS["sgd_momentum"]
    x, y = _data()
    batches = _batches(x, y, 8)
    ref, first = _model(opt), _model(opt)
    first.set_weights(ref.get_weights())
    for xb, yb in batches:
        ref.train_on_batch(xb, yb)
    for xb, yb in batches[:4]:
        first.train_on_batch(xb, yb)
    path = tmp_path / "c.npz"
    first.save_checkpoint(path)
    fresh = _model(opt)
    from graphc.runtime.train.trainer import Trainer

    monkeypatch.setattr(Trainer, "replay_random", lambda self, draws: None)  # masks start over
    load_checkpoint(fresh, path)
    for xb, yb in batches[4:]:
        fresh.train_on_batch(xb, yb)
    assert any(not np.array_equal(a, b) for a, b in zip(ref.get_weights(), fresh.get_weights()))


def test_fit_resume_through_model_checkpoint(tmp_path):
    opt = OPTIMIZERS["adam"]
    x, y = _data()
    ref, first = _model(opt), _model(opt)
    first.set_weights(ref.get_weights())
    ref.fit(x, y, batch_size=32, epochs=4, shuffle=False, verbose=0)
    path = tmp_path / "epoch{epoch}.ckpt"
    first.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[ModelCheckpoint(path)])
    assert not list(tmp_path.glob("*.tmp"))
    fresh = _model(opt)
    info = load_checkpoint(fresh, tmp_path / "epoch2.ckpt")
    assert info["epoch"] == 2
    fresh.fit(x, y, batch_size=32, epochs=4, initial_epoch=info["epoch"], shuffle=False, verbose=0)
    for a, b in zip(ref.get_weights(), fresh.get_weights()):
        assert np.array_equal(a, b)


def test_bad_checkpoints(tmp_path):
    opt = OPTIMIZERS["adam"]
    x, y = _data()
    m = _model(opt)
    m.train_on_batch(x, y)
    path = tmp_path / "c.npz"
    m.save_checkpoint(path)
    other = nn.Sequential([nn.Input((6,)), nn.Dense(3)])
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(TrainingError, match="same architecture"):
        load_checkpoint(other, path)
    sgd = _model(lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9))
    with pytest.raises(TrainingError, match="optimizer"):
        load_checkpoint(sgd, path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(TrainingError, match="not a graphc checkpoint"):
        load_checkpoint(m, junk)


def test_fit_resume_with_shuffle(tmp_path):
    """fit(shuffle=True): 4 epochs straight equal 2, a checkpoint, then 2 more in a fresh model: the
    checkpoint carries the shuffle seed and each epoch's order follows from it and the epoch."""
    opt = OPTIMIZERS["sgd_momentum"]
    x, y = _data()
    ref, first, unshuffled = _model(opt), _model(opt), _model(opt)
    for m in (first, unshuffled):
        m.set_weights(ref.get_weights())
    ref.fit(x, y, batch_size=20, epochs=4, shuffle=True, seed=11, verbose=0)
    unshuffled.fit(x, y, batch_size=20, epochs=4, shuffle=False, verbose=0)
    path = tmp_path / "epoch{epoch}.ckpt"
    first.fit(x, y, batch_size=20, epochs=2, shuffle=True, seed=11, verbose=0, callbacks=[ModelCheckpoint(path)])
    fresh, reseeded = _model(opt), _model(opt)
    info = load_checkpoint(fresh, tmp_path / "epoch2.ckpt")
    fresh.fit(x, y, batch_size=20, epochs=4, initial_epoch=info["epoch"], shuffle=True, verbose=0)  # seed from the file
    for a, b in zip(ref.get_weights(), fresh.get_weights()):
        assert np.array_equal(a, b)
    # not vacuous: the shuffle changes the result, and so does resuming with another seed
    assert any(not np.array_equal(a, b) for a, b in zip(ref.get_weights(), unshuffled.get_weights()))
    load_checkpoint(reseeded, tmp_path / "epoch2.ckpt")
    reseeded.fit(x, y, batch_size=20, epochs=4, initial_epoch=2, shuffle=True, seed=12, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(ref.get_weights(), reseeded.get_weights()))
