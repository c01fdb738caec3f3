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


def rewrite_archive(src: Path, dst: Path, config=None, weights=None, extra=(), skip=()):
    """Copy a .keras archive, replacing its config and/or weights, dropping the members in `skip`,
    adding `extra` (name, bytes) members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in skip:
                continue
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


# ---- hostile and broken containers (issue 7 §3): each is a ModelFormatError naming the file ------
SEQ = "struct_sequential_mlp.keras"


def _load_refused(p: Path, match: str):
    with pytest.raises(ModelFormatError, match=match) as e:
        kimport.load(p)
    assert str(p) in str(e.value)


@needs(SEQ)
@pytest.mark.parametrize("meta", [[1, 2], "3.15", 7])
def test_metadata_that_is_not_an_object(tmp_path, meta):
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / SEQ, p, extra=[("metadata.json", json.dumps(meta))], skip={"metadata.json"})
    _load_refused(p, "metadata.json holds a")


@needs(SEQ)
def test_deeply_nested_config(tmp_path):
    cfg = archive_config(DIR / SEQ)
    cfg["config"]["layers"][1]["config"]["units"] = json.loads("[" * 500 + "]" * 500)
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / SEQ, p, config=cfg)
    _load_refused(p, "nested deeper than 100 levels")


def test_deeply_nested_json_file(tmp_path):
    p = tmp_path / "m.json"
    p.write_text('{"a":' * 200_000 + "1" + "}" * 200_000)  # past the C parser's recursion limit
    _load_refused(p, "nested deeper than")


def _recompress(p: Path, compression: int, extra=()) -> Path:
    """SEQ's members written again with `compression`, plus `extra` (name, bytes, method) members."""
    with zipfile.ZipFile(DIR / SEQ) as zin, zipfile.ZipFile(p, "w", compression=compression) as zout:
        for name in zin.namelist():
            zout.writestr(name, zin.read(name))
        for name, data, method in extra:
            zout.writestr(name, data, compress_type=method)
    return p


@needs(SEQ)
def test_unsupported_zip_compression(tmp_path):
    _load_refused(_recompress(tmp_path / "m.keras", zipfile.ZIP_BZIP2), "compression method 12")


@needs(SEQ)
def test_corrupt_deflate_stream(tmp_path):
    p = _recompress(tmp_path / "m.keras", zipfile.ZIP_DEFLATED)
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("config.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + 40):
        data[i] ^= 0x5A
    p.write_bytes(bytes(data))
    _load_refused(p, "damaged .keras archive, cannot read config.json")


@needs(SEQ)
def test_zip_bomb(tmp_path):
    p = _recompress(tmp_path / "m.keras", zipfile.ZIP_STORED,
                    extra=[("assets/pad.bin", bytes(64 << 20), zipfile.ZIP_DEFLATED)])
    assert p.stat().st_size < 1 << 20
    _load_refused(p, "compression ratio over 200:1; refusing a possible zip bomb")


@needs(SEQ)
def test_zip_member_declared_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_MAX_WEIGHT_BYTES", "10000")
    _load_refused(DIR / SEQ, "archive member 'model.weights.h5' declares .* over the limit of 10,000")


@needs("struct_sequential_mlp.h5")
@pytest.mark.parametrize("value", [np.int64(5), np.zeros(3)], ids=["int", "array"])
def test_model_config_that_is_not_a_string(tmp_path, value):
    p = tmp_path / "m.h5"
    shutil.copy(DIR / "struct_sequential_mlp.h5", p)
    with h5py.File(p, "a") as f:
        f.attrs["model_config"] = value
    _load_refused(p, "attribute model_config holds")


@needs("struct_cnn_merge.keras")
@pytest.mark.parametrize("history", [["x"], 5, {"a": 1}])
def test_malformed_keras_history(tmp_path, history):
    cfg = archive_config(DIR / "struct_cnn_merge.keras")
    layer = next(l for l in cfg["config"]["layers"] if l.get("inbound_nodes"))
    layer["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = history
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / "struct_cnn_merge.keras", p, config=cfg)
    _load_refused(p, "malformed model config")


@needs("struct_cnn_merge.keras")
def test_huge_layer_size_is_refused_before_allocating(tmp_path):
    cfg = archive_config(DIR / "struct_cnn_merge.keras")
    conv = next(l for l in cfg["config"]["layers"] if l["class_name"] == "Conv2D")
    conv["config"]["filters"] = 2 ** 31
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / "struct_cnn_merge.keras", p, config=cfg)
    _load_refused(p, rf"layer '{conv['config']['name']}' \(Conv2D\): weight 'kernel' declares .* over the limit")


@needs(SEQ)
def test_empty_sequential(tmp_path):
    cfg = archive_config(DIR / SEQ)
    cfg["config"]["layers"] = cfg["config"]["layers"][:1]
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / SEQ, p, config=cfg)
    _load_refused(p, "has no layers besides its input")


@needs("dense_relu.keras")
def test_layer_name_that_is_not_a_string(tmp_path):
    cfg = archive_config(DIR / "dense_relu.keras")
    next(l for l in cfg["config"]["layers"] if l["class_name"] == "Dense")["config"]["name"] = 2 ** 63
    p = tmp_path / "m.keras"
    rewrite_archive(DIR / "dense_relu.keras", p, config=cfg)
    with pytest.raises(GraphcError, match=r"m\.keras: .*name 9223372036854775808 is not a string"):
        kimport.load(p)
