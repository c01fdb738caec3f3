"""`MultiLayerNetwork`: a MultiLayerConfiguration compiled onto one graphc.nn model and its trainer.

`init()` turns each (cascaded) layer configuration into graphc.nn layers (`to_nn`, preprocessors in
front where the configuration lists them), builds one functional Model over DL4J's boundary layout
(graphc/dl4j/input_type.py) and compiles it with the output layer's loss and the optimizer of
graphc/dl4j/updater.py (updater, schedules, per-layer L1/L2, gradient normalization). Everything
trains through `Model.train_on_batch`, the trainer shared with Keras-style `fit`: no second engine.

`fit(data)`: a DataSet or (features, labels) arrays (one mini-batch), or an iterator of
DataSets/batches (one epoch: epoch listeners are called, `epoch_count` grows); each mini-batch takes
`iterations` steps (DL4J's `.iterations(n)`), and listeners see each one. A one-shot iterator (a
generator, `iter(list)`) that is read more than once (pretraining then training, several epochs) is
first kept in a list.
With `.pretrain(True)` layer-wise pretraining runs first (graphc/dl4j/pretrain.py); with
`.backprop(False)` only the output layer is then trained, as DL4J does; TRUNCATED_BPTT fits through
graphc/dl4j/tbptt.py; the line-search optimization algorithms through graphc/dl4j/optimize.

`score()` is DL4J's score of the last mini-batch as the train step computed it (before its update):
the data loss plus the L1/L2 penalty (`regularization_score`), which DL4J's BaseOutputLayer.computeScore
divides by the mini-batch size as it does the summed loss (under `.mini_batch(True)`, the default).
`score(ds)` is the same of a DataSet in inference mode. A line-search fit reports its objective, whose
penalty is not divided (graphc/dl4j/optimize); a time-series output's scores are the data loss alone.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.conf import MultiLayerConfiguration
from graphc.dl4j.dataset import DataSet, datasets, is_one_batch
from graphc.dl4j.enums import BackpropType, OptimizationAlgorithm
from graphc.dl4j.input_type import as_boundary
from graphc.dl4j.network_common import fit_epochs, init_bookkeeping
from graphc.errors import InputError


class MultiLayerNetwork:
    def __init__(self, conf: MultiLayerConfiguration):
        if not isinstance(conf, MultiLayerConfiguration):
            raise ConfigError(f"MultiLayerNetwork takes a MultiLayerConfiguration (ListBuilder.build()), got "
                              f"{type(conf).__name__}")
        self.conf = conf
        self.layers = list(conf.layers)
        init_bookkeeping(self)
        self._objective = None
        self.expected_iterations = None  # the iteration count the running fit ends at, when known

    # ---- building ----------------------------------------------------------------------------
    def init(self, params=None) -> "MultiLayerNetwork":
        """Build and compile the network (DL4J's init); `params`: a flat vector to start from."""
        from graphc import losses, nn
        from graphc.dl4j.updater import optimizer

        conf = self.conf
        types = conf.input_types()
        inp = nn.Input(shape=conf.input_type.array_shape(), name="input")
        x = inp
        self._nn, self._outputs, self._activations = [], [], None
        for i, (layer, t) in enumerate(zip(self.layers, types)):
            pre = conf.preprocessor(i)
            made = (pre.to_nn() if pre is not None else []) + list(layer.to_nn(t))
            for l in made:
                x = l(x)
            self._outputs.append(x)
            if hasattr(layer, "after_build"):
                layer.after_build(made)
            self._nn.append(made)
        self.model = nn.Model(inp, x, name="multi_layer_network")
        names = _variable_names(self.model)
        self.owners = {names[id(w.value)]: i for i, made in enumerate(self._nn) for l in made for w in l.weights}
        self._named = {names[id(w.value)]: w for made in self._nn for l in made for w in l.weights}
        last = self.layers[-1]
        if last.is_output:
            loss = last.nn_loss(conf.conf.mini_batch) if hasattr(last, "nn_loss") else \
                losses.get(last.loss_function, reduction="sum_over_batch_size" if conf.conf.mini_batch else "sum")
            trainable = {n: i for n, i in self.owners.items() if self._is_trainable(n)}
            self.model.compile(optimizer=optimizer(conf.conf, self.layers, trainable), loss=loss)
        if params is not None:
            self.set_params(params)
        return self

    def _is_trainable(self, var_name) -> bool:
        g = self.model.graph
        return var_name in g and g.attrs(var_name).get("trainable", True)

    def _need_init(self):
        if self.model is None:
            raise ConfigError("the network is not initialized: call net.init() first")

    # ---- listeners ------------------------------------------------------------------------------
    def set_listeners(self, *listeners) -> None:
        if len(listeners) == 1 and isinstance(listeners[0], (list, tuple)):
            listeners = tuple(listeners[0])
        self.listeners = list(listeners)

    def add_listeners(self, *listeners) -> None:
        self.listeners += list(listeners)

    def _notify(self, event, *args):
        for l in self.listeners:
            getattr(l, event)(self, *args)

    # ---- training ---------------------------------------------------------------------------------
    def fit(self, data, labels=None, num_epochs: int = 1) -> "MultiLayerNetwork":
        self._need_init()
        conf = self.conf
        if labels is None and not is_one_batch(data) and (conf.pretrain or int(num_epochs) > 1) and \
                hasattr(data, "__next__") and not hasattr(data, "reset"):
            # a one-shot iterator (a generator, iter(list)) is read more than once here: pretraining reads
            # it, then training (and each epoch); the small DataSets are kept once in a list
            data = list(datasets(data))
        if conf.pretrain:
            self.pretrain(data if labels is None else DataSet(data, labels))
        if not conf.backprop:
            if conf.pretrain and self.layers[-1].is_output:
                from graphc.dl4j.pretrain import fit_output_layer

                fit_output_layer(self, data if labels is None else DataSet(data, labels), num_epochs)
            return self
        one_batch = is_one_batch(data, labels)
        # what a PerformanceListener's ETA counts to: known for a sized iterator under SGD
        per_batch = int(conf.conf.iterations) if conf.backprop_type is not BackpropType.TRUNCATED_BPTT else None
        size = 1 if one_batch else (len(data) if hasattr(data, "__len__") else None)
        self.expected_iterations = None if per_batch is None or size is None else \
            self.iteration_count + int(num_epochs) * size * per_batch
        return fit_epochs(self, one_batch, lambda: datasets(data, labels), num_epochs)

    def _fit_batch(self, ds: DataSet) -> None:
        if ds.labels is None:
            raise InputError("fit: the mini-batch has no labels; give DataSet(features, labels)")
        self.last_batch_size = ds.num_examples()
        from graphc.dl4j.tbptt import fit_tbptt, trains_by_sequence

        if trains_by_sequence(self.conf):  # TBPTT, or recurrent layers under a time-series output
            fit_tbptt(self, ds)  # records its own iterations
            return
        if self.conf.conf.optimization_algo is not OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT:
            self._fit_line_search(ds)
            return
        x, y, sw = self.batch_arrays(ds)
        for _ in range(int(self.conf.conf.iterations)):
            penalty = self._penalty(len(x))  # of the weights this step's loss is computed with
            self.record_iteration(float(self.model.train_on_batch(x, y, sample_weight=sw)) + penalty)

    def record_iteration(self, score: float) -> None:
        """One iteration done with `score`: count it and tell the listeners (TBPTT's segments too)."""
        self._score = score
        self.iteration_count += 1  # counted first: a checkpoint written by a listener holds this iteration
        self._notify("iteration_done", self.iteration_count - 1, self.epoch_count)

    def batch_arrays(self, ds: DataSet):
        """(features, labels, sample weights) of a DataSet in the graphc.nn model's layout."""
        x = as_boundary(ds.features, self.conf.input_type, "MultiLayerNetwork")
        y = self.layers[-1].labels_to_nn(ds.labels) if ds.labels is not None else None
        sw = ds.labels_mask if ds.labels_mask is not None and ds.labels_mask.ndim == 1 else None
        return x, y, sw

    def _fit_line_search(self, ds):
        from graphc.dl4j.optimize import optimize_model

        x, y, _ = self.batch_arrays(ds)
        cfg = self.model._training
        result, self._objective = optimize_model(
            self.model, cfg.losses[0], x, y, self.conf.conf.optimization_algo,
            max_iterations=int(self.conf.conf.iterations), regularization=cfg.optimizer.regularization,
            objective=self._objective, max_evaluations=int(self.conf.conf.max_num_line_search_iterations))
        for f in result.losses[1:] or [result.fun]:
            self.record_iteration(float(f))

    def pretrain(self, data) -> None:
        """Layer-wise unsupervised pretraining of the pretrainable layers (AutoEncoder, RBM)."""
        from graphc.dl4j.pretrain import pretrain

        self._need_init()
        pretrain(self, data)

    # ---- recurrent state (graphc/dl4j/tbptt.py) ------------------------------------------------------
    def rnn_time_step(self, x):
        from graphc.dl4j.tbptt import rnn_time_step

        self._need_init()
        return rnn_time_step(self, x)

    def rnn_clear_previous_state(self) -> None:
        from graphc.dl4j.tbptt import rnn_clear_previous_state

        rnn_clear_previous_state(self)

    def rnn_get_previous_state(self, layer: int) -> dict:
        from graphc.dl4j.tbptt import rnn_get_previous_state

        self._need_init()
        return rnn_get_previous_state(self, layer)

    def rnn_set_previous_state(self, layer: int, state: dict) -> None:
        from graphc.dl4j.tbptt import rnn_set_previous_state

        self._need_init()
        rnn_set_previous_state(self, layer, state)

    # ---- inference ------------------------------------------------------------------------------------
    def output(self, x, train: bool = False) -> np.ndarray:
        """The network's output for features `x` (DL4J layout); `train=True` applies dropout."""
        self._need_init()
        x = as_boundary(np.asarray(x, np.float32), self.conf.input_type, "MultiLayerNetwork.output")
        if not train:
            out = self.model.predict(x)
        else:
            from graphc import backends

            exe = backends.compile(self.model.build_graph(training=True), opt_level="O1")
            res = exe(x)
            out = res[0] if isinstance(res, list) else res
        return self.layers[-1].output_from_nn(out)

    def feed_forward(self, x) -> list:
        """DL4J's feedForward: the input, then every layer's activation (inference mode, DL4J layout)."""
        from graphc import nn

        self._need_init()
        x = as_boundary(np.asarray(x, np.float32), self.conf.input_type, "MultiLayerNetwork.feed_forward")
        if self._activations is None:  # one model over the same layers: their weights are shared
            self._activations = nn.Model(self.model.inputs, list(self._outputs), name="activations")
        self.model.sync_weights()
        self._activations.weights_changed()
        outs = self._activations.predict(x)
        outs = outs if isinstance(outs, list) else [outs]
        return [x] + outs[:-1] + [self.layers[-1].output_from_nn(outs[-1])]

    def predict(self, x) -> np.ndarray:
        """DL4J's predict: the class index of each row's output."""
        return np.argmax(self.output(x), axis=1)

    def score(self, ds: DataSet | None = None) -> float:
        """The last mini-batch's score, or the loss on `ds` (in inference mode)."""
        if ds is None:
            return self._score
        self._need_init()
        ds = ds if isinstance(ds, DataSet) else DataSet(*ds)
        from graphc.dl4j.tbptt import sequence_score, trains_by_sequence

        if trains_by_sequence(self.conf):  # a time-series output: its masks weigh the steps
            return sequence_score(self, ds)
        x, y, sw = self.batch_arrays(ds)
        return float(self.model.evaluate(x, y, sample_weight=sw, batch_size=max(1, len(x)))) + self._penalty(len(x))

    def regularization_score(self) -> float:
        """DL4J's calcL1 + calcL2 of the current parameters: sum of l1 * sum|w| + 0.5 * l2 * sum(w^2) over
        the trained parameters, each with its layer's coefficients (biases: l1_bias, l2_bias); 0 unless
        `.regularization(True)` (BaseLayer.calcL1/calcL2)."""
        self._need_init()
        from graphc.dl4j.updater import regularization

        reg = regularization(self.layers, {n: i for n, i in self.owners.items() if self._is_trainable(n)})
        if reg is None:
            return 0.0
        self._weights()  # the trainer's resident values written back
        total = 0.0
        for name, (l1, l2) in reg.table.items():
            w = np.asarray(self._named[name].value, np.float64)
            total += l1 * np.abs(w).sum() + 0.5 * l2 * np.square(w).sum()
        return float(total)

    def _penalty(self, batch_size: int) -> float:
        """The penalty's share of a mini-batch's score: DL4J divides (loss sum + penalty) by the batch size."""
        penalty = self.regularization_score()
        return penalty / max(1, int(batch_size)) if self.conf.conf.mini_batch and penalty else penalty

    def evaluate(self, data, labels=None):
        """A `graphc.evaluation.Evaluation` over a DataSet, arrays, or an iterator of them."""
        from graphc.dl4j.network_common import evaluate

        return evaluate((self.output(ds.features), ds.labels, ds.labels_mask) for ds in datasets(data, labels))

    # ---- parameters -------------------------------------------------------------------------------------
    def _weights(self) -> list:
        self._need_init()
        from graphc.training.front import sync

        sync(self.model)
        seen, out = set(), []
        for made in self._nn:
            for l in made:
                for w in l.weights:
                    if id(w) not in seen:
                        seen.add(id(w))
                        out.append(w)
        return out

    def params(self) -> np.ndarray:
        """Every parameter in one flat float32 vector, layer by layer (each weight in C order)."""
        ws = self._weights()
        return np.concatenate([w.value.ravel() for w in ws]).astype(np.float32) if ws else np.zeros(0, np.float32)

    def num_params(self) -> int:
        return int(sum(w.value.size for w in self._weights()))

    def set_params(self, flat) -> None:
        flat = np.asarray(flat, np.float32).ravel()
        ws = self._weights()
        n = sum(w.value.size for w in ws)
        if flat.size != n:
            raise InputError(f"set_params: {flat.size} values for a network of {n} parameters; give params() "
                             f"of a network of the same configuration")
        by_id, start = {}, 0
        for w in ws:
            by_id[id(w)] = flat[start:start + w.value.size].reshape(w.shape)
            start += w.value.size
        self.model.set_weights([by_id.get(id(w), w.value) for w in self.model.weights])

    def param_table(self) -> dict:
        """{"<layer index>_<weight name>": array} (DL4J's paramTable keys are "0_W", "0_b", ...)."""
        self._weights()  # the trainer's resident values written back first
        out = {}
        for i, made in enumerate(self._nn):
            for l in made:
                for w in l.weights:
                    out[f"{i}_{w.name}"] = w.value.copy()
        return out

    def clone(self) -> "MultiLayerNetwork":
        """A new network of the same configuration and parameters (no updater state)."""
        self._need_init()
        return MultiLayerNetwork(self.conf.copy()).init(self.params())

    def get_layer(self, i):
        """The configuration of layer `i` (by index or name)."""
        if isinstance(i, str):
            for layer in self.layers:
                if layer.name == i:
                    return layer
            raise ConfigError(f"no layer named {i!r}; names: {[l.name for l in self.layers]}")
        return self.layers[int(i)]

    def get_nn_layers(self, i) -> list:
        """The graphc.nn layers that implement layer `i`."""
        self._need_init()
        return list(self._nn[int(i)])

    def summary(self) -> str:
        self._need_init()
        types = self.conf.input_types()
        rows = [("#", "Name (type)", "n_in", "n_out", "Params", "Input -> output")]
        for i, (layer, t) in enumerate(zip(self.layers, types)):
            n = sum(w.value.size for l in self._nn[i] for w in l.weights)
            rows.append((str(i), f"{layer.name or f'layer{i}'} ({type(layer).__name__})", str(layer.n_in),
                         str(layer.n_out), f"{n:,}", f"{t} -> {layer.output_type(t)}"))
        from graphc.dl4j.network_common import table

        return table(rows, f"Total parameters: {self.num_params():,}")


def _variable_names(model) -> dict:
    """id(weight array) -> the Variable name that holds it in the model's graph."""
    g = model.graph
    return {id(g.attrs(n).get("value")): n for n in g.variables()}
