"""Files the Keras importer must refuse, clearly and without running anything from them."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import graphc
from graphc.errors import GraphcError, ModelFormatError, UnsupportedOpError
from graphc.importers import keras as kimport
from graphc.importers.keras.registry import _CUSTOM

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
needs = lambda name: pytest.mark.skipif(not (DIR / name).exists(), reason=f"fixture {name} not generated")


def rewrite_archive(src: Path, dst: Path, config=None, weights=None, extra=()):
    """Copy a .keras archive, replacing its config and/or weights, adding `extra` (name, bytes) members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json" and config is not None:
                data = json.dumps(config).encode()
            if name == "model.weights.h5" and weights is not None:
                data = weights
            zout.writestr(name, data)
        for name, data in extra:
            zout.writestr(name, data)


def archive_config(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def test_zip_that_is_not_keras(tmp_path):
    p = tmp_path / "m.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ModelFormatError, match="not a Keras archive"):
        graphc.load(p)


@needs("dense_relu.keras")
def test_zip_member_with_dotdot(tmp_path):
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / "dense_relu.keras", p, extra=[("../../evil.txt", b"x")])
    with pytest.raises(ModelFormatError, match="outside the archive"):
        kimport.load(p)
    assert not (tmp_path.parent.parent / "evil.txt").exists()


@needs("mobilenetv2.h5")
def test_truncated_h5(tmp_path):
    p = tmp_path / "m.h5"
    data = (DIR / "mobilenetv2.h5").read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFormatError):
        graphc.load(p)


@needs("struct_shared_dense.keras")
def test_config_naming_a_missing_layer(tmp_path):
    cfg = archive_config(DIR / "struct_shared_dense.keras")
    text = json.dumps(cfg)
    first_input = cfg["config"]["layers"][0]["name"]
    cfg = json.loads(text.replace(f'"keras_history": ["{first_input}"', '"keras_history": ["no_such_layer"'))
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / "struct_shared_dense.keras", p, config=cfg)
    with pytest.raises(ModelFormatError, match="no_such_layer"):
        kimport.load(p)


@needs("dense_relu.keras")
def test_weight_of_the_wrong_shape(tmp_path):
    with zipfile.ZipFile(DIR / "dense_relu.keras") as z:
        raw = z.read("model.weights.h5")
    buf = io.BytesIO(raw)
    with h5py.File(buf, "a") as f:
        group = next(f["layers"][k]["vars"] for k in f["layers"] if k.startswith("dense"))
        shape = group["0"].shape
        del group["0"]
        group["0"] = np.zeros((shape[0] + 1, shape[1]), np.float32)
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / "dense_relu.keras", p, weights=buf.getvalue())
    with pytest.raises(ModelFormatError, match=r"weight 'kernel' has shape \[%d, %d\], expected \[%d, %d\]"
                       % (shape[0] + 1, shape[1], shape[0], shape[1])):
        kimport.load(p)


@needs("dense_relu.keras")
def test_unknown_layer_class_names_layer_class_and_supported_list(tmp_path):
    cfg = archive_config(DIR / "dense_relu.keras")
    layer = next(l for l in cfg["config"]["layers"] if l["class_name"] == "Dense")
    layer["class_name"] = "FancyDense"
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / "dense_relu.keras", p, config=cfg)
    with pytest.raises(UnsupportedOpError) as e:
        kimport.load(p)
    msg = str(e.value)
    assert "FancyDense" in msg and repr(layer["config"]["name"]) in msg and "Conv2D" in msg and "register_layer" in msg


@needs("lambda_marker.keras")
def test_lambda_is_refused_without_running_its_code():
    marker = Path("/tmp/graphc_lambda_marker")
    if marker.exists():
        marker.unlink()
    with pytest.raises(kimport.LambdaLayerError) as e:
        kimport.load(DIR / "lambda_marker.keras")
    assert isinstance(e.value, UnsupportedOpError) and isinstance(e.value, GraphcError)
    assert "register_layer" in str(e.value) and "marker_lambda" in str(e.value)
    assert not marker.exists()


@needs("lambda_marker.keras")
def test_register_layer_supplies_a_translation(monkeypatch):
    monkeypatch.setitem(_CUSTOM, "Lambda", lambda cfg: graphc.nn.Identity(name=cfg["name"]))
    model = kimport.load(DIR / "lambda_marker.keras")
    x = np.load(DIR / "lambda_marker.npz")["input_0"]
    assert model.predict(x, opt_level="O0").shape[0] == x.shape[0]
    assert not Path("/tmp/graphc_lambda_marker").exists()


@needs("struct_cnn_merge.json")
def test_json_without_weights_says_what_to_pass(tmp_path):
    p = tmp_path / "m.json"
    shutil.copy(DIR / "struct_cnn_merge.json", p)
    with pytest.raises(ModelFormatError, match="weights="):
        kimport.load(p)


def test_json_that_is_not_a_model(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"class_name": "Dense", "config": {}}))
    with pytest.raises(ModelFormatError, match="not a Keras model"):
        kimport.load(p)
