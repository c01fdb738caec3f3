"""Putting weights from Keras files into graphc layers.

Keras 3 weight files (`model.weights.h5`, `.weights.h5`) key each layer by the snake_case class
name and a per-container counter (`layers/dense_1/vars/0`), nested wrappers and cells by attribute
(`forward_layer/cell/vars/0`); `Layer.sublayers()` gives those keys in Keras's walking order.
Legacy `.h5` files list each layer's weights by name in its `weight_names` attribute.
"""
from __future__ import annotations


from graphc.errors import ModelFormatError


def _read(ds, where, what):
    from graphc.importers.keras.h5safe import read_array

    return read_array(ds, where, what)


def load_keras3(model, root, where: str) -> None:
    """Fill `model` from a Keras 3 weights tree (`root` holds `layers/` and `vars/`)."""
    _load_group(model, root, where, "", set())


def _load_group(layer, group, where, path, visited):
    if id(layer) in visited:
        return  # a shared layer is stored once, at its first place
    visited.add(id(layer))
    if layer._weights:
        vars_ = group.get("vars") if group is not None else None
        n = len(vars_) if vars_ is not None else 0
        if n != len(layer._weights):
            raise ModelFormatError(f"{where}: layer {layer.name!r} ({type(layer).__name__}) expects "
                                   f"{len(layer._weights)} weights {[w.name for w in layer._weights]}, the file "
                                   f"has {n} at {path or '/'}vars")
        for i, w in enumerate(layer._weights):
            w.assign(_read(vars_[str(i)], where, f"{path}vars/{i}"), where)
    for key, sub in layer.sublayers():
        child = group.get(key) if group is not None else None
        if child is None and sub.weights:
            raise ModelFormatError(f"{where}: no weights for layer {sub.name!r} ({type(sub).__name__}) "
                                   f"at {path}{key} in the weights file")
        _load_group(sub, child, where, f"{path}{key}/", visited)


def load_legacy(model, group, where: str) -> None:
    """Fill `model` from a legacy `model_weights` group (one subgroup per top-level layer name)."""
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in group:
            raise ModelFormatError(f"{where}: no weights for layer {layer.name!r} in the file")
        g = group[layer.name]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
        try:
            named = [(n, _read(g[n], where, n)) for n in names]
        except KeyError as e:
            raise ModelFormatError(f"{where}: layer {layer.name!r} lists weight {e} which is missing") from None
        _assign_named(layer, named, where)


def _assign_named(layer, named, where):
    from graphc.nn import Model

    if isinstance(layer, Model):
        for inner in layer.layers:
            if not inner.weights:
                continue
            mine = [(n, a) for n, a in named if inner.name in n.split("/")[:-1]]
            _assign_named(inner, mine, where)
        return
    layer.set_weights([a for _, a in named], where)
