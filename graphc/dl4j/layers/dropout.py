"""DropoutLayer: DL4J's dropout on its own (keep each value with probability `dropout`)."""
from __future__ import annotations

from graphc.dl4j.layers.normalization import _SameShape


class DropoutLayer(_SameShape):
    POSITIONAL = ("dropout",)

    def to_nn(self, input_type):
        from graphc.nn import Identity

        return self.dropout_layers() or [Identity(name=self.nn_name())]
