"""The Buildable/Builder mechanism behind every DL4J configuration object.

A `Buildable` subclass declares its fields in `FIELDS` ({name: default} or {name: Field(default,
coerce)}; a subclass's FIELDS add to its parents'). Both front doors make equal objects:

    DenseLayer(n_in=3, n_out=4, activation="tanh")
    DenseLayer.Builder().n_in(3).n_out(4).activation("tanh").build()

`X.Builder(*args)` takes DL4J's positional constructor arguments, named by `POSITIONAL` (or by an
override of `from_positional`). A setter given several arguments stores them as a tuple
(`.stride(1, 1)`); lists become tuples so that `==` and JSON round trips agree. Unknown keywords or
setters raise `ConfigError` naming the class and the field.

`to_dict()` writes plain JSON values with an `"@class"` key; enums by member name, nested Buildables
as their own dicts; `Buildable.from_dict` finds the class by that key among every Buildable defined;
`to_json()` / `X.from_json(text)` are the same as text (from_json checks it holds an X).
"""
from __future__ import annotations

import copy
import enum
import json

from graphc.errors import GraphcError


class ConfigError(GraphcError):
    """A DL4J configuration that cannot be built: unknown field, bad value, sizes that do not fit."""


class Field:
    """A declared field: its default and a function turning a given value into the stored one."""

    def __init__(self, default=None, coerce=None):
        self.default, self.coerce = default, coerce


_REGISTRY: dict[str, type] = {}


def _freeze(v):
    """Lists to tuples (recursively), so that a value compares the same before and after JSON."""
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(e) for e in v)
    if isinstance(v, dict):
        return {k: _freeze(e) for k, e in v.items()}
    return v


def to_json_value(v):
    if isinstance(v, Buildable):
        return v.to_dict()
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, (list, tuple)):
        return [to_json_value(e) for e in v]
    if isinstance(v, dict):
        return {str(k): to_json_value(e) for k, e in v.items()}
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return v.item()
    return v


def from_json_value(v):
    if isinstance(v, dict) and "@class" in v:
        return Buildable.from_dict(v)
    if isinstance(v, list):
        return [from_json_value(e) for e in v]
    if isinstance(v, dict):
        return {k: from_json_value(e) for k, e in v.items()}
    return v


class Builder:
    """The Java-style builder of one Buildable class (`target`): one setter per field, `build()`."""

    target: type = None

    def __init__(self, *args, **kwargs):
        self._values: dict = {}
        if args:
            self._values.update(self.target.from_positional(*args))
        for k, v in kwargs.items():
            self._set(k, v)

    def _set(self, key, value):
        if key not in self.target.fields():
            raise ConfigError(f"{self.target.__name__}.Builder has no setting {key!r}; known: "
                              f"{sorted(self.target.fields())}")
        self._values[key] = value
        return self

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        if key not in self.target.fields():
            raise ConfigError(f"{self.target.__name__}.Builder has no setting {key!r}; known: "
                              f"{sorted(self.target.fields())}")

        def setter(*args):
            if not args:
                raise ConfigError(f"{self.target.__name__}.Builder.{key}() needs a value")
            return self._set(key, args[0] if len(args) == 1 else tuple(args))

        return setter

    def build(self):
        return self.target(**self._values)


