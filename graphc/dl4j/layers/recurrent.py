"""DL4J's recurrent layers: GravesLSTM, LSTM, GravesBidirectionalLSTM, SimpleRnn, RnnOutputLayer.

Data crosses them in DL4J's layout [batch, size, time]; inside, `SequenceBlock` turns it into the
[batch, time, features] of graphc.nn's recurrent layers and back. A block called with
`initial_state` (one (batch, n_out) array per state: h, c for an LSTM) also returns its final
states: that is how truncated BPTT and `rnn_time_step` carry state (graphc/dl4j/tbptt.py).

GravesLSTM is graphc.nn's GravesLSTM (peepholes, DL4J's weight layout); LSTM the same cell without
peepholes; GravesBidirectionalLSTM adds a forward and a backward GravesLSTM's outputs, as DL4J does.
RnnOutputLayer is a dense layer on every step with its loss summed over the steps (a label mask
[batch, time] drops steps) and divided by the number of sequences, DL4J's score for time series;
its graphc.nn output is [batch, time, n_out] (the classes last, for graphc's losses), converted at
the network's boundary.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import ConfigError, Field
from graphc.dl4j.activations import nn_activation
from graphc.dl4j.enums import Activation, activation_coercer, initializer, weight_init_coercer
from graphc.dl4j.input_type import RNN, InputType
from graphc.dl4j.layers.base import FeedForwardLayerConf
from graphc.dl4j.layers.dense import BaseOutputLayer
from graphc.losses.base import Loss, cast
from graphc.nn.base import Layer


class SequenceBlock(Layer):
    """A graphc.nn recurrent layer (return_sequences and return_state on) over [batch, size, time]."""

    call_args = ("inputs", "initial_state", "mask", "training")

    def __init__(self, rnn, **kwargs):
        super().__init__(**kwargs)
        self.rnn = rnn

    def sublayers(self):
        return [("rnn", self.rnn)]

    @property
    def state_sizes(self) -> list[int]:
        """One size per state the block carries, in the order `initial_state` takes them."""
        inner = getattr(self.rnn, "forward_layer", self.rnn)
        n = inner.cell.n_states * (2 if inner is not self.rnn else 1)
        return [inner.units] * n

    def call(self, em, x, mask=None, initial_state=None):
        kwargs = {} if initial_state is None else {"initial_state": list(initial_state)}
        outs, _ = self.rnn.emit(em, [em.transpose(x, [0, 2, 1])], kwargs, [mask])
        y = em.transpose(outs[0], [0, 2, 1])
        return y if initial_state is None else [y] + outs[1:]

    def compute_mask(self, em, x, mask):
        return None


class BaseRecurrentLayer(FeedForwardLayerConf):
    FIELDS = {"weight_init_recurrent": Field(None, weight_init_coercer)}
    INPUT_KIND = RNN
    is_recurrent = True
    bidirectional = False

    def output_type(self, input_type):
        return InputType.recurrent(self.n_out, input_type.time_series_length)

    def cell_activation(self) -> str:
        act, extra = nn_activation(self.activation or Activation.TANH, self.describe())
        if extra is not None:
            raise ConfigError(f"{self.describe()}: activation {self.activation.name} has no form inside a recurrent "
                              f"cell; use tanh, sigmoid, relu, softsign, ...")
        return act

    def nn_rnn(self):
        raise NotImplementedError

    def rnn_initializers(self) -> dict:
        """Keras initializers for the input and recurrent weights (differently seeded) and the bias."""
        return dict(kernel_initializer=self.kernel_initializer(), recurrent_initializer=self.recurrent_initializer(),
                    bias_initializer=self.bias_initializer())

    def recurrent_initializer(self):
        rec_seed = None if self.seed is None else int(self.seed) + 1
        return initializer(self.weight_init_recurrent or self.weight_init, self.dist, rec_seed, self.describe())

    def to_nn(self, input_type):
        return self.dropout_layers() + [SequenceBlock(_name_cells(self.nn_rnn()), name=self.nn_name())]


def _name_cells(rnn):
    """Each cell named after its layer. graphc.nn names every cell of a class alike and a graph tells
    their Variables apart by a counter of its own, so a second model over the same layers (the
    stateful one of graphc/dl4j/tbptt.py) would name them otherwise than the network's model, whose
    names key the per-layer L1/L2, gradient normalization and saved updater state."""
    from graphc.nn.names import NAMES

    for layer in (rnn.forward_layer, rnn.backward_layer) if hasattr(rnn, "forward_layer") else (rnn,):
        layer.cell.name = f"{layer.name}_cell"
        NAMES.hold(layer.cell, layer.cell.name)
    return rnn


class GravesLSTM(BaseRecurrentLayer):
    """DL4J's initialization: both weights drawn with fan_in = n_out and fan_out = n_in + n_out
    (GravesLSTMParamInitializer), the bias zero but the forget gate's (`forget_gate_bias_init`)."""
    FIELDS = {"forget_gate_bias_init": 1.0, "gate_activation_function": Field(Activation.SIGMOID, activation_coercer)}
    peepholes = True

    def _dl4j_fans(self, init, shape):
        """`init` rescaled so that, drawn for `shape`, it has the variance DL4J's fans give."""
        from graphc.nn.initializers import VarianceScaling

        if not isinstance(init, VarianceScaling):
            return init
        u, n = int(self.n_out), int(self.n_in)
        fan = lambda fan_in, fan_out: {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[init.mode]
        return VarianceScaling(init.scale * fan(*shape) / fan(u, n + u), init.mode, init.distribution, seed=init.seed)

    def rnn_initializers(self):
        from graphc.nn.initializers import Zeros

        u = int(self.n_out)
        return dict(kernel_initializer=self._dl4j_fans(self.kernel_initializer(), (int(self.n_in), 4 * u)),
                    recurrent_initializer=self._dl4j_fans(self.recurrent_initializer(),
                                                          (u, 4 * u + 3 * self.peepholes)),
                    bias_initializer=Zeros())

    def nn_rnn(self, go_backwards=False, suffix="_lstm"):
        from graphc.nn.graves_lstm import GravesLSTM as NNGravesLSTM

        gate, _ = nn_activation(self.gate_activation_function, self.describe())
        return NNGravesLSTM(int(self.n_out), activation=self.cell_activation(), recurrent_activation=gate,
                            forget_gate_bias_init=float(self.forget_gate_bias_init), peepholes=self.peepholes,
                            return_sequences=True, return_state=True, go_backwards=go_backwards,
                            name=self.nn_name(suffix), **self.rnn_initializers())

    def num_params(self, input_type):
        u = int(self.n_out)
        return int(self.n_in) * 4 * u + u * (4 * u + 3 * self.peepholes) + 4 * u


class LSTM(GravesLSTM):
    """DL4J's LSTM: Graves' cell without the peephole connections."""
    peepholes = False


class GravesBidirectionalLSTM(GravesLSTM):
    """A forward and a backward GravesLSTM over the sequence, their outputs added (DL4J's rule)."""
    bidirectional = True

    def nn_rnn(self):
        from graphc.nn import Bidirectional

        return Bidirectional(super().nn_rnn(suffix="_forward"), merge_mode="sum",
                             backward_layer=super().nn_rnn(go_backwards=True, suffix="_backward"),
                             name=self.nn_name("_bidirectional"))

    def num_params(self, input_type):
        return 2 * super().num_params(input_type)


class SimpleRnn(BaseRecurrentLayer):
    """out_t = act(x_t W + out_{t-1} R + b)."""

    def nn_rnn(self):
        from graphc.nn import SimpleRNN

        return SimpleRNN(int(self.n_out), activation=self.cell_activation(), return_sequences=True,
                         return_state=True, name=self.nn_name("_rnn"), **self.rnn_initializers())

    def num_params(self, input_type):
        u = int(self.n_out)
        return int(self.n_in) * u + u * u + u


class RnnOutputLayer(BaseOutputLayer):
    """A dense layer on every step. Inside, its graphc.nn output is [batch, time, n_out] (the class
    axis last, as graphc's losses want it); `labels_to_nn`/`output_from_nn` convert DL4J's
    [batch, n_out, time] at the boundary."""
    INPUT_KIND = RNN

    def output_type(self, input_type):
        return InputType.recurrent(self.n_out, input_type.time_series_length)

    def to_nn(self, input_type):
        from graphc.dl4j.input_type import Relayout
        from graphc.nn import Dense

        act, extra = self.nn_activation()
        dense = Dense(int(self.n_out), activation=act, use_bias=bool(self.has_bias), name=self.nn_name(),
                      kernel_initializer=self.kernel_initializer(), bias_initializer=self.bias_initializer())
        return self.dropout_layers() + [Relayout(perm=[0, 2, 1]), dense] + ([extra] if extra is not None else [])

    def labels_to_nn(self, labels):
        return np.ascontiguousarray(np.asarray(labels).transpose(0, 2, 1))

    def output_from_nn(self, output):
        return np.ascontiguousarray(np.asarray(output).transpose(0, 2, 1))

    def nn_loss(self, mini_batch: bool = True):
        from graphc import losses

        return TimeSeriesLoss(losses.get(self.loss_function), divide=mini_batch)

    def num_params(self, input_type):
        return int(self.n_in) * int(self.n_out) + (int(self.n_out) if self.has_bias else 0)


class TimeSeriesLoss(Loss):
    """`inner`'s loss of each step of [batch, time, n] labels and predictions, summed over the steps
    (weighted by sample weights of shape (batch,) or (batch, time): a label mask) and, with `divide`
    (DL4J's mini_batch), divided by the batch size: DL4J's score of a time-series output."""

    def __init__(self, inner: Loss, divide: bool = True):
        super().__init__(reduction="sum", name=f"{inner.name}_time_series")
        self.inner, self.divide = inner, bool(divide)

    def per_sample(self, em, y_true, y_pred):
        return self.inner.per_sample(em, y_true, y_pred)

    def __call__(self, em, y_true, y_pred, sample_weight=None, mask=None, class_weight=None):
        y_true, y_pred = self.inner._check(em, y_true, y_pred)
        losses = self.per_sample(em, y_true, y_pred)
        for w in (sample_weight, mask):
            if w is not None:
                w = cast(em, w, np.float32)
                losses = em.op("Mul", losses, em.unsqueeze(w, [1]) if em.rank(w) == 1 else w)
        total = em.reduce("ReduceSum", losses, [0, 1], keepdims=False)
        if not self.divide:
            return total
        batch = em.op("Cast", em.reshape(em.slice(em.op("Shape", y_pred), [0], [1], [0]), []), to=1)
        return em.op("Div", total, batch)
