"""`NeuralNetConfiguration` (the global settings), its `ListBuilder` and `MultiLayerConfiguration`.

    conf = (NeuralNetConfiguration.Builder().seed(123).learning_rate(0.1).updater(Updater.NESTEROVS)
            .regularization(True).l2(1e-4).list()
            .layer(0, DenseLayer.Builder().n_in(784).n_out(100).activation("relu").build())
            .layer(1, OutputLayer.Builder(LossFunction.MCXENT).n_out(10).activation("softmax").build())
            .build())

`build()` checks everything before any training and raises one ConfigError naming the layer and the
fix: a layer that is not a built layer configuration, gaps in the layer indices, a list(n) count
that is not met, settings a layer refuses (its `validate`: a loss that does not fit its activation),
an n_in that does not fit its input, a missing output layer (when backprop is on), TBPTT without a
recurrent layer or a time-series output, backprop(False) without pretrain(True) (nothing to train),
a line-search optimization algorithm under TBPTT (sequences train by SGD) or over dropout. The layers it holds are cascaded (every unset field from the globals) and carry
their n_in; the preprocessors DL4J inserts for `set_input_type` are listed by layer index.
"""
from __future__ import annotations

from graphc.dl4j.builder import Buildable, Builder, ConfigError, Field, int_keys
from graphc.dl4j.enums import (Activation, BackpropType, GradientNormalization, LearningRatePolicy,
                               OptimizationAlgorithm, Updater, WeightInit, activation_coercer,
                               backprop_type_coercer, gradient_normalization_coercer, lr_policy_coercer,
                               optimization_algo_coercer, updater_coercer, weight_init_coercer)
from graphc.dl4j.input_type import InputPreProcessor, InputType
from graphc.dl4j.layers.base import LayerConf


class NeuralNetConfiguration(Buildable):
    """The global settings, with DL4J's defaults (0.9: sigmoid, Xavier, SGD at 0.1, no regularization)."""

    FIELDS = {
        "seed": None, "iterations": 1, "mini_batch": True, "minimize": True,
        "optimization_algo": Field(OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT, optimization_algo_coercer),
        "max_num_line_search_iterations": 5,
        "learning_rate": 0.1, "bias_learning_rate": None, "updater": Field(Updater.SGD, updater_coercer),
        "momentum": None, "momentum_after": Field(None, int_keys), "rms_decay": None, "rho": None,
        "adam_mean_decay": None, "adam_var_decay": None, "epsilon": None,
        "learning_rate_policy": Field(LearningRatePolicy.NONE, lr_policy_coercer),
        "lr_policy_decay_rate": None, "lr_policy_steps": None, "lr_policy_power": None,
        "learning_rate_schedule": Field(None, int_keys),
        "weight_init": Field(WeightInit.XAVIER, weight_init_coercer), "dist": None, "bias_init": 0.0,
        "activation": Field(Activation.SIGMOID, activation_coercer),
        "regularization": False, "l1": 0.0, "l2": 0.0, "l1_bias": 0.0, "l2_bias": 0.0, "drop_out": 0.0,
        "gradient_normalization": Field(GradientNormalization.NONE, gradient_normalization_coercer),
        "gradient_normalization_threshold": 1.0,
    }

    class Builder(Builder):
        def learning_rate_decay_policy(self, policy):  # DL4J's setter name
            return self._set("learning_rate_policy", policy)

        def list(self, n_layers: int | None = None) -> "ListBuilder":
            return ListBuilder(self.build(), n_layers)

        def graph_builder(self):
            from graphc.dl4j.graph.builder import GraphBuilder

            return GraphBuilder(self.build())


