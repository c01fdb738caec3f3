"""graphc: a Keras-compatible model-translation and execution layer with a symbolic graph compiler."""
from graphc.errors import (BackendError, GraphcError, GraphError, InputError, ModelFormatError,
                           ShapeError, UnsupportedOpError)
from graphc.ir import TARGET_OPSET, Graph
from graphc.types import OpaqueType, TensorType
from graphc.version import __version__


_SUBPACKAGES = ("backends", "nn", "losses", "optimizers", "callbacks", "data", "evaluation", "autodiff",
                "gradcheck")


def __getattr__(name):  # the facade loads importers and runtime only when first used
    if name in ("load", "compile", "export", "optimize", "serve", "export_triton_repo"):
        from graphc import api

        return getattr(api, name)
    if name == "GraphModel":
        from graphc.model import GraphModel

        return GraphModel
    if name == "spark":  # the Spark runtime, reading model files with the facade's load
        from graphc import api
        from graphc.runtime import spark

        spark.use_loader(api.load)
        return spark
    if name in _SUBPACKAGES:  # graphc.optimizers.Adam(...) without importing graphc.optimizers first
        import importlib

        return importlib.import_module(f"graphc.{name}")
    raise AttributeError(f"module 'graphc' has no attribute {name!r}")


__all__ = ["Graph", "TensorType", "OpaqueType", "TARGET_OPSET", "GraphcError", "GraphError",
           "InputError", "ModelFormatError", "ShapeError", "UnsupportedOpError", "BackendError",
           "load", "compile", "export", "optimize", "serve", "export_triton_repo", "GraphModel", "spark", *_SUBPACKAGES]
