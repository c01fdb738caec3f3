"""What initializers, regularizers and constraints share: a Keras config, its serialized form
(`{"module", "class_name", "config", "registered_name"}`), and lookup by class name or alias."""
from __future__ import annotations

import inspect


class KerasObject:
    """Configured by keyword; `get_config` returns the constructor's parameters as Keras names them."""

    module = "keras"

    def get_config(self) -> dict:
        params = inspect.signature(type(self).__init__).parameters
        return {k: getattr(self, k) for k, p in params.items()
                if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    def serialize(self) -> dict:
        return {"module": self.module, "class_name": type(self).__name__, "config": self.get_config(),
                "registered_name": None, **getattr(self, "_extra_keys", {})}

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self).__name__)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Opaque(KerasObject):
    """A class graphc does not know (a custom registered one): its serialized form is kept as it
    is, and using it raises `error` with `what` to do."""

    def __init__(self, spec: dict, kind: str):
        self.spec, self.kind = spec, kind

    def get_config(self) -> dict:
        return dict(self.spec.get("config") or {})

    def serialize(self) -> dict:
        return dict(self.spec)

    def refuse(self, key: str = ""):
        from graphc.errors import UnsupportedOpError

        raise UnsupportedOpError(f"{self.kind} {self.spec.get('class_name')!r}{f' ({key})' if key else ''} is "
                                 f"not one graphc implements; replace it with a built-in one to train")


def lookup(value, classes: dict, aliases: dict, kind: str):
    """An object for `value`: None, an instance, a name ('he_normal', 'HeNormal') or a serialized
    dict (Keras 3 or Keras 2 layout). Unknown classes or config keys in a dict stay `Opaque` (an
    import never fails on what only training uses); unknown names fail."""
    if value is None or isinstance(value, KerasObject):
        return value
    if isinstance(value, str):
        cls = aliases.get(value) or classes.get(value)
        if cls is None:
            raise ValueError(f"unknown {kind} {value!r}; known: {', '.join(sorted(aliases))}")
        return cls()
    if isinstance(value, dict) and "class_name" in value:
        cls = classes.get(value["class_name"]) or aliases.get(value["class_name"])
        cfg = dict(value.get("config") or {})
        if cls is None:
            return Opaque(value, kind)
        params = inspect.signature(cls.__init__).parameters
        if any(k not in params or params[k].kind is params[k].VAR_KEYWORD for k in cfg):
            return Opaque(value, kind)  # a newer Keras's option: kept, refused when used
        obj = cls(**cfg)
        # what else Keras wrote beside the config (`shared_object_id`) comes back in serialize()
        obj._extra_keys = {k: v for k, v in value.items() if k not in ("module", "class_name", "config",
                                                                        "registered_name")}
        return obj
    raise ValueError(f"a {kind} must be a name, a config dict or an object, not {value!r}")


def classes_in(namespace: dict, base) -> dict:
    return {n: c for n, c in namespace.items() if isinstance(c, type) and issubclass(c, base) and c is not base}