class MultiLayerConfiguration(Buildable):
    FIELDS = {
        "conf": None, "layers": (), "input_type": None, "input_preprocessors": (),
        "backprop_type": Field(BackpropType.STANDARD, backprop_type_coercer),
        "tbptt_fwd_length": 20, "tbptt_back_length": 20, "pretrain": False, "backprop": True,
    }

    def preprocessor(self, i: int):
        """The preprocessor in front of layer `i`, or None."""
        return dict(self.input_preprocessors).get(int(i))

    def input_types(self) -> list[InputType]:
        """The InputType each layer receives (after its preprocessor)."""
        out, t = [], self.input_type
        for i, layer in enumerate(self.layers):
            pre = self.preprocessor(i)
            if pre is not None:
                t = pre.output_type(t)
            out.append(t)
            t = layer.output_type(t)
        return out

    def output_type(self) -> InputType:
        return self.layers[-1].output_type(self.input_types()[-1])

    @classmethod
    def from_json(cls, text: str) -> "MultiLayerConfiguration":
        conf = super().from_json(text)
        for i, layer in enumerate(conf.layers):
            layer.index = i
        return conf


class ListBuilder:
    """`NeuralNetConfiguration.Builder().list()`: the layers in order, then the network's settings."""

    def __init__(self, global_conf: NeuralNetConfiguration, n_layers: int | None = None):
        self.global_conf, self.n_layers = global_conf, n_layers
        self._layers: dict[int, object] = {}
        self._preprocessors: dict[int, InputPreProcessor] = {}
        self._settings = {}
        self._input_type = None

    def layer(self, index, layer=None) -> "ListBuilder":
        """`.layer(i, conf)` as DL4J, or `.layer(conf)` to append."""
        if layer is None:
            index, layer = len(self._layers), index
        self._layers[int(index)] = layer
        return self

    def set_input_type(self, input_type: InputType) -> "ListBuilder":
        if not isinstance(input_type, InputType):
            raise ConfigError(f"set_input_type takes an InputType (InputType.feed_forward(n), ...), got "
                              f"{input_type!r}")
        self._input_type = input_type
        return self

    def input_pre_processor(self, index: int, preprocessor: InputPreProcessor) -> "ListBuilder":
        self._preprocessors[int(index)] = preprocessor
        return self

    def _setting(key):
        def set_(self, value):
            self._settings[key] = value
            return self

        set_.__name__ = key
        return set_

    backprop_type = _setting("backprop_type")
    tbptt_forward_length = _setting("tbptt_fwd_length")
    tbptt_backward_length = _setting("tbptt_back_length")
    pretrain = _setting("pretrain")
    backprop = _setting("backprop")
    del _setting

    # ---- build --------------------------------------------------------------------------------
    def _checked_layers(self) -> list[LayerConf]:
        if not self._layers:
            raise ConfigError("the layer list is empty; add layers with .layer(i, DenseLayer(...)) before build()")
        indices = sorted(self._layers)
        if indices != list(range(len(indices))):
            missing = sorted(set(range(max(indices) + 1)) - set(indices))
            raise ConfigError(f"layer indices {indices} leave out {missing}; number the layers 0, 1, 2, ...")
        if self.n_layers is not None and int(self.n_layers) != len(indices):
            raise ConfigError(f".list({self.n_layers}) announced {self.n_layers} layers but {len(indices)} were "
                              f"given; give .list() no count or add the missing layers")
        out = []
        for i in indices:
            layer = self._layers[i]
            if isinstance(layer, Builder):
                raise ConfigError(f"layer {i} is a {type(layer).__qualname__}, not a layer configuration; "
                                  f"call .build() on it")
            if not isinstance(layer, LayerConf):
                raise ConfigError(f"layer {i} is a {type(layer).__name__}, not a DL4J layer configuration "
                                  f"(DenseLayer, OutputLayer, ConvolutionLayer, ...)")
            layer.index = i
            out.append(layer.cascade(self.global_conf, i))
        names = [l.name for l in out if l.name]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"layer names {twice} are given to more than one layer; give each layer its own name")
        return out

    def build(self) -> MultiLayerConfiguration:
        layers = self._checked_layers()
        for layer in layers:
            layer.validate()
        settings = dict(self._settings)
        first = layers[0]
        input_type = self._input_type or first.implied_input_type()
        preprocessors = dict(self._preprocessors)
        t = input_type
        for i, layer in enumerate(layers):
            pre = preprocessors.get(i) or layer.preprocessor(t)
            if pre is not None:
                preprocessors[i] = pre
                t = pre.output_type(t)
            layer.set_n_in(t)
            t = layer.output_type(t)
        backprop = settings.get("backprop", True)
        if backprop and not layers[-1].is_output:
            raise ConfigError(f"{layers[-1].describe()} is the last layer but not an output layer; end the list "
                              f"with an OutputLayer (or RnnOutputLayer) with a loss function")
        for layer in layers[:-1]:
            if layer.is_output:
                raise ConfigError(f"{layer.describe()} is an output layer but not the last; only the last layer "
                                  f"of a list has a loss")
        conf = MultiLayerConfiguration(conf=self.global_conf, layers=tuple(layers), input_type=input_type,
                                       input_preprocessors=tuple(sorted(preprocessors.items())), **settings)
        if conf.backprop_type is BackpropType.TRUNCATED_BPTT and not any(l.is_recurrent for l in layers):
            raise ConfigError("backprop_type(TRUNCATED_BPTT) needs a recurrent layer (GravesLSTM, LSTM, "
                              "SimpleRnn, ...); this network has none: use BackpropType.STANDARD")
        _check_training(conf)
        from graphc.dl4j.tbptt import check_recurrent_training

        check_recurrent_training(conf)
        for k in ("tbptt_fwd_length", "tbptt_back_length"):
            if int(getattr(conf, k)) < 1:
                raise ConfigError(f"{k} must be >= 1, got {getattr(conf, k)}")
        return conf


