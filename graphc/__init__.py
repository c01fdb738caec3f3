"""graphc: a Keras-compatible model-translation and execution layer with a symbolic graph compiler."""
from graphc.errors import (BackendError, GraphcError, GraphError, InputError, ModelFormatError,
                           ShapeError, UnsupportedOpError)
from graphc.ir import TARGET_OPSET, Graph
from graphc.types import OpaqueType, TensorType

__version__ = "0.1.0"

__all__ = ["Graph", "TensorType", "OpaqueType", "TARGET_OPSET", "GraphcError", "GraphError",
           "InputError", "ModelFormatError", "ShapeError", "UnsupportedOpError", "BackendError"]
