"""`ComputationGraph`: a ComputationGraphConfiguration compiled onto one functional graphc.nn Model
(several inputs and outputs) and the trainer that Keras-style `fit` and MultiLayerNetwork use.

`init()` makes one `nn.Input` per network input (DL4J's boundary layout, graphc/dl4j/input_type.py),
replays the vertices in topological order (each a few graphc.nn layers: graphc/dl4j/graph/vertices.py)
and compiles the model with one loss per output layer (multi-task: their sum, as DL4J adds the
output layers' scores) and the optimizer of graphc/dl4j/updater.py (updater, L1/L2 per layer,
gradient normalization). A LastTimeStepVertex that reads a network input's mask adds a model input
`<input>_mask` ([batch, time]); it is fed the MultiDataSet's features mask, or ones without one.

`fit(data)`: a DataSet (one input, one output), a `MultiDataSet`, (features, labels) arrays or
lists of them, or an iterator of those (one epoch); each mini-batch takes `iterations` steps.
`output(*xs)` is a list with one array per output; `rnn_time_step(*xs)` runs step by step, each
recurrent layer starting from the states the last call ended with. Listener, parameter and
iteration bookkeeping is MultiLayerNetwork's own code (the same methods, shared below), so both
networks count iterations, order `params()` and notify listeners alike; parameters are ordered by
layer in topological order.

A recurrent input whose type leaves the time length open (InputType.recurrent(n)) trains through the
ONNX Scan that infers any length (graphc/ops/scan.py differentiates it): one trainer for every
length while the labels have no time axis, one per label shape otherwise (a trainer's labels are
typed by their shape), each taking over the weights and the updater state of the one trained last
(tbptt.LengthTrainers keeps the last few); where a layer's Scan has no gradient rule, on a model
unrolled over each batch's lengths instead. A graph of one
recurrent input and one time-series output trains as a recurrent MultiLayerNetwork does: through
graphc/dl4j/tbptt.py's SequenceTrainer over this graph's stateful model of each segment length (the
whole sequence, or TBPTT's segments), features and labels masks included. Layer-wise pretraining
and the line-search algorithms are MultiLayerNetwork's: init() refuses them.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.dataset import DataSet, datasets, is_one_batch
from graphc.dl4j.enums import BackpropType, OptimizationAlgorithm
from graphc.dl4j.graph.builder import ComputationGraphConfiguration
from graphc.dl4j.graph.vertices import LayerVertex
from graphc.dl4j.input_type import as_boundary
from graphc.dl4j.multilayer import MultiLayerNetwork, _variable_names
from graphc.dl4j.network_common import fit_epochs, init_bookkeeping
from graphc.errors import InputError


class MultiDataSet:
    """Features and labels of one mini-batch of a multi-input/multi-output graph: lists of arrays
    in `add_inputs`/`set_outputs` order, with optional per-input/per-output masks ([batch, time])."""

    def __init__(self, features, labels=None, features_masks=None, labels_masks=None):
        self.features = [np.asarray(f) for f in _as_list(features)]
        self.labels = None if labels is None else [np.asarray(a, np.float32) for a in _as_list(labels)]
        self.features_masks = None if features_masks is None else \
            [None if m is None else np.asarray(m, np.float32) for m in _as_list(features_masks)]
        self.labels_masks = None if labels_masks is None else \
            [None if m is None else np.asarray(m, np.float32) for m in _as_list(labels_masks)]
        n = {len(a) for a in self.features + (self.labels or [])}
        if len(n) > 1:
            raise InputError(f"MultiDataSet: the arrays hold different numbers of samples {sorted(n)}; give one row "
                             f"per sample in each")

    @staticmethod
    def of(item) -> "MultiDataSet":
        """A MultiDataSet from a MultiDataSet, a DataSet, a graphc.data batch or (features, labels)."""
        if isinstance(item, MultiDataSet):
            return item
        if isinstance(item, DataSet):
            return MultiDataSet([item.features], None if item.labels is None else [item.labels],
                                None if item.features_mask is None else [item.features_mask],
                                None if item.labels_mask is None else [item.labels_mask])
        if hasattr(item, "features"):
            return MultiDataSet(item.features, getattr(item, "labels", None))
        if isinstance(item, (tuple, list)) and len(item) in (2, 3, 4):
            return MultiDataSet(*item)
        raise InputError(f"cannot read a mini-batch from {type(item).__name__}; give a MultiDataSet, a DataSet or "
                         f"(features, labels)")

    def num_examples(self) -> int:
        return len(self.features[0])

    def __len__(self):
        return self.num_examples()

    def __repr__(self):
        return (f"<MultiDataSet features={[list(a.shape) for a in self.features]} "
                f"labels={None if self.labels is None else [list(a.shape) for a in self.labels]}>")


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _one_or_list(arrays: list):
    """What graphc's Model takes for one input (output) or several."""
    return arrays[0] if len(arrays) == 1 else arrays


