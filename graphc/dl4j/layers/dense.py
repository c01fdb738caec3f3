"""DenseLayer and OutputLayer (a dense layer with a loss), as graphc.nn Dense layers.

DL4J's output layer checks (OutputLayerUtil) run at build(): MCXENT and NEGATIVELOGLIKELIHOOD want a
softmax output, XENT a sigmoid one; a softmax over a single output is refused.
"""
from __future__ import annotations

from graphc.dl4j.builder import ConfigError, Field
from graphc.dl4j.enums import Activation, LossFunction, loss_coercer
from graphc.dl4j.layers.base import FeedForwardLayerConf


class DenseLayer(FeedForwardLayerConf):
    FIELDS = {"has_bias": True}

    def to_nn(self, input_type):
        from graphc.nn import Dense

        act, extra = self.nn_activation()
        dense = Dense(int(self.n_out), activation=act, use_bias=bool(self.has_bias), name=self.nn_name(),
                      kernel_initializer=self.kernel_initializer(), bias_initializer=self.bias_initializer())
        return self.dropout_layers() + [dense] + ([extra] if extra is not None else [])

    def num_params(self, input_type):
        return int(self.n_in) * int(self.n_out) + (int(self.n_out) if self.has_bias else 0)


# loss -> the activations DL4J's OutputLayerUtil accepts with it
_WANTS = {LossFunction.MCXENT: (Activation.SOFTMAX,), LossFunction.NEGATIVELOGLIKELIHOOD: (Activation.SOFTMAX,),
          LossFunction.XENT: (Activation.SIGMOID,)}


def check_output(conf) -> None:
    """DL4J's OutputLayerUtil.validateOutputLayer: the loss must fit the activation."""
    loss, act = conf.loss_function, conf.activation
    if loss is None:
        raise ConfigError(f"{conf.describe()}: an output layer needs a loss function, e.g. "
                          f"OutputLayer.Builder(LossFunction.MCXENT)")
    wants = _WANTS.get(loss)
    if wants and act not in wants:
        raise ConfigError(f"{conf.describe()}: loss {loss.name} needs a {wants[0].name.lower()} output but the "
                          f"activation is {act.name if act else 'unset'}; use .activation("
                          f"{wants[0].name.lower()!r}) (DL4J's OutputLayerUtil check)")
    if act is Activation.SOFTMAX and conf.n_out is not None and int(conf.n_out) == 1:
        raise ConfigError(f"{conf.describe()}: a softmax over n_out=1 is always 1; use sigmoid with XENT for "
                          f"one output, or n_out >= 2")


class BaseOutputLayer(FeedForwardLayerConf):
    FIELDS = {"loss_function": Field(None, loss_coercer), "has_bias": True}
    POSITIONAL = ("loss_function",)
    is_output = True

    def validate(self):
        super().validate()
        check_output(self)


class OutputLayer(BaseOutputLayer, DenseLayer):
    pass


class LossLayer(BaseOutputLayer):
    """DL4J's LossLayer: the loss applied to the activation of its input (no parameters)."""
    INPUT_KIND = None

    def set_n_in(self, input_type):
        super().set_n_in(input_type)
        if self.n_out is None:
            self.n_out = self.n_in

    def output_type(self, input_type):
        return input_type

    def to_nn(self, input_type):
        from graphc.nn import Activation as Act

        act, extra = self.nn_activation()
        return [Act(act, name=self.nn_name())] + ([extra] if extra is not None else [])

    def num_params(self, input_type):
        return 0
