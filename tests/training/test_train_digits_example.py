"""examples/train_digits.py runs end to end (two epochs) and writes its plot and a checkpoint that
resumes into a fresh model."""
import importlib.util
import os

import numpy as np

from graphc.training import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _example():
    spec = importlib.util.spec_from_file_location("train_digits", os.path.join(ROOT, "examples", "train_digits.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_writes_its_files(tmp_path, capsys):
    ex = _example()
    accuracy = ex.main(["--epochs", "2", "--out", str(tmp_path), "--verbose", "0"])
    assert 0.5 < accuracy <= 1.0  # two epochs already learn; the full run reaches >= 0.97
    out = capsys.readouterr().out
    assert "test accuracy" in out and "Confusion Matrix" in out
    png = (tmp_path / "history.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png[-12:]
    model = ex.build_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    info = load_checkpoint(model, tmp_path / "digits.ckpt")
    assert info["epoch"] == 2
    (_, _), (xt, yt), scaler, _ = ex.split()
    assert np.mean(np.argmax(model.predict(xt), -1) == np.argmax(yt, -1)) == accuracy
    np.testing.assert_array_equal(info["normalizers"]["default"].transform(np.ones((1, 8, 8, 1))),
                                  scaler.transform(np.ones((1, 8, 8, 1))))
