"""Model configs (Keras 3 and Keras 2 layouts) -> graphc.nn models, through the functional API."""
from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError, ModelFormatError
from graphc.importers.keras.registry import construct

MODEL_CLASSES = ("Functional", "Model", "Sequential")
_NESTED_KEYS = ("layer", "backward_layer", "cell", "forward_layer")


class Reader:
    """Builds layers and models from one file's config; `where` names the file in errors."""

    def __init__(self, where: str, keras2: bool):
        self.where, self.keras2 = where, keras2

    # ---- layers -------------------------------------------------------------------------
    def layer(self, spec: dict):
        cls = spec.get("class_name")
        cfg = dict(spec.get("config") or {})
        if cls in MODEL_CLASSES:
            return self.model(spec)
        from graphc.importers.keras.ops import SUPPORTED, KerasOp
        from graphc.importers.keras.registry import _CUSTOM, builtin_layers
        from graphc.importers.keras.tf_functions import CLASSES, tf_function_layer

        if cls in CLASSES and cls not in _CUSTOM:
            cfg.setdefault("name", spec.get("name"))
            return tf_function_layer(cfg, self.where)

        if str(spec.get("module") or "").startswith("keras.src.ops") or (
                cls in SUPPORTED and cls not in builtin_layers()):

            cfg.setdefault("name", spec.get("name"))
            return KerasOp(cls, self.where, **cfg)
        for key in _NESTED_KEYS:
            if isinstance(cfg.get(key), dict) and "class_name" in cfg[key]:
                cfg[key] = self.layer(cfg[key])
        if self.keras2:
            for key in ("activation", "recurrent_activation"):
                if cfg.get(key) == "hard_sigmoid":
                    cfg[key] = "hard_sigmoid_tf_keras"
        if "name" not in cfg and spec.get("name"):
            cfg["name"] = spec["name"]
        return construct(cls, cfg, self.where)

    # ---- models -------------------------------------------------------------------------
    def model(self, spec: dict):
        cls = spec.get("class_name")
        cfg = spec.get("config")
        if not isinstance(cfg, dict) or "layers" not in cfg:
            raise ModelFormatError(f"{self.where}: model config of class {cls!r} has no 'layers'")
        if cls == "Sequential":
            return self.sequential(cfg)
        return self.functional(cfg)

    def sequential(self, cfg: dict):
        from graphc.nn import InputLayer, Sequential

        layers = [self.layer(l) for l in cfg["layers"]]
        if not layers or not isinstance(layers[0], InputLayer):
            first = (cfg["layers"][0].get("config") or {}) if cfg["layers"] else {}
            shape = first.get("batch_input_shape") or first.get("batch_shape") or cfg.get("build_input_shape")
            if shape is None:
                raise ModelFormatError(f"{self.where}: Sequential model {cfg.get('name')!r} has no input shape")
            layers.insert(0, InputLayer(batch_shape=shape, dtype=first.get("dtype") if isinstance(
                first.get("dtype"), str) else "float32"))
        return Sequential(layers, name=cfg.get("name"))

    def functional(self, cfg: dict):
        from graphc.nn import InputLayer, Model

        specs = cfg["layers"]
        layers, outputs = {}, {}
        for spec in specs:
            name = spec.get("name") or (spec.get("config") or {}).get("name")
            layers[name] = self.layer(spec)
            if isinstance(layers[name], InputLayer):
                outputs[(name, 0)] = [layers[name].output]
        pending = [(spec.get("name") or spec["config"]["name"], i, node)
                   for spec in specs for i, node in enumerate(spec.get("inbound_nodes") or [])]
        while pending:
            left = []
            for name, i, node in pending:
                try:
                    args, kwargs = self._resolve(node, outputs, layers)
                except KeyError:
                    left.append((name, i, node))
                    continue
                try:
                    out = layers[name](*args, **kwargs)
                except GraphcError:
                    raise
                except (TypeError, ValueError, IndexError, KeyError) as e:
                    raise ModelFormatError(f"{self.where}: calling layer {name!r} "
                                           f"({type(layers[name]).__name__}) failed: {e}") from None
                outputs[(name, i)] = out if isinstance(out, list) else [out]
            if len(left) == len(pending):
                missing = sorted({str(e) for _, _, n in left for e in self._refs(n) if e not in layers})
                raise ModelFormatError(f"{self.where}: model {cfg.get('name')!r}: layer inputs cannot be "
                                       f"resolved ({', '.join(missing) or 'cyclic references'}); "
                                       f"layers named in inbound_nodes must exist in the config")
            pending = left

        def pick(refs):
            refs = refs if refs and isinstance(refs[0], list) else [refs]
            out = []
            for r in refs:
                key = (r[0], r[1] - self._builtin_nodes(layers.get(r[0]), True))
                if key not in outputs:
                    raise ModelFormatError(f"{self.where}: model output/input refers to missing layer {r[0]!r}")
                out.append(outputs[key][r[2]])
            return out

        ins, outs = pick(cfg["input_layers"]), pick(cfg["output_layers"])
        single_out = not (cfg["output_layers"] and isinstance(cfg["output_layers"][0], list))
        return Model(ins, outs[0] if single_out and len(outs) == 1 else outs, name=cfg.get("name"))

    def _builtin_nodes(self, layer, top: bool) -> int:
        """How many nodes a nested model owns before it is called: Keras counts the node a
        Functional makes for itself (Keras 2: every model; Keras 3: only in input/output_layers,
        and only for Functional)."""
        from graphc.nn import Model, Sequential

        if not isinstance(layer, Model):
            return 0
        if self.keras2:
            return 1
        return int(top and not isinstance(layer, Sequential))

    def _refs(self, node):
        if isinstance(node, dict):
            return [t["config"]["keras_history"][0] for t in _keras_tensors(node)]
        return [e[0] for e in _k2_entries(node) if not _is_constant(e)]

    def _resolve(self, node, outputs, layers):
        """(args, kwargs) of one call, with tensor references replaced by KerasTensors."""
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            conv = lambda x: _map_k3(x, outputs)
            args = [conv(a) for a in node.get("args", [])]
            kwargs = {k: conv(v) for k, v in (node.get("kwargs") or {}).items()}
        else:  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
            node = _k2_entries(node)
            tensors = [e[2] if _is_constant(e) else
                       outputs[(e[0], e[1] - self._builtin_nodes(layers.get(e[0]), False))][e[2]] for e in node]
            kwargs = {}
            for e in node:
                for k, v in (e[3] if len(e) > 3 and isinstance(e[3], dict) else {}).items():
                    kwargs[k] = _map_k2(v, outputs, lambda n: self._builtin_nodes(layers.get(n), False))
            args = [tensors[0] if len(tensors) == 1 else tensors]
        if kwargs.get("training") is None:  # an explicit training=True/False is kept: Keras honours it too
            kwargs.pop("training", None)
        if kwargs.get("mask") is None:
            kwargs.pop("mask", None)
        return args, kwargs