def _label_key(ys) -> tuple:
    """What a trainer's labels are typed by: their shapes past the batch axis."""
    return tuple(tuple(np.shape(y)[1:]) for y in ys)


def multi_datasets(data, labels=None):
    """The mini-batches of what `fit`/`evaluate` were given, as MultiDataSets."""
    return datasets(data, labels, of=MultiDataSet.of)


class ComputationGraph:
    def __init__(self, conf: ComputationGraphConfiguration):
        if isinstance(conf, str):
            conf = ComputationGraphConfiguration.from_json(conf)
        if not isinstance(conf, ComputationGraphConfiguration):
            raise ConfigError(f"ComputationGraph takes a ComputationGraphConfiguration (graph_builder()...build()), "
                              f"got {type(conf).__name__}")
        self.conf = conf
        self.layer_names = [n for n in conf.topological_order() if isinstance(conf.vertices[n], LayerVertex)]
        self.layers = [conf.vertices[n].layer for n in self.layer_names]
        init_bookkeeping(self)
        self.mask_inputs: list[str] = []

    # ---- building --------------------------------------------------------------------------------
    def init(self, params=None) -> "ComputationGraph":
        """Build and compile the graph (DL4J's init); `params`: a flat vector to start from."""
        from graphc import losses, nn
        from graphc.dl4j.updater import optimizer

        conf = self.conf
        g = conf.global_conf
        algo = getattr(g, "optimization_algo", OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT)
        if algo is not OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT:
            raise ConfigError(f"ComputationGraph trains with STOCHASTIC_GRADIENT_DESCENT; {algo.name} is built for "
                              f"MultiLayerNetwork: use optimization_algo(STOCHASTIC_GRADIENT_DESCENT)")
        if conf.pretrain or not conf.backprop:
            raise ConfigError("ComputationGraph trains with backprop (backprop(True), pretrain(False)); layer-wise "
                              "pretraining is built for MultiLayerNetwork")
        types = conf.types()
        self.mask_inputs = list(dict.fromkeys(i for v in conf.vertices.values() for i, what in v.network_reads()
                                              if what == "mask"))
        # every vertex's graphc.nn layers, made once: the models of each sequence length share them
        self._made = {n: _as_list(conf.vertices[n].to_nn(n, conf.vertex_input_types(n, types)))
                      for n in conf.topological_order()}
        from graphc.dl4j.tbptt import LengthTrainers

        self._models, self._trainers, self._stepper, self._unroll = {}, LengthTrainers(), None, False
        self.model = self._model_for(None)
        self._nn = [self._made[n] for n in self.layer_names]
        for n, layer in zip(self.layer_names, self.layers):
            if hasattr(layer, "after_build"):
                layer.after_build(self._made[n])
        # updater.py finds a parameter's layer by the layer's index: the place it was added (build())
        by_index = sorted(self.layers, key=lambda l: l.index)
        if [l.index for l in by_index] != list(range(len(by_index))):
            raise ConfigError("ComputationGraph: the layers' indices are not 0..n-1; build the configuration with "
                              "graph_builder().build() or ComputationGraphConfiguration.from_json")
        names = _variable_names(self.model)
        self.owners = {names[id(w.value)]: layer.index for layer, made in zip(self.layers, self._nn)
                       for l in made for w in l.weights}
        mini_batch = getattr(g, "mini_batch", True)
        self._losses = [self.output_layer(o).nn_loss() if hasattr(self.output_layer(o), "nn_loss") else
                        losses.get(self.output_layer(o).loss_function,
                                   reduction="sum_over_batch_size" if mini_batch else "sum")
                        for o in conf.network_outputs]
        trainable = {n: i for n, i in self.owners.items() if self._is_trainable(n)}
        self._optimizer = optimizer(g, by_index, trainable) if g is not None else "sgd"
        self.model.compile(optimizer=self._optimizer, loss=self._losses)
        self._active = self.model
        if conf.backprop_type is BackpropType.TRUNCATED_BPTT or self.trains_by_sequence():
            self._sequence_trainer = (self.model, self._make_sequence_trainer())
        if params is not None:
            self.set_params(params)
        return self

    def _model_for(self, steps, stateful: bool = False, masked: bool = False, fresh: bool = False):
        """The functional Model over the vertices' layers, with the time length of each recurrent
        input whose type leaves it open taken from `steps` (None: open, an ONNX Scan that infers any
        length; a length: unrolled, what training runs). `stateful`:
        every recurrent input's length from `steps` and every recurrent layer taking its initial
        states as extra inputs and giving its final states as extra outputs (`rnn_time_step`, the
        SequenceTrainer); `masked`: a features mask input ([batch, time], bool) before the states,
        handed to every recurrent layer (tbptt.py's stateful_model has the same inputs). The open
        models are kept here (`fresh`: a new one, for a trainer of its own); an unrolled one by the
        trainer of its length (LengthTrainers, bounded)."""
        from graphc import nn
        from graphc.dl4j.tbptt import call_stateful

        if not fresh and (steps, stateful, masked) in self._models:
            return self._models[steps, stateful, masked]
        conf = self.conf
        types = dict(zip(conf.network_inputs, conf.input_types))
        open_ = iter(steps or ())
        shapes = {n: t.array_shape()[:-1] + (next(open_) if steps else None,)
                  if t.kind == "RNN" and (stateful or steps and t.time_series_length is None) else t.array_shape()
                  for n, t in types.items()}
        tensors = {n: nn.Input(shape=shapes[n], name=n) for n in conf.network_inputs}
        masks = {n: nn.Input(shape=(shapes[n][-1],), name=f"{n}_mask") for n in self.mask_inputs}
        held = nn.Input((steps[0] if steps else None,), dtype="bool", name="features_mask") if masked else None
        states, finals = [], []
        for name, layers in self._made.items():
            v = conf.vertices[name]
            reads = [masks[i] if what == "mask" else tensors[i] for i, what in v.network_reads()]
            x = [tensors[i] for i in conf.vertex_inputs[name]] + reads
            x = x[0] if len(x) == 1 else x
            for layer in layers:
                x = call_stateful(layer, x, states, finals, held) if stateful else layer(x)
            tensors[name] = x
        inputs = [tensors[n] for n in conf.network_inputs] + [masks[n] for n in self.mask_inputs] + \
            ([held] if masked else []) + states
        model = nn.Model(inputs, [tensors[o] for o in conf.network_outputs] + finals, name="computation_graph")
        if steps is None and not fresh:
            self._models[steps, stateful, masked] = model
        return model

    def trains_by_sequence(self) -> bool:
        """One recurrent input and one time-series output (no LastTimeStepVertex mask): such a graph
        trains as a recurrent MultiLayerNetwork does, through tbptt.py's SequenceTrainer (masks, TBPTT)."""
        conf = self.conf
        return [t.kind for t in conf.input_types] == ["RNN"] and not self.mask_inputs and \
            [conf.types()[o].kind for o in conf.network_outputs] == ["RNN"]

    def _make_sequence_trainer(self):
        """graphc/dl4j/tbptt.py's SequenceTrainer over this graph's stateful model of each segment
        length (the whole sequence without TBPTT)."""
        from types import SimpleNamespace

        from graphc.dl4j.tbptt import SequenceTrainer, check_recurrent_training

        conf = self.conf
        check_recurrent_training(SimpleNamespace(layers=self.layers, backprop_type=conf.backprop_type,
                                                 tbptt_back_length=conf.tbptt_back_length,
                                                 tbptt_fwd_length=conf.tbptt_fwd_length))
        if not self.trains_by_sequence():
            kinds = [t.kind for t in conf.input_types]
            outs = [conf.types()[o].kind for o in conf.network_outputs]
            raise ConfigError(f"truncated BPTT on a ComputationGraph takes one recurrent input and one time-series "
                              f"output (RnnOutputLayer), without LastTimeStepVertex masks; this graph has inputs "
                              f"{kinds} and outputs {outs}: use BackpropType.STANDARD")
        tbptt = conf.backprop_type is BackpropType.TRUNCATED_BPTT
        out = self.output_layer(conf.network_outputs[0])
        return SequenceTrainer([l for made in self._made.values() for l in made], conf.input_types[0].size,
                               self._losses[0], self._optimizer, int(conf.tbptt_fwd_length) if tbptt else None,
                               seed=int(getattr(conf.global_conf, "seed", None) or 0), name="ComputationGraph",
                               labels_to_nn=out.labels_to_nn,
                               model_for=lambda steps, masked: self._model_for((steps,), True, masked),
                               param_names=self.owners, scan=conf.input_types[0].time_series_length is None)

    def _open_steps(self, xs) -> tuple | None:
        """The time lengths of this batch's recurrent inputs whose type leaves the length open."""
        steps = tuple(int(x.shape[-1]) for x, t in zip(xs, self.conf.input_types)
                      if t.kind == "RNN" and t.time_series_length is None)
        return steps or None

    def _training_model(self, xs, ys):
        """The model that trains on this batch: the network's own (over a Scan where a length is
        open) or, for other label shapes, a model of its own over the same layers; the one trained
        last hands it the weights and updater state. Unrolled over the batch's lengths where a
        layer's Scan has no gradient rule."""
        from graphc.errors import UnsupportedOpError
        from graphc.training import front

        steps = self._open_steps(xs)

        def build(model):
            if model.__dict__.get("_training") is None:
                model.compile(optimizer=self._optimizer, loss=self._losses)
            return front.trainer(model, ys)

        own = self.model.__dict__.get("_training")
        if self._trainers.active is None and own is not None and own.trainer is not None:
            # the network model's trainer (a restored updater state) hands over to the first one asked for
            self._trainers.get(_label_key(own.trainer.labels_example), lambda: own.trainer)
        if steps is not None and self._unroll:
            t = self._trainers.get(("unrolled", steps), lambda: build(self._model_for(steps)))
        else:
            fresh = own is not None and own.trainer is not None
            try:
                t = self._trainers.get(_label_key(ys), lambda: build(self._model_for(None, fresh=fresh)))
            except UnsupportedOpError:
                if steps is None:
                    raise
                self._unroll = True
                return self._training_model(xs, ys)
        self._active = t.model
        return self._active

    def _sync(self) -> None:
        """Write the newest weights (held by the trainer of the length trained last) into the layers."""
        from graphc.training.front import sync

        if self.model is not None:
            sync(self._active)

    def _weights(self) -> list:
        self._sync()
        return MultiLayerNetwork._weights(self)

    def output_layer(self, name: str):
        return self.conf.vertices[name].layer

    # one piece of code with MultiLayerNetwork: listeners, iterations, parameters
    _need_init = MultiLayerNetwork._need_init
    _is_trainable = MultiLayerNetwork._is_trainable
    set_listeners = MultiLayerNetwork.set_listeners
    add_listeners = MultiLayerNetwork.add_listeners
    _notify = MultiLayerNetwork._notify
    record_iteration = MultiLayerNetwork.record_iteration
    params = MultiLayerNetwork.params
    num_params = MultiLayerNetwork.num_params
    set_params = MultiLayerNetwork.set_params

    # ---- data ----------------------------------------------------------------------------------------
    def batch_arrays(self, mds: MultiDataSet):
        """(model inputs, labels or None) of a MultiDataSet in the graphc.nn model's layout."""
        conf = self.conf
        if len(mds.features) != len(conf.network_inputs):
            raise InputError(f"ComputationGraph: {len(mds.features)} feature arrays for the inputs "
                             f"{list(conf.network_inputs)}; give one per input, in add_inputs order")
        xs = [as_boundary(np.asarray(f, np.float32), t, f"ComputationGraph input {n!r}")
              for f, t, n in zip(mds.features, conf.input_types, conf.network_inputs)]
        given = dict(zip(conf.network_inputs, mds.features_masks or []))
        for name in self.mask_inputs:
            x = xs[conf.network_inputs.index(name)]
            m = given.get(name)
            if m is None:
                m = np.ones((len(x), x.shape[-1]), np.float32)  # no mask: every step counts
            elif m.shape != (len(x), x.shape[-1]):
                raise InputError(f"ComputationGraph: the mask of input {name!r} has shape {list(m.shape)}; give "
                                 f"[batch, time] = {[len(x), x.shape[-1]]}")
            xs.append(np.asarray(m, np.float32))
        if mds.labels is None:
            return xs, None
        if len(mds.labels) != len(conf.network_outputs):
            raise InputError(f"ComputationGraph: {len(mds.labels)} label arrays for the outputs "
                             f"{list(conf.network_outputs)}; give one per output, in set_outputs order")
        if any(m is not None for m in mds.labels_masks or []) and "_sequence_trainer" not in self.__dict__:
            raise InputError("ComputationGraph: label masks are taken by graphs of one recurrent input and one "
                             "time-series output; this graph has others: drop the masked steps from the labels")
        ys = [self.output_layer(o).labels_to_nn(y) for o, y in zip(conf.network_outputs, mds.labels)]
        return xs, ys

    # ---- training ------------------------------------------------------------------------------------
    def fit(self, data, labels=None, num_epochs: int = 1) -> "ComputationGraph":
        self._need_init()
        one_batch = is_one_batch(data, labels)  # a graphc.data BatchIterator has .features too
        return fit_epochs(self, one_batch, lambda: multi_datasets(data, labels), num_epochs)

    def _fit_batch(self, mds: MultiDataSet) -> None:
        xs, ys = self.batch_arrays(mds)
        if ys is None:
            raise InputError("fit: the mini-batch has no labels; give MultiDataSet(features, labels)")
        self.last_batch_size = mds.num_examples()
        iterations = int(getattr(self.conf.global_conf, "iterations", 1) or 1)
        if "_sequence_trainer" in self.__dict__:  # a train step per segment (the whole sequence: one)
            first = (lambda ms: None if not ms else ms[0])
            for loss in self._sequence_trainer[1].fit(xs[0], mds.labels[0], first(mds.labels_masks),
                                                      first(mds.features_masks), iterations):
                self.record_iteration(float(loss))
            return
        for _ in range(iterations):
            model = self._training_model(xs, ys)
            self.record_iteration(float(model.train_on_batch(_one_or_list(xs), _one_or_list(ys))))

    # ---- inference -----------------------------------------------------------------------------------
    def output(self, *xs, train: bool = False) -> list:
        """One array per output for the features of each input (DL4J layout); `train` applies dropout."""
        self._need_init()
        if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
            xs = tuple(xs[0])
        inputs, _ = self.batch_arrays(MultiDataSet(list(xs)))
        self._sync()
        if not train:
            out = self.model.predict(_one_or_list(inputs))
        else:
            from graphc import backends

            out = backends.compile(self.model.build_graph(training=True), opt_level="O1")(*inputs)
        out = out if isinstance(out, list) else [out]
        return [self.output_layer(o).output_from_nn(a) for o, a in zip(self.conf.network_outputs, out)]

    # ---- recurrent state -----------------------------------------------------------------------------
    def rnn_time_step(self, *xs) -> list:
        """DL4J's rnnTimeStep: the outputs for the next step(s), each recurrent layer starting from the
        states the previous call ended with (zeros after `rnn_clear_previous_state`). A recurrent input
        is [batch, size] (one step: the outputs come without a time axis) or [batch, size, time]."""
        from graphc.dl4j.tbptt import Stepper, check_steppable

        self._need_init()
        if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
            xs = tuple(xs[0])
        if self._stepper is None:
            check_steppable(self.layers)
            self._stepper = Stepper([l for made in self._made.values() for l in made], name="ComputationGraph",
                                    model_for=lambda: self._model_for(None, stateful=True),
                                    n_outputs=len(self.conf.network_outputs))
        rnn = [t.kind == "RNN" for t in self.conf.input_types]
        one_step = any(r and np.ndim(x) == 2 for x, r in zip(xs, rnn))
        xs = [np.asarray(x, np.float32)[:, :, None] if r and np.ndim(x) == 2 else x for x, r in zip(xs, rnn)]
        inputs, _ = self.batch_arrays(MultiDataSet(list(xs)))
        self._sync()
        outs = self._stepper.run(inputs)
        ys = [self.output_layer(o).output_from_nn(a) for o, a in zip(self.conf.network_outputs, outs)]
        return [y[:, :, 0] if one_step and y.ndim == 3 else y for y in ys]

    def rnn_clear_previous_state(self) -> None:
        if self._stepper is not None:
            self._stepper.clear()

    _stepper = None

    def output_single(self, *xs) -> np.ndarray:
        return self.output(*xs)[0]

    def score(self, data=None) -> float:
        """The last mini-batch's score, or the loss (summed over the outputs) on `data` in inference mode."""
        if data is None:
            return self._score
        self._need_init()
        mds = MultiDataSet.of(data)
        xs, ys = self.batch_arrays(mds)
        self._sync()
        return float(self.model.evaluate(_one_or_list(xs), _one_or_list(ys), batch_size=max(1, mds.num_examples())))

    def evaluate(self, data, labels=None, output: int = 0):
        """A `graphc.evaluation.Evaluation` of output `output` (by index or name) over the data; a
        time-series output's labels mask drops steps (graphc/dl4j/network_common.py)."""
        from graphc.dl4j.network_common import evaluate

        k = output if isinstance(output, int) else list(self.conf.network_outputs).index(output)
        return evaluate((self.output(mds.features)[k], mds.labels[k], mds.labels_masks[k] if mds.labels_masks else None)
                        for mds in multi_datasets(data, labels))

    # ---- inspection ----------------------------------------------------------------------------------
    def get_layer(self, name: str):
        """The (cascaded) configuration of the layer vertex `name`."""
        v = self.conf.vertices.get(name)
        if not isinstance(v, LayerVertex):
            raise ConfigError(f"no layer named {name!r}; layers: {self.layer_names}")
        return v.layer

    def get_nn_layers(self, name: str) -> list:
        self._need_init()
        return list(self._nn[self.layer_names.index(name)])

    def summary(self) -> str:
        from graphc.dl4j.network_common import table

        self._need_init()
        conf = self.conf
        types = conf.types()
        rows = [("Vertex (type)", "Inputs", "n_in", "n_out", "Params", "Output")]
        for n, t in zip(conf.network_inputs, conf.input_types):
            rows.append((f"{n} (input)", "-", "-", "-", "0", str(t)))
        for n in conf.topological_order():
            v = conf.vertices[n]
            kind = type(v.layer if isinstance(v, LayerVertex) else v).__name__
            params = sum(w.value.size for l in self._nn[self.layer_names.index(n)] for w in l.weights) \
                if isinstance(v, LayerVertex) else 0
            rows.append((f"{n} ({kind})", ", ".join(conf.vertex_inputs[n]),
                         str(v.layer.n_in) if isinstance(v, LayerVertex) else "-",
                         str(v.layer.n_out) if isinstance(v, LayerVertex) else "-", f"{params:,}", str(types[n])))
        return table(rows, f"Total parameters: {self.num_params():,}   Outputs: {', '.join(conf.network_outputs)}")
