"""Initializers, regularizers and constraints: Keras's names, configs and semantics. Initializers
make the weights (statistics and exact properties checked), regularizer penalties and constraint
projections emit graphs checked against numpy on ONNX Runtime, configs round-trip through
`get_config`, and an imported real Keras model keeps every one of them as Keras wrote it."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from graphc import nn
from graphc.errors import UnsupportedOpError
from graphc.ir import Graph
from graphc.model import GraphModel
from graphc.nn import constraints, initializers, regularizers
from graphc.nn.base import Emitter
from graphc.types import TensorType

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("name,std", [
    ("glorot_uniform", np.sqrt(2 / (300 + 200))), ("glorot_normal", np.sqrt(2 / (300 + 200))),
    ("he_uniform", np.sqrt(2 / 300)), ("he_normal", np.sqrt(2 / 300)),
    ("lecun_uniform", np.sqrt(1 / 300)), ("lecun_normal", np.sqrt(1 / 300)),
    ("random_normal", 0.05), ("random_uniform", 0.1 / np.sqrt(12)), ("truncated_normal", 0.05 * 0.87962566103423978)])
def test_random_initializers_have_keras_spread(name, std):
    init = initializers.get(name)
    init.seed = 1234  # a fixed draw: the tolerances below hold for it (unseeded, one in a few hundred fails)
    w = init((300, 200))
    assert w.dtype == np.float32 and abs(w.mean()) < 0.01 * max(std, 0.01) * 10
    assert abs(w.std() / std - 1) < 0.03
    if "uniform" in name:
        limit = std * np.sqrt(3)
        assert np.abs(w).max() <= limit + 1e-7 and np.abs(w).max() > 0.99 * limit
    if "normal" in name and name != "random_normal":  # truncated at two standard deviations
        assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_conv_kernel_fans_count_the_receptive_field():
    w = initializers.HeNormal(seed=1)((3, 3, 16, 32))
    assert abs(w.std() / np.sqrt(2 / (9 * 16)) - 1) < 0.05


def test_exact_initializers_and_seeds():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.get("ones")((4,)), np.ones(4))
    np.testing.assert_array_equal(initializers.Constant(0.5)((2, 2)), np.full((2, 2), 0.5))
    np.testing.assert_array_equal(initializers.Identity(gain=2.0)((3, 4)), 2 * np.eye(3, 4))
    for shape in ((6, 4), (4, 6), (3, 2, 8)):
        q = initializers.Orthogonal(seed=0)(shape).reshape(-1, shape[-1])
        gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
        np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)
    a, b = initializers.GlorotUniform(seed=7), initializers.GlorotUniform(seed=7)
    np.testing.assert_array_equal(a((5, 5)), b((5, 5)))  # seeded: the same values every call, as Keras 3
    np.testing.assert_array_equal(a((5, 5)), a((5, 5)))
    assert not np.array_equal(initializers.GlorotUniform()((5, 5)), initializers.GlorotUniform()((5, 5)))
    vs = initializers.VarianceScaling(scale=3.0, mode="fan_out", distribution="uniform", seed=0)((400, 100))
    assert np.abs(vs).max() <= np.sqrt(9 / 100) + 1e-7


def test_layers_build_their_weights_with_the_configured_initializers():
    d = nn.Dense(3, kernel_initializer=initializers.Constant(0.25), bias_initializer="ones")
    nn.Model(x := nn.Input((4,)), d(x))
    np.testing.assert_array_equal(d.kernel.value, np.full((4, 3), 0.25))
    np.testing.assert_array_equal(d.bias.value, np.ones(3))
    lstm = nn.LSTM(4, recurrent_initializer="identity", kernel_initializer="zeros")
    nn.Model(s := nn.Input((2, 3)), lstm(s))
    np.testing.assert_array_equal(lstm.cell.recurrent_kernel.value, np.eye(4, 16))
    np.testing.assert_array_equal(lstm.cell.bias.value, [0] * 4 + [1] * 4 + [0] * 8)  # unit_forget_bias
    dw = nn.DepthwiseConv2D(3, depthwise_initializer="ones")
    nn.Model(i := nn.Input((5, 5, 2)), dw(i))
    np.testing.assert_array_equal(dw.depthwise_kernel.value, np.ones((3, 3, 2, 1)))


def _run(build, w):
    """A one-input graph `build(em, value)` evaluated on `w` through ONNX Runtime."""
    g = Graph("obj")
    em = Emitter(g)
    v = g.add_input("w", TensorType(np.float32, w.shape))
    g.add_output("out", build(em, v))
    return GraphModel(g).predict(w.astype(np.float32), opt_level="O0")


def _norms(w, axis):
    return np.sqrt(np.sum(w ** 2, axis=axis, keepdims=True))


def test_regularizer_penalties_match_numpy():
    w = RNG.normal(size=(6, 4))
    cases = [(regularizers.L1(0.3), 0.3 * np.abs(w).sum()), (regularizers.L2(0.2), 0.2 * (w ** 2).sum()),
             (regularizers.L1L2(0.1, 0.05), 0.1 * np.abs(w).sum() + 0.05 * (w ** 2).sum())]
    for mode, axis, size in (("rows", 1, 6), ("columns", 0, 4)):
        u = w / _norms(w, axis)
        p = u @ u.T if mode == "rows" else u.T @ u
        off = np.abs(p * (1 - np.eye(size))).sum()
        cases.append((regularizers.OrthogonalRegularizer(0.4, mode), 0.4 * 0.5 * off / (size * (size - 1) / 2)))
    for reg, expected in cases:
        np.testing.assert_allclose(_run(reg.penalty, w), expected, rtol=1e-5, err_msg=repr(reg))


def test_constraint_projections_match_numpy():
    w = RNG.normal(size=(5, 3)) * 2
    eps = 1e-7
    n0, n1 = _norms(w, 0), _norms(w, 1)
    cases = [(constraints.MaxNorm(1.5), w * np.clip(n0, 0, 1.5) / (eps + n0)),
             (constraints.MaxNorm(1.0, axis=1), w * np.clip(n1, 0, 1.0) / (eps + n1)),
             (constraints.MinMaxNorm(0.5, 2.0, rate=0.7), w * (0.7 * np.clip(n0, 0.5, 2.0) + 0.3 * n0) / (eps + n0)),
             (constraints.NonNeg(), np.maximum(w, 0)), (constraints.UnitNorm(), w / (eps + n0))]
    for con, expected in cases:
        np.testing.assert_allclose(_run(con.project, w), expected, rtol=1e-5, atol=1e-6, err_msg=repr(con))


def test_get_config_round_trip():
    d = nn.Dense(3, activation="relu", kernel_initializer=initializers.HeNormal(seed=3),
                 kernel_regularizer=regularizers.L1L2(l1=0.01, l2=0.02), bias_constraint="non_neg",
                 activity_regularizer={"class_name": "L2", "config": {"l2": 0.5}}, name="d")
    cfg = d.get_config()
    assert cfg["units"] == 3 and cfg["activation"] == "relu" and cfg["use_bias"] is True and cfg["name"] == "d"
    assert cfg["kernel_initializer"] == {"module": "keras.initializers", "class_name": "HeNormal",
                                         "config": {"seed": 3, "input_axes": None, "output_axes": None},
                                         "registered_name": None}
    assert cfg["kernel_regularizer"]["config"] == {"l1": 0.01, "l2": 0.02}
    assert cfg["bias_constraint"]["class_name"] == "NonNeg"
    assert cfg["activity_regularizer"]["config"] == {"l2": 0.5}
    again = nn.Dense.from_config(cfg)
    assert again.get_config() == cfg
    nn.Model(x := nn.Input((4,)), again(x))
    assert again.kernel.regularizer == regularizers.L1L2(0.01, 0.02) and again.bias.constraint == constraints.NonNeg()
    assert again.kernel.initializer == initializers.HeNormal(seed=3)


def test_unknown_objects():
    with pytest.raises(UnsupportedOpError, match=r"layer 'bad' \(Dense\): kernel_initializer: unknown initializer"):
        nn.Dense(2, kernel_initializer="no_such_init", name="bad")
    custom = {"module": None, "class_name": "MyInit", "config": {"k": 1}, "registered_name": "Custom>MyInit"}
    d = nn.Dense(2, kernel_initializer=custom, kernel_regularizer={"class_name": "MyReg", "config": {}})
    nn.Model(x := nn.Input((3,)), d(x))  # a custom class is kept (imports never fail on it) ...
    assert d.get_config()["kernel_initializer"] == custom and not d.kernel.value.any()
    with pytest.raises(UnsupportedOpError, match="'MyReg'"):  # ... and refused when training uses it
        d.kernel.regularizer.refuse("kernel_regularizer")


def test_imported_keras_model_keeps_initializers_regularizers_constraints(tmp_path):
    keras = pytest.importorskip("keras")
    L = keras.layers
    inp = keras.Input((6,))
    h = L.Dense(5, kernel_initializer=keras.initializers.HeNormal(seed=1), bias_initializer="ones",
                kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02), bias_regularizer="l2",
                activity_regularizer=keras.regularizers.L1(0.3), kernel_constraint=keras.constraints.MaxNorm(2.0),
                bias_constraint=keras.constraints.NonNeg(), name="d1")(inp)
    h = L.BatchNormalization(gamma_constraint=keras.constraints.UnitNorm(),
                             beta_regularizer=keras.regularizers.OrthogonalRegularizer(0.1), name="bn")(h)
    h = L.Dense(4, kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_avg", "uniform", seed=5),
                kernel_constraint=keras.constraints.MinMaxNorm(0.1, 1.5, 0.5), name="d2")(h)
    seq = L.LSTM(3, recurrent_initializer=keras.initializers.Orthogonal(gain=0.5, seed=2),
                 recurrent_regularizer=keras.regularizers.L2(0.1), name="lstm")(L.Reshape((2, 2))(h))
    path = tmp_path / "m.keras"
    keras.Model(inp, seq).save(path)
    layers = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["layers"]
    cfg = {l["config"]["name"]: l["config"] for l in layers}
    model = nn_load(path)
    checked = 0
    for layer in model.layers:
        ours = layer.get_config()
        for key, value in cfg[layer.name].items():
            if key.endswith(("_initializer", "_regularizer", "_constraint")):
                assert ours.get(key) == value, (layer.name, key)
                checked += value is not None
    assert checked >= 20
    d1 = next(l for l in model.layers if l.name == "d1")
    assert d1.kernel.regularizer == regularizers.L1L2(0.01, 0.02) and d1.kernel.constraint == constraints.MaxNorm(2.0)
    lstm = next(l for l in model.layers if l.name == "lstm")
    assert lstm.cell.recurrent_kernel.regularizer == regularizers.L2(0.1)


def nn_load(path):
    from graphc.importers.keras import load

    return load(path)