def _check_training(conf: MultiLayerConfiguration) -> None:
    """Refuse, at build(), training settings that `fit` would otherwise skip or replace silently."""
    from graphc.dl4j.input_type import RNN
    from graphc.dl4j.tbptt import trains_by_sequence

    algo = conf.conf.optimization_algo
    sgd = OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT
    if not conf.backprop and not conf.pretrain:
        raise ConfigError("backprop(False) with pretrain(False): fit would train nothing; set .backprop(True), "
                          "or .pretrain(True) to pretrain the layers and then train the output layer alone")
    if conf.backprop_type is BackpropType.TRUNCATED_BPTT and conf.output_type().kind != RNN:
        raise ConfigError(f"{conf.layers[-1].describe()}: backprop_type(TRUNCATED_BPTT) needs a time-series "
                          f"output (an RnnOutputLayer) but this network's output is {conf.output_type()}; end the "
                          f"list with an RnnOutputLayer or use BackpropType.STANDARD")
    if algo is not sgd and trains_by_sequence(conf):
        how = "backprop_type(TRUNCATED_BPTT)" if conf.backprop_type is BackpropType.TRUNCATED_BPTT else \
            "a recurrent network with a time-series output (trained by sequence)"
        raise ConfigError(f"optimization_algo({algo.name}) with {how}: sequences train with "
                          f"STOCHASTIC_GRADIENT_DESCENT only; set .optimization_algo("
                          f"OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT)")
    if algo is not sgd:
        for layer in conf.layers:
            p = getattr(layer, "dropout", None)
            if p is not None and 0 < p < 1:  # what LayerConf.dropout_layers turns into a Dropout layer
                raise ConfigError(f"{layer.describe()}: dropout {p} with optimization_algo({algo.name}): a line "
                                  f"search needs the same loss at every evaluation and dropout draws new masks; "
                                  f"remove the dropout or use STOCHASTIC_GRADIENT_DESCENT")


__all__ = ["ListBuilder", "MultiLayerConfiguration", "NeuralNetConfiguration"]