class Buildable:
    """A configuration object with declared fields and defaults; see the module docstring."""

    FIELDS: dict = {}
    POSITIONAL: tuple = ()
    _all_fields: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        merged = {}
        for base in reversed(cls.__mro__[1:]):
            merged.update(getattr(base, "_all_fields", {}))
        merged.update({k: v if isinstance(v, Field) else Field(v) for k, v in cls.__dict__.get("FIELDS", {}).items()})
        cls._all_fields = merged
        own = cls.__dict__.get("Builder")
        parent = next(getattr(b, "Builder") for b in cls.__mro__[1:] if hasattr(b, "Builder"))
        if own is not None and own is not parent:
            own.target = cls
        else:
            cls.Builder = type("Builder", (parent,), {"target": cls, "__qualname__": f"{cls.__name__}.Builder"})
        _REGISTRY[cls.__name__] = cls

    @classmethod
    def fields(cls) -> dict:
        return cls._all_fields

    @classmethod
    def from_positional(cls, *args) -> dict:
        """{field: value} from DL4J's positional builder arguments."""
        if len(args) > len(cls.POSITIONAL):
            raise ConfigError(f"{cls.__name__}.Builder takes at most {len(cls.POSITIONAL)} positional "
                              f"argument(s) {list(cls.POSITIONAL)}, got {len(args)}")
        return dict(zip(cls.POSITIONAL, args))

    def __init__(self, *args, **kwargs):
        if args:  # DL4J's positional arguments, as the Builder takes them
            kwargs = {**self.from_positional(*args), **kwargs}
        fields = self.fields()
        unknown = [k for k in kwargs if k not in fields]
        if unknown:
            raise ConfigError(f"{type(self).__name__} has no field(s) {unknown}; known: {sorted(fields)}")
        for k, f in fields.items():
            object.__setattr__(self, k, copy.deepcopy(f.default))
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __setattr__(self, key, value):
        f = self.fields().get(key)
        if f is not None and value is not None:
            if f.coerce is not None:
                try:
                    value = f.coerce(value)
                except ConfigError:
                    raise
                except (TypeError, ValueError, KeyError) as e:
                    raise ConfigError(f"{type(self).__name__}.{key} = {value!r}: {e}") from None
            value = _freeze(value)
        object.__setattr__(self, key, value)

    def values(self) -> dict:
        return {k: getattr(self, k) for k in self.fields()}

    def copy(self, **changes):
        out = copy.deepcopy(self)
        for k, v in changes.items():
            if k not in self.fields():
                raise ConfigError(f"{type(self).__name__} has no field {k!r}")
            setattr(out, k, v)
        return out

    def __eq__(self, other):
        return type(self) is type(other) and self.values() == other.values()

    def __hash__(self):
        return hash(type(self).__name__)

    def __repr__(self):
        shown = {k: v for k, v in self.values().items() if v is not None and v != self.fields()[k].default}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    # ---- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"@class": type(self).__name__, **{k: to_json_value(v) for k, v in self.values().items()}}

    def to_json(self, indent=2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str):
        """The object a `to_json` text holds; it must be a `cls`."""
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, TypeError) as e:
            raise ConfigError(f"{cls.__name__}.from_json: not JSON ({e})") from None
        obj = Buildable.from_dict(d)
        if not isinstance(obj, cls):
            raise ConfigError(f"{cls.__name__}.from_json: the JSON holds a {type(obj).__name__}")
        return obj

    @staticmethod
    def from_dict(d: dict) -> "Buildable":
        if not isinstance(d, dict) or "@class" not in d:
            raise ConfigError(f"not a DL4J configuration object (no '@class' key): {str(d)[:200]}")
        cls = _REGISTRY.get(d["@class"])
        if cls is None:
            raise ConfigError(f"unknown configuration class {d['@class']!r}; known: {sorted(_REGISTRY)}")
        return cls(**{k: from_json_value(v) for k, v in d.items() if k != "@class"})


Buildable.Builder = type("Builder", (Builder,), {"target": Buildable})


def enum_coercer(enum_cls, aliases=None):
    """A Field coercer accepting a member, its name or its value (case-insensitive)."""
    table = {}
    for m in enum_cls:
        table[m.name.lower()] = m
        table[str(m.value).lower()] = m
    table.update({k.lower(): v for k, v in (aliases or {}).items()})

    def coerce(v):
        if isinstance(v, enum_cls):
            return v
        key = str(getattr(v, "name", v)).split(".")[-1].lower()
        if key not in table:
            raise ConfigError(f"{v!r} is not a {enum_cls.__name__}; one of {[m.name for m in enum_cls]}")
        return table[key]

    return coerce


def int_keys(v):
    """A {iteration: value} map (JSON writes its keys as strings)."""
    return {int(k): float(x) for k, x in dict(v).items()}
