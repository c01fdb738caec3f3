"""`LayerConf`: what every DL4J layer configuration holds and does.

Fields left None are "unset": `cascade(global_conf)` fills them from the NeuralNetConfiguration
globals (a layer's own setting wins; l1/l2 count only under `.regularization(True)`, as in DL4J).
`set_n_in(input_type)` infers n_in; `output_type` says what the layer hands on; `to_nn(input_type)`
gives the graphc.nn layers (Keras-configured) that compute it, in the DL4J layout of
graphc/dl4j/input_type.py. L1/L2, the updater and gradient normalization are not part of those
layers: MultiLayerNetwork gives them to the optimizer per parameter, from these fields.

DL4J's dropout is a retain probability applied to the layer's input (`dropout_layers`).
"""
from __future__ import annotations

from graphc.dl4j.builder import Buildable, ConfigError, Field
from graphc.dl4j.activations import nn_activation
from graphc.dl4j.enums import (activation_coercer, gradient_normalization_coercer, initializer, updater_coercer,
                               weight_init_coercer)
from graphc.dl4j.input_type import CNN, FF, RNN, InputType, preprocessor_for

# layer field -> NeuralNetConfiguration field it cascades from
CASCADED = {"activation": "activation", "weight_init": "weight_init", "dist": "dist", "bias_init": "bias_init",
            "learning_rate": "learning_rate", "bias_learning_rate": "bias_learning_rate", "l1": "l1", "l2": "l2",
            "l1_bias": "l1_bias", "l2_bias": "l2_bias", "updater": "updater", "momentum": "momentum",
            "dropout": "drop_out", "gradient_normalization": "gradient_normalization",
            "gradient_normalization_threshold": "gradient_normalization_threshold", "seed": "seed"}
REGULARIZATION = ("l1", "l2", "l1_bias", "l2_bias")


class LayerConf(Buildable):
    FIELDS = {
        "name": None, "n_in": None, "n_out": None,
        "activation": Field(None, activation_coercer), "weight_init": Field(None, weight_init_coercer),
        "dist": None, "bias_init": None, "learning_rate": None, "bias_learning_rate": None,
        "l1": None, "l2": None, "l1_bias": None, "l2_bias": None,
        "updater": Field(None, updater_coercer), "momentum": None, "dropout": None,
        "gradient_normalization": Field(None, gradient_normalization_coercer),
        "gradient_normalization_threshold": None, "seed": None,
    }
    is_output = False
    is_recurrent = False
    is_pretrainable = False
    INPUT_KIND: str | None = FF  # the kind of input it takes (FF, CNN, RNN; None: any)
    index: int | None = None     # its place in the list, set by ListBuilder.layer

    def describe(self) -> str:
        where = f"layer {self.index}" if self.index is not None else "layer"
        return f"{where}{f' {self.name!r}' if self.name else ''} ({type(self).__name__})"

    # ---- the contract -------------------------------------------------------------------------
    def cascade(self, global_conf, index: int | None = None) -> "LayerConf":
        """A copy with every unset field taken from `global_conf`; `index` (the layer's place) makes
        the seed of its initializers differ from its neighbours'."""
        out = self.copy()
        out.index = self.index if index is None else index
        for mine, theirs in CASCADED.items():
            if mine in self.fields() and getattr(out, mine) is None and hasattr(global_conf, theirs):
                setattr(out, mine, getattr(global_conf, theirs))
        if not getattr(global_conf, "regularization", True):
            for k in REGULARIZATION:
                if k in self.fields():
                    setattr(out, k, 0.0)
        if out.seed is not None and out.index is not None:
            out.seed = int(out.seed) + 1009 * (out.index + 1)
        return out

    def preprocessor(self, input_type: InputType):
        """The preprocessor DL4J would put in front of this layer for `input_type` (or None)."""
        return preprocessor_for(input_type, self.INPUT_KIND, self.describe())

    def implied_input_type(self) -> InputType:
        """The network input a first layer implies when no InputType is given: what its n_in says."""
        if self.n_in is None:
            raise ConfigError(f"{self.describe()}: n_in is not set and the network has no input type; give "
                              f".n_in(size) or .set_input_type(InputType.feed_forward(size)) (or "
                              f"InputType.convolutional_flat(h, w, c) for images)")
        if self.INPUT_KIND == RNN:
            return InputType.recurrent(self.n_in)
        if self.INPUT_KIND == CNN:
            raise ConfigError(f"{self.describe()}: a convolution needs the image size; add "
                              f".set_input_type(InputType.convolutional(h, w, c)) or "
                              f"ConvolutionLayerSetup(builder, h, w, c)")
        return InputType.feed_forward(self.n_in)

    def set_n_in(self, input_type: InputType) -> None:
        size = input_type.n_features()
        if self.n_in is None:
            self.n_in = size
        elif int(self.n_in) != size:
            raise ConfigError(f"{self.describe()}: n_in is {self.n_in} but its input has {size} "
                              f"({input_type}); set n_in({size}) or leave it out to infer it")

    def output_type(self, input_type: InputType) -> InputType:
        return InputType.feed_forward(self.n_out)

    def to_nn(self, input_type: InputType) -> list:
        raise NotImplementedError(f"{type(self).__name__}.to_nn")

    # an output layer whose graphc.nn output is laid out otherwise than DL4J's (a recurrent one:
    # [batch, time, n] inside, [batch, n, time] outside) converts labels and predictions here
    def labels_to_nn(self, labels):
        return labels

    def output_from_nn(self, output):
        return output

    def num_params(self, input_type: InputType) -> int:
        """How many parameters `to_nn` makes (0 for a parameter-free layer)."""
        return 0

    def validate(self) -> None:
        """Refuse settings that cannot work, at build() (subclasses add theirs)."""
        if self.n_out is not None and int(self.n_out) <= 0:
            raise ConfigError(f"{self.describe()}: n_out must be positive, got {self.n_out}")

    # ---- helpers for to_nn --------------------------------------------------------------------
    def kernel_initializer(self):
        return initializer(self.weight_init, self.dist, self.seed, self.describe())

    def bias_initializer(self):
        from graphc.nn.initializers import Constant

        return Constant(float(self.bias_init or 0.0))

    def nn_activation(self):
        """(graphc.nn activation name, extra layer or None)."""
        return nn_activation(self.activation, self.describe())

    def dropout_layers(self) -> list:
        """DL4J's dropout: keep each input with probability `dropout` (0 or 1: no dropout)."""
        from graphc.nn import Dropout

        p = self.dropout
        if p is None or p <= 0 or p >= 1:
            return []
        return [Dropout(rate=1.0 - float(p), seed=self.seed)]

    def nn_name(self, suffix: str = "") -> str | None:
        """A graphc.nn layer name for this layer (None: graphc.nn picks one)."""
        return f"{self.name}{suffix}" if self.name else None


class FeedForwardLayerConf(LayerConf):
    """A layer with a [n_in, n_out] weight and a bias (Dense, Output, AutoEncoder, RBM, ...)."""

    def num_params(self, input_type):
        return int(self.n_in) * int(self.n_out) + int(self.n_out)

    def validate(self):
        super().validate()
        if self.n_out is None:
            raise ConfigError(f"{self.describe()}: n_out is not set; give .n_out(size)")
