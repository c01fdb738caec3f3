"""`InputType` (what flows between layers), DL4J's input preprocessors, `ConvolutionLayerSetup`.

DL4J's data layouts hold at the network's boundary and between layers:
- feed_forward(n): [batch, n];
- recurrent(n, T): [batch, n, time] (graphc.nn's recurrent layers are [batch, time, features]: a
  recurrent layer converts inside its own `to_nn`);
- convolutional(h, w, c): NCHW [batch, c, h, w] (the conv layers run channels_first);
- convolutional_flat(h, w, c): [batch, h*w*c], a flattened image (MNIST rows), reshaped in `c, h, w`
  order as DL4J's FeedForwardToCnnPreProcessor does.

A preprocessor sits in front of a layer whose kind of input differs from what arrives
(`preprocessor_for`); ListBuilder.build() inserts them as DL4J's `setInputType` does.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import Buildable, ConfigError
from graphc.errors import InputError
from graphc.nn.base import Layer

FF, RNN, CNN, CNN_FLAT = "FF", "RNN", "CNN", "CNNFlat"


class InputType(Buildable):
    FIELDS = {"kind": FF, "size": None, "time_series_length": None, "height": None, "width": None,
              "channels": None}

    @staticmethod
    def feed_forward(size):
        return InputType(kind=FF, size=int(size))

    @staticmethod
    def recurrent(size, time_series_length=None):
        return InputType(kind=RNN, size=int(size),
                         time_series_length=None if time_series_length is None else int(time_series_length))

    @staticmethod
    def convolutional(height, width, channels):
        return InputType(kind=CNN, height=int(height), width=int(width), channels=int(channels))

    @staticmethod
    def convolutional_flat(height, width, channels):
        return InputType(kind=CNN_FLAT, height=int(height), width=int(width), channels=int(channels))

    def flat_size(self) -> int:
        """The number of values of one sample (one time step for recurrent data)."""
        if self.kind in (FF, RNN):
            return int(self.size)
        return int(self.height * self.width * self.channels)

    def n_features(self) -> int:
        """The n_in a layer fed this type has: the size, or a convolution's channels."""
        return int(self.channels) if self.kind == CNN else self.flat_size()

    def array_shape(self) -> tuple:
        """One sample's shape at the network boundary (None: any length)."""
        if self.kind == FF or self.kind == CNN_FLAT:
            return (self.flat_size(),)
        if self.kind == RNN:
            return (int(self.size), self.time_series_length)
        return (int(self.channels), int(self.height), int(self.width))

    def __str__(self):
        if self.kind == FF:
            return f"InputType.feed_forward({self.size})"
        if self.kind == RNN:
            return f"InputType.recurrent({self.size}, {self.time_series_length})"
        fn = "convolutional" if self.kind == CNN else "convolutional_flat"
        return f"InputType.{fn}({self.height}, {self.width}, {self.channels})"


# ---- the graphc.nn layers that change layouts ---------------------------------------------------
class Relayout(Layer):
    """Transpose (`perm`, batch axis included, staying first) then reshape to `shape` (past the batch)."""

    def __init__(self, perm=None, shape=None, **kwargs):
        super().__init__(**kwargs)
        self.perm = None if perm is None else [int(p) for p in perm]
        self.shape = None if shape is None else [int(d) for d in shape]

    def call(self, em, x, mask=None):
        if self.perm is not None:
            x = em.transpose(x, self.perm)
        if self.shape is not None:
            x = em.reshape(x, [0] + self.shape)  # 0: the batch dimension as it is
        return x


class TimeFlatten(Layer):
    """[batch, size, time] -> [batch * time, size] (DL4J's RnnToFeedForwardPreProcessor)."""

    def call(self, em, x, mask=None):
        size = em.shape(x)[1]
        return em.reshape(em.transpose(x, [0, 2, 1]), [-1, int(size)])


