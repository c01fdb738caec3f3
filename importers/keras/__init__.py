"""The Keras importer: `.keras` archives, legacy `.h5` models (Keras 2 and Keras 3 layouts), and JSON
configs with a weights file, into `graphc.nn` models. Nothing in the file is ever executed.

    model = graphc.importers.keras.load("m.keras")
    model.predict(x)
"""
from __future__ import annotations

from pathlib import Path

from graphc.errors import GraphcError, ModelFormatError
from graphc.importers.keras.registry import LambdaLayerError, register_layer, supported

__all__ = ["load", "register_layer", "supported", "LambdaLayerError"]


# a .keras file is a zip and a .h5 an HDF5 file: with neither signature, they are not Keras models
_BINARY_SUFFIXES = {".keras": "not a zip file (a .keras archive is one)", ".h5": "not an HDF5 file",
                    ".hdf5": "not an HDF5 file"}


def _is_keras2(version) -> bool:
    return str(version or "").startswith(("2.", "1."))


def load(path, weights=None):
    """A `graphc.nn.Model` from a Keras file; `weights` names a separate weights file (for .json)."""
    from graphc.importers.keras import archive, h5safe
    from graphc.importers.keras.weights import load_keras3, load_legacy

    path = Path(path)
    if not path.exists():
        raise ModelFormatError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(8)
    where = str(path)
    if head.startswith(b"PK"):
        config, wfile, meta = archive.read_keras_archive(path)
        model = _build(config, where, _is_keras2(meta.get("keras_version")))
        # what Keras's `compile` was given when the file was saved: `fit` uses it when the user
        # does not call `compile` (as keras.saving.load_model does)
        if isinstance(config.get("compile_config"), dict):
            model.saved_compile_config = config["compile_config"]
        if wfile is None:
            raise ModelFormatError(f"{path}: archive has no model.weights.h5")
        with h5safe.reading(where):
            load_keras3(model, wfile, where)
    elif head.startswith(b"\x89HDF"):
        config, group = archive.read_legacy_h5(path)
        model = _build(config, where, _is_keras2(h5safe.read_attr(group.file, "keras_version", where)))
        with h5safe.reading(where):
            load_legacy(model, group, where)
    elif path.suffix.lower() in _BINARY_SUFFIXES:  # not JSON either: say which container it should be
        raise ModelFormatError(f"{path}: {_BINARY_SUFFIXES[path.suffix.lower()]} (its first bytes are "
                               f"{head!r}); the file is damaged or is not a Keras model")
    else:
        config = archive.read_json(path)
        model = _build(config, where, _is_keras2(config.get("keras_version") if isinstance(config, dict) else None))
        wpath = Path(weights) if weights else path.with_name(path.name[: -len(path.suffix)] + ".weights.h5")
        if not wpath.exists():
            raise ModelFormatError(f"{path}: a JSON config carries no weights; pass weights='file.weights.h5' "
                                   f"({wpath} does not exist)")
        folder = path.resolve().parent
        if not weights and folder not in wpath.resolve().parents:
            # the sibling is found by name, so it must really live beside the config
            raise ModelFormatError(f"{path}: its weights file {wpath.name} is a link that leaves the model's "
                                   f"folder {folder}; refusing to read it (pass weights= to name it on purpose)")
        wf = archive.open_h5(wpath)
        with h5safe.reading(str(wpath)):
            if "layers" in wf or "vars" in wf:
                load_keras3(model, wf, str(wpath))
            else:
                load_legacy(model, wf["model_weights"] if "model_weights" in wf else wf, str(wpath))
    model._compiled.clear()
    model.graph.meta["source"] = where
    return model


def _build(config, where, keras2):
    from graphc.importers.keras.config import MODEL_CLASSES, Reader

    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        cls = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        raise ModelFormatError(f"{where}: the config describes a {cls!r}, not a Keras model "
                               f"(expected one of {MODEL_CLASSES})")
    try:
        model = Reader(where, keras2).model(config)
        if not model.built:  # Keras saves an empty Sequential; it computes nothing
            raise ModelFormatError(f"{where}: model {model.name!r} has no layers besides its input; there is "
                                   f"nothing to import")
        return model
    except GraphcError as e:
        if str(e).startswith(where):
            raise
        raise type(e)(f"{where}: {e}") from None  # a layer's own error, which cannot know the file
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, ZeroDivisionError, OverflowError) as e:
        raise ModelFormatError(f"{where}: malformed model config ({type(e).__name__}: {e})") from None
    except RecursionError:
        raise ModelFormatError(f"{where}: model config nests models or layers too deeply to follow") from None
