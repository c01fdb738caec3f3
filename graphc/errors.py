"""The errors a user can cause. Every one names the file, layer or node and says what to do."""


class GraphcError(Exception):
    """Base class of every error graphc raises on purpose."""


class ModelFormatError(GraphcError):
    """A model file that cannot be read: wrong format, truncated, inconsistent, unsafe."""


class UnsupportedOpError(GraphcError):
    """An operator or layer graphc cannot translate, differentiate or lower."""


class ShapeError(GraphcError):
    """Types or shapes that do not fit together."""


class GraphError(GraphcError):
    """A graph that breaks the IR's invariants (cycle, unfed port, missing value)."""


class InputError(GraphcError):
    """Inputs given at run time that do not match what the model expects."""


class BackendError(GraphcError):
    """An execution back end that is missing or refused to run the model."""


class RegistryError(GraphcError, ValueError):
    """An op registry entry or gradient rule registered wrongly (unknown op, a second rule)."""
