"""Recurrent layers over a time axis of unknown length run as one Scan, for any sequence length."""
from pathlib import Path

import numpy as np

import graphc

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def test_one_compiled_model_serves_every_length():
    model = graphc.load(FIXTURES / "varlen_lstm_seq.keras")
    assert model.graph.op_counts().get("Scan") == 1
    x = np.load(FIXTURES / "varlen_lstm_seq.npz")["input_0"]  # 7 steps
    exe = model.executable()
    full = exe(x)
    for steps in (1, 3, 7):
        # a forward LSTM is causal: the first steps of a longer sequence give the same outputs
        np.testing.assert_allclose(exe(np.ascontiguousarray(x[:, :steps])), full[:, :steps], rtol=1e-5, atol=1e-6)
    longer = np.concatenate([x, x], axis=1)
    assert exe(longer).shape == (2, 14, 4)


def test_fixed_length_layers_stay_unrolled():
    model = graphc.load(FIXTURES / "lstm_seq.keras")
    assert "Scan" not in model.graph.op_counts()
