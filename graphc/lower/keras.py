"""Writing a graphc layer model as a Keras 3 `.keras` file (an export, as ONNX is): a zip stored
uncompressed with `metadata.json`, `config.json` in Keras 3's format (Sequential, or Functional with
Keras 3 inbound nodes) and `model.weights.h5` keyed as Keras keys it (snake_case class name and a
counter, `layers/dense_1/vars/0`; `Layer.sublayers()` gives those keys, the same walk the Keras
importer reads). Real Keras 3 loads it with `keras.saving.load_model`.

Layers written: those of `KERAS_LAYERS`, whose graphc config keys are Keras's own (a recurrent
layer's weights sit under its `cell`, as Keras keeps them); any other layer is refused by name. A
call's arguments keep their nesting (a merge layer's inputs are one list), tensors passed by keyword
(`initial_state`) included. Config keys whose value is None are left out (Keras's default is the same), which
also drops the Keras 2 keys (`fused`, `virtual_batch_size`) Keras 3 no longer takes. The file is
written atomically: a temporary file in the same folder, then `os.replace`.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from graphc.errors import GraphcError

KERAS_VERSION = "3.15.1"
KERAS_LAYERS = ("InputLayer", "Dense", "Conv1D", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling1D",
                "GlobalAveragePooling2D", "Flatten", "Dropout", "BatchNormalization", "LayerNormalization",
                "Activation", "Embedding", "SimpleRNN", "LSTM", "GRU", "Add", "Concatenate")


class KerasExportError(GraphcError):
    """A model that cannot be written as a `.keras` file."""


def _policy(dtype="float32") -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(dtype)}, "registered_name": None}


def _json(v):
    if isinstance(v, (tuple, list)):
        return [_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _class(layer) -> str:
    return getattr(layer, "keras_class", None) or type(layer).__name__


def _shape(t) -> list:
    return [None if not isinstance(d, int) else d for d in t.shape]


def _input_entry(layer) -> dict:
    t = layer._nodes[0].outputs[0]
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": _shape(t), "dtype": str(t.dtype), "sparse": False, "name": layer.name},
            "registered_name": None}


def _layer_entry(model, layer) -> dict:
    cls = _class(layer)
    if cls == "InputLayer":
        return _input_entry(layer)
    if cls not in KERAS_LAYERS:
        raise KerasExportError(f"model {model.name!r}: layer {layer.name!r} ({cls}) cannot be written to a .keras "
                               f"file yet; the writer knows {list(KERAS_LAYERS)}. Export to ONNX instead "
                               f"(graphc.export)")
    cfg = {k: v for k, v in layer.get_config().items() if v is not None}
    cfg["dtype"] = _policy()
    entry = {"module": "keras.layers", "class_name": cls, "config": _json(cfg), "registered_name": None}
    if layer.weights:
        ins = layer._nodes[0].keras_inputs
        entry["build_config"] = {"input_shape": _shape(ins[0]) if len(ins) == 1 else [_shape(t) for t in ins]}
    return entry


def _history(model, t) -> list:
    layer = t.node.layer
    return [layer.name, layer._nodes.index(t.node), t.index]


def _tensor(model, t) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": _shape(t), "dtype": str(t.dtype), "keras_history": _history(model, t)}}


def _positional(layer, node) -> list:
    """A call's positional arguments: a layer of one call input that got several (a merge layer,
    Attention) got them as one list."""
    args = list(node.args)
    return [args] if len(args) > 1 and getattr(layer, "n_call_inputs", 1) == 1 else args


def _call_args(model, v):
    """A call's arguments as Keras 3 writes them: each tensor as `__keras_tensor__`, the nesting kept
    (a merge layer's one argument is the list of its inputs)."""
    from graphc.nn.base import KerasTensor

    if isinstance(v, KerasTensor):
        return _tensor(model, v)
    if isinstance(v, (list, tuple)):
        return [_call_args(model, x) for x in v]
    if isinstance(v, dict):
        return {k: _call_args(model, x) for k, x in v.items()}
    return _json(v)


def model_config(model) -> dict:
    """`config.json` of `model` (a graphc Sequential or functional Model)."""
    layers = list(model.layers)
    if _class(model) == "Sequential":
        cfg = {"name": model.name, "trainable": model.trainable, "dtype": _policy(),
               "layers": [_layer_entry(model, l) for l in layers],
               "build_input_shape": _shape(model.inputs[0])}
        cls = "Sequential"
    else:
        entries = []
        for l in layers:
            e = _layer_entry(model, l)
            e["name"] = l.name
            e["inbound_nodes"] = [] if _class(l) == "InputLayer" else [
                {"args": _call_args(model, _positional(l, n)), "kwargs": _call_args(model, dict(n.kwargs))}
                for n in l._nodes if _owned(model, n)]
            entries.append(e)
        cfg = {"name": model.name, "trainable": model.trainable, "layers": entries,
               "input_layers": [_history(model, t) for t in model.inputs],
               "output_layers": [_history(model, t) for t in model.outputs]}
        cls = "Functional"
    shapes = [_shape(t) for t in model.inputs]
    module = "keras" if cls == "Sequential" else "keras.src.models.functional"  # where Keras 3 writes each
    return {"module": module, "class_name": cls, "config": cfg, "registered_name": None,
            "build_config": {"input_shape": shapes[0] if len(shapes) == 1 else shapes}, "compile_config": None}


def _owned(model, node) -> bool:
    return node in model._call_nodes if hasattr(model, "_call_nodes") else True


def weights_h5(model) -> bytes:
    """`model.weights.h5`: each layer's weights under its Keras key, `vars/<i>` in Keras's order."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        def write(layer, group, visited):
            if id(layer) in visited:
                return
            visited.add(id(layer))
            v = group.create_group("vars")
            v.attrs["name"] = layer.name
            for i, w in enumerate(layer._weights):
                v.create_dataset(str(i), data=np.asarray(w.value))
            for key, sub in layer.sublayers():
                write(sub, group.require_group(key), visited)

        write(model, f, set())
    return buf.getvalue()


def save_keras(model, path) -> None:
    """Write `model` (a graphc layer model; a trainer's weights are synced first) to `path`."""
    if not hasattr(model, "layers") or not hasattr(model, "sublayers"):
        raise KerasExportError(f"model {model.name!r} is a plain graph (imported ONNX?): only layer models save "
                               f"as .keras; export it with graphc.export(model, 'm.onnx')")
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise KerasExportError(f"{path}: a Keras 3 file's name ends in .keras")
    model.sync_weights()
    config = json.dumps(model_config(model))
    weights = weights_h5(model)
    meta = json.dumps({"keras_version": KERAS_VERSION,
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            z.writestr("metadata.json", meta)
            z.writestr("config.json", config)
            z.writestr("model.weights.h5", weights)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
