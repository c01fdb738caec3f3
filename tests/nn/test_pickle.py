"""Models pickle and unpickle in a fresh process and predict the same, before and after they have
predicted once (executables are not pickled but rebuilt): a built model, an imported Keras model,
an imported ONNX model."""
from __future__ import annotations

import gc
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import graphc
from graphc import nn
from graphc.importers.keras import load as load_keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# unpickles each case in a process that has built nothing, predicts, and checks layer shapes
CHILD = textwrap.dedent("""
    import pickle, sys
    import numpy as np
    cases = pickle.load(open(sys.argv[1], "rb"))
    for name, blob, x, expected, shapes in cases:
        model = pickle.loads(blob)
        got = model.predict(x, opt_level="O0")
        got = got if isinstance(got, list) else [got]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=name)
        if shapes is not None:
            assert [l.output_shape for l in model.layers] == shapes, name
        print("ok", name)
""")


def _built():
    x = nn.Input((6,), name="x")
    h = nn.BatchNormalization()(nn.Dense(5, activation="relu")(x))
    return nn.Model(x, nn.Dense(2)(nn.Dropout(0.5)(h))), np.random.default_rng(0).normal(size=(3, 6))


def _keras():
    npz = np.load(FIXTURES / "keras" / "batchnorm_conv.npz")
    return load_keras(FIXTURES / "keras" / "batchnorm_conv.keras"), npz["input_0"]


def _onnx():
    npz = np.load(FIXTURES / "onnx" / "torch_mlp.npz")
    model = graphc.load(FIXTURES / "onnx" / "torch_mlp.onnx")
    return model, [npz[k] for k in sorted(npz.files) if k.startswith("input")] or npz[npz.files[0]]


def test_fresh_process_round_trip_before_and_after_predict(tmp_path):
    cases = []
    for name, make in (("built", _built), ("keras", _keras), ("onnx", _onnx)):
        model, x = make()
        shapes = [l.output_shape for l in model.layers] if hasattr(model, "layers") else None
        before = pickle.dumps(model)
        expected = model.predict(x, opt_level="O0")
        expected = expected if isinstance(expected, list) else [expected]
        after = pickle.dumps(model)  # it now holds an executable, which is left out
        cases += [(f"{name}-before", before, x, expected, shapes), (f"{name}-after", after, x, expected, shapes)]
    path = tmp_path / "cases.pkl"
    path.write_bytes(pickle.dumps(cases))
    res = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split().count("ok") == 6


def test_unpickled_model_keeps_layer_names_taken():
    model, _ = _built()
    clone = pickle.loads(pickle.dumps(model))
    del model
    gc.collect()  # the originals are gone: only the unpickled layers hold the names now
    fresh = nn.Dense(1)  # never the name of a live unpickled layer
    assert fresh.name not in {l.name for l in clone.layers}
    assert clone.layers[1].output_shape == (None, 5)
