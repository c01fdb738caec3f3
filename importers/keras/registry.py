"""Which graphc layer translates each Keras class, and user-registered translators."""
from __future__ import annotations

from graphc.errors import UnsupportedOpError

_CUSTOM: dict = {}


class LambdaLayerError(UnsupportedOpError):
    """A Keras `Lambda` layer: its Python code is never run, so it cannot be translated."""


def register_layer(class_name: str, translator) -> None:
    """Use `translator` for Keras layers of class `class_name`.

    `translator` is a `graphc.nn.Layer` subclass, built with the layer's config as keyword
    arguments, or a callable `translator(config) -> Layer`. It replaces any built-in translation,
    which is how a `Lambda` layer or a custom layer can be supplied.
    """
    _CUSTOM[class_name] = translator


def builtin_layers() -> dict:
    import graphc.nn as nn
    from graphc.nn.scaling import CustomScaleLayer, LayerScale

    layers = {name: cls for name, cls in vars(nn).items()
              if isinstance(cls, type) and issubclass(cls, nn.Layer) and cls is not nn.Layer}
    # classes keras.applications defines and registers under their bare names (ConvNeXt, InceptionResNetV2)
    layers.update(LayerScale=LayerScale, CustomScaleLayer=CustomScaleLayer)
    return layers


def supported() -> list[str]:
    return sorted(set(builtin_layers()) | set(_CUSTOM))


def construct(class_name: str, config: dict, where: str):
    """A layer of `class_name` built from `config`; refuses Lambda and unknown classes."""
    from graphc.nn import Layer

    name = config.get("name", "?")
    translator = _CUSTOM.get(class_name)
    if translator is None and class_name == "Lambda":
        raise LambdaLayerError(
            f"{where}: layer {name!r} is a Lambda layer; its Python code is never executed by graphc. "
            f"Register a translator for it: graphc.importers.keras.register_layer('Lambda', fn) where "
            f"fn(config) returns a graphc.nn layer (check config['name'] == {name!r})")
    if translator is None:
        translator = builtin_layers().get(class_name)
    if translator is None:
        raise UnsupportedOpError(
            f"{where}: layer {name!r} has class {class_name!r}, which graphc cannot translate. Supply one "
            f"with graphc.importers.keras.register_layer({class_name!r}, LayerClassOrFunction). "
            f"Supported classes: {', '.join(supported())}")
    try:
        layer = translator(**config) if isinstance(translator, type) and issubclass(translator, Layer) \
            else translator(config)
    except (TypeError, ValueError) as e:
        raise UnsupportedOpError(f"{where}: cannot build layer {name!r} ({class_name}) from its config: {e}") from None
    if not isinstance(layer, Layer):
        raise UnsupportedOpError(f"{where}: the translator for {class_name!r} returned {type(layer).__name__}, "
                                 f"not a graphc.nn.Layer")
    layer.keras_class = class_name  # Keras keys the layer's weight group by its own class, not graphc's
    return layer