class InputPreProcessor(Buildable):
    def to_nn(self) -> list:
        raise NotImplementedError

    def output_type(self, input_type: InputType) -> InputType:
        raise NotImplementedError


class CnnToFeedForwardPreProcessor(InputPreProcessor):
    FIELDS = {"input_height": None, "input_width": None, "num_channels": None}
    POSITIONAL = ("input_height", "input_width", "num_channels")

    def to_nn(self):
        return [Relayout(shape=[self.input_height * self.input_width * self.num_channels])]

    def output_type(self, input_type):
        return InputType.feed_forward(self.input_height * self.input_width * self.num_channels)


class FeedForwardToCnnPreProcessor(InputPreProcessor):
    FIELDS = {"input_height": None, "input_width": None, "num_channels": 1}
    POSITIONAL = ("input_height", "input_width", "num_channels")

    def to_nn(self):
        return [Relayout(shape=[self.num_channels, self.input_height, self.input_width])]

    def output_type(self, input_type):
        return InputType.convolutional(self.input_height, self.input_width, self.num_channels)


class RnnToFeedForwardPreProcessor(InputPreProcessor):
    def to_nn(self):
        return [TimeFlatten()]

    def output_type(self, input_type):
        return InputType.feed_forward(input_type.size)


class CnnToRnnPreProcessor(InputPreProcessor):
    """NCHW [batch, c, h, w] as a [batch, c*h, w] sequence: the image's columns are the time steps."""
    FIELDS = {"input_height": None, "input_width": None, "num_channels": None}
    POSITIONAL = ("input_height", "input_width", "num_channels")

    def to_nn(self):
        return [Relayout(shape=[self.num_channels * self.input_height, self.input_width])]

    def output_type(self, input_type):
        return InputType.recurrent(self.num_channels * self.input_height, self.input_width)


def preprocessor_for(input_type: InputType, kind: str | None, where: str = ""):
    """The preprocessor that turns `input_type` into a layer's `kind` of input (FF, CNN, RNN; None:
    any), or None when none is needed."""
    have = input_type.kind
    if kind is None or have == kind:
        return None
    if kind == FF:
        if have in (CNN,):
            return CnnToFeedForwardPreProcessor(input_type.height, input_type.width, input_type.channels)
        if have == CNN_FLAT:
            return None  # already flat
        if have == RNN:
            return RnnToFeedForwardPreProcessor()
    if kind == CNN and have == CNN_FLAT:
        return FeedForwardToCnnPreProcessor(input_type.height, input_type.width, input_type.channels)
    if kind == RNN and have == CNN:
        return CnnToRnnPreProcessor(input_type.height, input_type.width, input_type.channels)
    wants = {FF: "feed-forward", CNN: "convolutional", RNN: "recurrent"}[kind]
    raise ConfigError(f"{where}: takes {wants} input but receives {input_type}; put a layer or preprocessor "
                      f"between them that produces {wants} data, or set the right InputType")


class ConvolutionLayerSetup:
    """DL4J's `new ConvolutionLayerSetup(builder, h, w, c)`: the list's input is a flattened
    h x w x c image, every n_in inferred (= `builder.set_input_type(InputType.convolutional_flat(h, w, c))`)."""

    def __init__(self, builder, height, width, channels):
        builder.set_input_type(InputType.convolutional_flat(height, width, channels))
        self.builder = builder


def as_boundary(x: np.ndarray, input_type: InputType | None, where: str = "") -> np.ndarray:
    """Check a feature array against the network's input type (sizes past the batch)."""
    if input_type is None:
        return x
    want = input_type.array_shape()
    got = tuple(x.shape[1:])
    if input_type.kind == CNN_FLAT and got == (input_type.channels, input_type.height, input_type.width):
        return x.reshape(len(x), -1)  # an NCHW batch given to a flat-image network
    if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
        raise InputError(f"{where}: features of shape {list(x.shape)} do not fit the input type {input_type} "
                          f"(per sample {list(want)})")
    return x
