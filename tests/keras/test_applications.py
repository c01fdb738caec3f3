"""Every Keras 3 `keras.applications` family, built with real Keras at test time (weights=None,
small inputs, narrow widths where the family has them), saved into tmp_path, imported, and run at
O0 and O2 against Keras's own predict; after O2 at most the two layout edges stay Transposes.

Weights Keras sets to constants (biases, BatchNormalization's gamma and beta, ConvNeXt's layer
scales) are drawn at random. Random weights give vanishing activations (each BatchNormalization's moving statistics are the
identity while every layer shrinks its input), so each BatchNormalization is first given the
scale of the data that reaches it (one pass through Keras's graph, in order; one variance per
layer, not per channel, which would amplify nearly dead channels and their rounding): the logits
(`classifier_activation=None`) are then of order one and differ between samples and classes,
which the test checks so that a wrong import cannot pass by matching a constant.

Also: Keras's rule for numbering the `layers/<class>_N` weight groups (`Functional.layers`, from
its `map_graph`), on small models whose layers were created in an order other than their depth
order.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras import applications as A  # noqa: E402
from keras import layers as L  # noqa: E402

from graphc.importers.keras import load  # noqa: E402

TOL = 1e-4  # max |graphc - keras| / max |keras|
NO_TOP = dict(weights=None, classes=10, classifier_activation=None)
# the input range each family's preprocessing expects: raw pixels for the families that include
# their preprocessing, [-1, 1] ("tf"), mean-subtracted pixels ("caffe"), standardized ("torch")
PIXELS, TF, CAFFE, TORCH = (0.0, 255.0), (-1.0, 1.0), (-128.0, 128.0), (-2.0, 2.0)

FAMILIES = {
    "ConvNeXtTiny": (lambda s: A.ConvNeXtTiny(input_shape=s, **NO_TOP), 32, PIXELS),
    "DenseNet121": (lambda s: A.DenseNet121(input_shape=s, **NO_TOP), 32, TORCH),
    "EfficientNetB0": (lambda s: A.EfficientNetB0(input_shape=s, **NO_TOP), 32, PIXELS),
    "EfficientNetB3": (lambda s: A.EfficientNetB3(input_shape=s, **NO_TOP), 32, PIXELS),
    "EfficientNetV2B0": (lambda s: A.EfficientNetV2B0(input_shape=s, **NO_TOP), 32, PIXELS),
    "InceptionV3": (lambda s: A.InceptionV3(input_shape=s, **NO_TOP), 75, TF),
    "InceptionResNetV2": (lambda s: A.InceptionResNetV2(input_shape=s, **NO_TOP), 75, TF),
    "MobileNet": (lambda s: A.MobileNet(input_shape=s, alpha=0.25, **NO_TOP), 32, TF),
    "MobileNetV2": (lambda s: A.MobileNetV2(input_shape=s, alpha=0.35, **NO_TOP), 32, TF),
    "MobileNetV3Small": (lambda s: A.MobileNetV3Small(input_shape=s, alpha=0.75, **NO_TOP), 32, PIXELS),
    "MobileNetV3Large": (lambda s: A.MobileNetV3Large(input_shape=s, alpha=0.75, **NO_TOP), 32, PIXELS),
    "ResNet50": (lambda s: A.ResNet50(input_shape=s, **NO_TOP), 32, CAFFE),
    "ResNet50V2": (lambda s: A.ResNet50V2(input_shape=s, **NO_TOP), 32, TF),
    "VGG16": (lambda s: A.VGG16(input_shape=s, **NO_TOP), 32, CAFFE),
    "Xception": (lambda s: A.Xception(input_shape=s, **NO_TOP), 71, TF),
}
# the legacy full-model .h5 path (Keras 3 `model.save("m.h5")`), on a plain and a branched model
LEGACY_H5 = ("MobileNetV2", "ResNet50")


def build(name: str, batch: int = 2, seed: int = 0):
    """(Keras model with calibrated BatchNormalizations, an input batch that exercises it)."""
    make, size, (lo, hi) = FAMILIES[name]
    keras.utils.set_random_seed(seed)
    model = make((size, size, 3))
    rng = np.random.default_rng(seed)
    perturb(model, rng)
    x = rng.uniform(lo, hi, (batch, size, size, 3)).astype(np.float32)
    calibrate(model, x)
    return model, x


def perturb(model, rng) -> None:
    """Weights that Keras initializes to constants (biases and betas 0, gammas and layer scales 1
    or 1e-6, a Normalization's mean 0 and variance 1) get random values, so that an import which
    drops or swaps one of them shows in the outputs."""
    for layer in model.layers:
        for v in layer.weights:
            leaf = v.path.rsplit("/", 1)[-1]
            if leaf in ("bias", "beta"):
                new = rng.normal(0.0, 0.1, v.shape)
            elif leaf == "gamma" or type(layer).__name__ == "LayerScale":
                new = rng.uniform(0.5, 1.5, v.shape)
            elif isinstance(layer, L.Normalization) and leaf in ("mean", "variance"):
                new = rng.uniform(0.3, 0.7, v.shape) if leaf == "mean" else rng.uniform(0.04, 0.1, v.shape)
            else:
                continue
            v.assign(new.astype(np.float32))


def calibrate(model, x) -> None:
    """Set each BatchNormalization (in graph order, on the activations `x` gives under the ones
    before it) to mean 0 and the mean square of its input, one value for all its channels."""
    def scaled(op):
        if not isinstance(op, L.BatchNormalization):
            return op

        def call(t, **kwargs):
            a = keras.ops.convert_to_numpy(t).astype(np.float64)
            channels = a.shape[op.axis % a.ndim]
            op.moving_mean.assign(np.zeros(channels, np.float32))
            op.moving_variance.assign(np.full(channels, max(np.mean(a * a) - op.epsilon, 0.0), np.float32))
            return op(t, **kwargs)
        return call

    model._run_through_graph(x, operation_fn=scaled)  # Functional.call's own walk, one op at a time


def data_transposes(onnx_model) -> int:
    """Transposes on data in what ONNX Runtime runs (those on initializers are weight layouts,
    which ONNX Runtime folds when it loads the model)."""
    weights = {t.name for t in onnx_model.graph.initializer}
    return sum(1 for n in onnx_model.graph.node if n.op_type == "Transpose" and n.input[0] not in weights)


def config_layer_names(path) -> list[str]:
    if str(path).endswith(".keras"):
        config = json.loads(zipfile.ZipFile(path).read("config.json"))
    else:
        import h5py

        with h5py.File(path, "r") as f:
            config = json.loads(f.attrs["model_config"])
    return [l.get("name") or l["config"]["name"] for l in config["config"]["layers"]]


def relative_error(got, ref) -> float:
    return float(np.abs(got.astype(np.float64) - ref).max() / np.abs(ref).max())


def _cases():
    for name in FAMILIES:
        yield pytest.param(name, "keras", id=f"{name}-keras", marks=pytest.mark.slow)
        if name in LEGACY_H5:
            yield pytest.param(name, "h5", id=f"{name}-h5", marks=pytest.mark.slow)


@pytest.mark.parametrize("name,fmt", list(_cases()))
def test_family_matches_keras(name, fmt, tmp_path):
    model, x = build(name)
    path = tmp_path / f"{name}.{fmt}"
    model.save(path)
    ref = model.predict(x, verbose=0)
    # the comparison can fail: logits far from zero that differ between the samples and the classes
    top = np.abs(ref).max()
    assert top > 1e-2, f"{name}: Keras's logits vanish ({top:.1e})"
    assert np.ptp(ref, axis=0).max() > 1e-2 * top, f"{name}: every sample gives the same logits"
    assert np.ptp(ref, axis=1).min() > 1e-3 * top, f"{name}: the classes' logits are all equal"

    imported = load(path)
    assert [l.name for l in imported.layers] == config_layer_names(path)  # Keras's layer order
    for level in ("O0", "O2"):
        exe = imported.executable(opt_level=level)
        got = exe(x)
        assert got.shape == ref.shape
        err = relative_error(got, ref)
        assert err <= TOL, f"{name} at {level}: max error {err:.2e} relative to logits up to {top:.2f}"
    n = data_transposes(exe.model)
    assert n <= 2, f"{name}: {n} Transposes left after O2 (only the NHWC edges may stay)"


# ---- Keras's layer order -----------------------------------------------------------------------
def _branched():
    """Convolutions created in one order and used in another, on branches of different depth."""
    a, b, c, d = (L.Conv2D(f, k, padding="same") for f, k in ((4, 1), (5, 3), (6, 1), (7, 3)))
    bn_late, bn_early = L.BatchNormalization(), L.BatchNormalization()
    inp = keras.Input((8, 8, 3))
    deep = d(L.ReLU()(bn_late(a(inp))))  # a -> bn_late -> d: three weighted layers deep
    shallow = c(inp)
    mid = bn_early(b(inp))
    x = L.Concatenate()([mid, deep, shallow])
    return keras.Model(inp, L.Dense(3)(L.GlobalAveragePooling2D()(x)))


def _shared_and_nested():
    """A layer called at two depths, a nested functional model, Dense layers of several widths."""
    wide, narrow, shared = L.Dense(12), L.Dense(5), L.Dense(6)
    sub_in = keras.Input((6,))
    sub = keras.Model(sub_in, L.Dense(4)(L.Dense(9)(sub_in)), name="sub")
    inp = keras.Input((6,))
    x = shared(inp)
    y = shared(x)  # the same Dense again, one call deeper
    z = sub(L.Add()([x, y]))
    return keras.Model(inp, L.Concatenate()([z, narrow(wide(y)), wide(inp)]))  # `wide` at two depths


def _keyword_inputs():
    """Keras walks a call's keyword tensors by sorted keyword (key, query, value), not by call order."""
    q_proj, v_proj, k_proj = L.Dense(8), L.Dense(6), L.Dense(5)
    inp = keras.Input((4, 3))
    mha = L.MultiHeadAttention(num_heads=2, key_dim=4)
    out = mha(query=q_proj(inp), value=v_proj(inp), key=k_proj(inp))
    return keras.Model(inp, L.Dense(2)(out))


def _weight_group_names(path) -> dict[str, str]:
    """weight group -> the layer name Keras wrote as that group's metadata."""
    import io

    import h5py

    with h5py.File(io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5")), "r") as f:
        return {k: f["layers"][k]["vars"].attrs["name"] for k in f["layers"] if "vars" in f["layers"][k]}


@pytest.mark.parametrize("make", [_branched, _shared_and_nested, _keyword_inputs],
                         ids=["branched", "shared-and-nested", "keyword-inputs"])
def test_weight_groups_follow_keras_layer_order(make, tmp_path):
    keras.utils.set_random_seed(1)
    model = make()
    for l in model.layers:  # weights that differ from their initial values, so a swap shows
        l.set_weights([np.random.default_rng(7).standard_normal(w.shape).astype(np.float32) * 0.5
                       if "variance" not in w.path else np.full(w.shape, 1.5, np.float32) for w in l.weights])
    path = tmp_path / "m.keras"
    model.save(path)
    imported = load(path)
    assert [l.name for l in imported.layers] == [l.name for l in model.layers]
    groups = _weight_group_names(path)
    for key, layer in imported.sublayers():
        if layer.weights:
            assert groups[key.split("/", 1)[1]] == layer.name, f"{key} holds {groups[key.split('/', 1)[1]]!r}"
    x = np.random.default_rng(3).standard_normal((2,) + tuple(model.input_shape[1:])).astype(np.float32)
    ref = model.predict(x, verbose=0)
    assert np.ptp(ref) > 1e-2
    for level in ("O0", "O2"):
        assert relative_error(imported.predict(x, opt_level=level), ref) <= TOL


@keras.saving.register_keras_serializable(package="graphc_tests")
class PlainDense(L.Dense):
    """A user's Keras class: saved under its own name, `layers/plain_dense`, apart from `dense_N`."""


def test_translated_custom_class_keeps_its_own_weight_group(tmp_path):
    from graphc.importers.keras import register_layer
    from graphc.nn import Dense

    register_layer("PlainDense", Dense)  # translated by a graphc class of another name
    keras.utils.set_random_seed(2)
    inp = keras.Input((5,))
    model = keras.Model(inp, L.Dense(3)(PlainDense(4)(L.Dense(5)(inp))))
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    ref = model.predict(x, verbose=0)
    got = load(tmp_path / "m.keras").predict(x, opt_level="O0")
    assert relative_error(got, ref) <= TOL
