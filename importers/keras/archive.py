"""Reading the three Keras containers without executing anything: `.keras` zip archives (read in
memory), legacy `.h5` full models, and JSON configs with a separate weights file.

Every size a container declares is checked against `graphc.limits` before it is read: zip
members (count, length, compression method and ratio), JSON text (length, nesting depth), and,
through `h5safe`, every HDF5 dataset. Nothing outside the model's folder is read."""
from __future__ import annotations

import json
import posixpath
import zipfile
import zlib
from pathlib import Path

import h5py

from graphc import limits
from graphc.errors import ModelFormatError
from graphc.importers.keras import h5safe

_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError, OSError,
               ValueError, KeyError)


def _check_member(path: Path, info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
        raise ModelFormatError(f"{path}: archive member {name!r} points outside the archive; "
                               f"refusing to read a model file that contains such a path")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFormatError(f"{path}: archive member {name!r} uses zip compression method "
                               f"{info.compress_type}; Keras writes only stored or deflated members")
    limits.check_bytes(info.file_size, str(path), f"archive member {name!r}")
    if info.file_size > max(info.compress_size, 1) * limits.MAX_COMPRESSION_RATIO:
        raise ModelFormatError(f"{path}: archive member {name!r} expands {info.compress_size:,} bytes to "
                               f"{info.file_size:,}, a compression ratio over {limits.MAX_COMPRESSION_RATIO}:1; "
                               f"refusing a possible zip bomb")


def read_keras_archive(path: Path):
    """(config dict, weights h5py.File or None, metadata dict) from a `.keras` zip."""
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as e:
        raise ModelFormatError(f"{path}: not a readable .keras archive ({e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.MAX_ARCHIVE_MEMBERS:
            raise ModelFormatError(f"{path}: archive has {len(infos):,} members, over the limit of "
                                   f"{limits.MAX_ARCHIVE_MEMBERS:,}; not a Keras archive")
        for info in infos:
            _check_member(path, info)
        names = [i.filename for i in infos]
        if "config.json" not in names:
            raise ModelFormatError(f"{path}: a zip without config.json is not a Keras archive "
                                   f"(members: {names[:10]}); save the model with model.save('m.keras')")
        config = parse_json(_read_member(zf, path, "config.json"), f"{path}: config.json")
        meta = {}
        if "metadata.json" in names:
            meta = parse_json(_read_member(zf, path, "metadata.json"), f"{path}: metadata.json")
            if not isinstance(meta, dict):
                raise ModelFormatError(f"{path}: metadata.json holds a {type(meta).__name__}, expected a JSON "
                                       f"object with keras_version; the archive is damaged")
        weights = None
        wname = next((n for n in names if posixpath.basename(n) == "model.weights.h5"), None)
        if wname is not None:
            weights = h5safe.open_h5(_read_member(zf, path, wname), f"{path}: {wname}")
    return config, weights, meta


def _read_member(zf: zipfile.ZipFile, path: Path, name: str) -> bytes:
    try:
        return zf.read(name)
    except _ZIP_ERRORS as e:
        raise ModelFormatError(f"{path}: damaged .keras archive, cannot read {name} ({type(e).__name__}: {e})") \
            from None


def parse_json(text, what: str):
    """Parsed JSON from `text` (bytes or str), refused when longer or deeper than the limits."""
    if len(text) > limits.MAX_CONFIG_BYTES:
        raise ModelFormatError(f"{what}: {len(text):,} bytes of JSON, over the limit of {limits.MAX_CONFIG_BYTES:,}")
    try:
        obj = json.loads(text)
    except RecursionError:
        obj = None
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFormatError(f"{what}: not valid JSON ({e})") from None
    else:
        if limits.json_depth(obj) <= limits.MAX_JSON_DEPTH:
            return obj
    raise ModelFormatError(f"{what}: JSON nested deeper than {limits.MAX_JSON_DEPTH} levels; no Keras "
                           f"config is, so the file is refused")


def open_h5(path: Path):
    return h5safe.open_h5(path, str(path))


def read_legacy_h5(path: Path):
    """(config dict, h5 group holding the layer weights) of a legacy full-model `.h5`."""
    f = open_h5(path)
    raw = h5safe.read_attr(f, "model_config", str(path))
    if raw is None:
        if "layers" in f or "layer_names" in f.attrs:
            raise ModelFormatError(f"{path}: holds only weights (no model_config); load the architecture "
                                   f"from its .json or .keras file and pass this file as weights=")
        raise ModelFormatError(f"{path}: an HDF5 file without 'model_config' is not a Keras model")
    if not isinstance(raw, (bytes, str)):
        raise ModelFormatError(f"{path}: attribute model_config holds {type(raw).__name__}, expected the "
                               f"model's JSON config as a string")
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        raise ModelFormatError(f"{path}: model_config is not UTF-8 text ({e})") from None
    config = parse_json(text, f"{path}: model_config")
    group = f.get("model_weights", f)
    if not isinstance(group, h5py.Group):
        raise ModelFormatError(f"{path}: model_weights is not a group; the file is damaged")
    return config, group


def read_json(path: Path):
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limits.MAX_CONFIG_BYTES:
            raise ModelFormatError(f"{path}: {size:,} bytes of JSON, over the limit of {limits.MAX_CONFIG_BYTES:,}")
        text = path.read_bytes()
    except OSError as e:
        raise ModelFormatError(f"{path}: cannot read ({e.strerror})") from None
    return parse_json(text, str(path))
