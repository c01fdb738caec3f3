"""Reading the three Keras containers without executing anything: `.keras` zip archives (read in
memory), legacy `.h5` full models, and JSON configs with a separate weights file."""
from __future__ import annotations

import io
import json
import posixpath
import zipfile
from pathlib import Path

import h5py

from graphc.errors import ModelFormatError


def _check_member(path: Path, name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise ModelFormatError(f"{path}: archive member {name!r} points outside the archive; "
                               f"refusing to read a model file that contains such a path")


def read_keras_archive(path: Path):
    """(config dict, weights h5py.File or None, metadata dict) from a `.keras` zip."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFormatError(f"{path}: not a readable .keras archive ({e})") from None
    with zf:
        names = zf.namelist()
        for n in names:
            _check_member(path, n)
        if "config.json" not in names:
            raise ModelFormatError(f"{path}: a zip without config.json is not a Keras archive "
                                   f"(members: {names[:10]}); save the model with model.save('m.keras')")
        try:
            config = json.loads(zf.read("config.json"))
            meta = json.loads(zf.read("metadata.json")) if "metadata.json" in names else {}
            weights = None
            wname = next((n for n in names if posixpath.basename(n) == "model.weights.h5"), None)
            if wname is not None:
                weights = h5py.File(io.BytesIO(zf.read(wname)), "r")
        except (zipfile.BadZipFile, ValueError, OSError, KeyError) as e:
            raise ModelFormatError(f"{path}: damaged .keras archive ({e})") from None
    return config, weights, meta


def open_h5(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ModelFormatError(f"{path}: not a readable HDF5 file (truncated or not Keras?): {e}") from None


def read_legacy_h5(path: Path):
    """(config dict, h5 group holding the layer weights) of a legacy full-model `.h5`."""
    f = open_h5(path)
    raw = f.attrs.get("model_config")
    if raw is None:
        if "layers" in f or "layer_names" in f.attrs:
            raise ModelFormatError(f"{path}: holds only weights (no model_config); load the architecture "
                                   f"from its .json or .keras file and pass this file as weights=")
        raise ModelFormatError(f"{path}: an HDF5 file without 'model_config' is not a Keras model")
    try:
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError as e:
        raise ModelFormatError(f"{path}: model_config is not valid JSON ({e})") from None
    return config, f["model_weights"] if "model_weights" in f else f


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFormatError(f"{path}: not a JSON model config ({e})") from None
