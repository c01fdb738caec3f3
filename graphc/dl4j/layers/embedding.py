"""EmbeddingLayer: a [batch, 1] column of class indices (0 .. n_in - 1) -> [batch, n_out] rows of a
trained table, then the activation (DL4J's EmbeddingLayer; mathematically a dense layer on one-hot
input, without building the one-hot). `has_bias` adds DL4J's bias."""
from __future__ import annotations

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.input_type import InputType, Relayout
from graphc.dl4j.layers.base import FeedForwardLayerConf
from graphc.nn.base import Layer


class Bias(Layer):
    def __init__(self, units, bias_initializer=None, **kwargs):
        super().__init__(bias_initializer=bias_initializer, **kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.bias = self.add_weight("bias", (self.units,), "zeros")

    def call(self, em, x, mask=None):
        return em.op("Add", x, em.weight(self.bias))


class EmbeddingLayer(FeedForwardLayerConf):
    FIELDS = {"has_bias": False}

    def implied_input_type(self):
        if self.n_in is None:
            raise ConfigError(f"{self.describe()}: n_in (the number of classes) is not set; give .n_in(n)")
        return InputType.feed_forward(1)

    def set_n_in(self, input_type):
        if input_type.flat_size() != 1:
            raise ConfigError(f"{self.describe()}: takes one class index per sample ([batch, 1]) but receives "
                              f"{input_type}")
        if self.n_in is None:
            raise ConfigError(f"{self.describe()}: n_in (the number of classes) is not set; give .n_in(n)")

    def num_params(self, input_type):
        return int(self.n_in) * int(self.n_out) + (int(self.n_out) if self.has_bias else 0)

    def to_nn(self, input_type):
        from graphc.nn import Activation, Embedding

        act, extra = self.nn_activation()
        out = [Embedding(int(self.n_in), int(self.n_out), name=self.nn_name(),
                         embeddings_initializer=self.kernel_initializer()), Relayout(shape=[int(self.n_out)])]
        if self.has_bias:
            out.append(Bias(self.n_out, bias_initializer=self.bias_initializer()))
        if act != "linear":
            out.append(Activation(act))
        return out + ([extra] if extra is not None else [])