def _k2_entries(node) -> list:
    """A Keras 2 node's entries; tf-keras writes a TF function called on one tensor as the bare entry."""
    return [node] if node and isinstance(node[0], str) else node


def _is_constant(entry) -> bool:
    """tf-keras's stand-in for a constant first argument of a TF function: ["_CONSTANT_VALUE", -1, value]."""
    return entry[0] == "_CONSTANT_VALUE" and entry[1] == -1


def _keras_tensors(x):
    if isinstance(x, dict):
        if x.get("class_name") == "__keras_tensor__":
            return [x]
        return [t for v in x.values() for t in _keras_tensors(v)]
    if isinstance(x, list):
        return [t for v in x for t in _keras_tensors(v)]
    return []


def _map_k3(x, outputs):
    if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
        name, node, index = x["config"]["keras_history"]
        return outputs[(name, node)][index]
    if isinstance(x, dict) and x.get("class_name") == "__numpy__":  # a constant array argument
        return _numpy_constant(x.get("config"))
    if isinstance(x, list):
        return [_map_k3(e, outputs) for e in x]
    if isinstance(x, dict):
        return {k: _map_k3(v, outputs) for k, v in x.items()}
    return x


def _numpy_constant(cfg) -> np.ndarray:
    try:
        arr = np.asarray(cfg["value"], dtype=np.dtype(cfg.get("dtype") or "float32"))
    except (TypeError, ValueError, KeyError) as e:
        raise ModelFormatError(f"a constant argument ({str(cfg)[:80]}) is not a numeric array: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise ModelFormatError(f"a constant argument has dtype {arr.dtype}, not a number type")
    return arr


def _map_k2(x, outputs, builtin):
    if isinstance(x, list) and len(x) >= 3 and isinstance(x[0], str) and isinstance(x[1], int):
        return outputs[(x[0], x[1] - builtin(x[0]))][x[2]]
    if isinstance(x, list) and x and all(isinstance(e, list) for e in x):
        return [_map_k2(e, outputs, builtin) for e in x]
    return x
