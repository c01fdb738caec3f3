"""Layer-wise unsupervised pretraining (DL4J's `MultiLayerNetwork.pretrain`) and the deep belief net.

Each pretrainable layer (AutoEncoder, RBM; graphc/dl4j/layers/pretrain.py) is trained on what the layers
below it output for the data (inference mode, as DL4J's `activationFromPrevLayer`), bottom-up, one
layer at a time, `conf.iterations` updates per mini-batch. Its unsupervised form shares the network's
Dense weights, so pretraining leaves them in the network:

- an AutoEncoder is a graphc model (`TiedAutoEncoder`) trained on (corrupted x, clean x) with the
  network's updater through the trainer (STOCHASTIC_GRADIENT_DESCENT), or with the configured
  line-search algorithm (LINE_GRADIENT_DESCENT, CONJUGATE_GRADIENT, LBFGS: graphc/dl4j/optimize);
- an RBM runs its CD-k graph and applies the result through the optimizer's update graph
  (`graphc.optimizers.update_graph`), optimizer state kept between batches. CD-k is not the gradient
  of a loss, so a line search has nothing to search: an RBM always takes updater steps.

After pretraining, `backprop(False)` trains the output layer alone (the layers below frozen), as DL4J
does; `backprop(True)` fine-tunes the whole network: with stacked RBMs that is the deep belief net.
"""
from __future__ import annotations

import numpy as np

from graphc import backends
from graphc.dl4j.layers.pretrain import RBM, AutoEncoder, TiedAutoEncoder, cd_graph, corrupt
from graphc.optimizers import update_graph

SGD_NAME = "STOCHASTIC_GRADIENT_DESCENT"


def _algorithm(algo) -> str:
    return str(getattr(algo, "name", algo or SGD_NAME)).split(".")[-1].upper()


class AutoEncoderPretrainer:
    """Trains one AutoEncoder layer conf whose network layer is the built graphc.nn Dense `dense`."""

    def __init__(self, conf: AutoEncoder, dense, optimizer, algorithm=SGD_NAME, iterations=1, seed=0,
                 regularization=None, line_search_evaluations=25):
        from graphc import nn

        self.conf, self.dense, self.algorithm = conf, dense, _algorithm(algorithm)
        self.iterations = max(1, int(iterations))
        self.rng = np.random.default_rng(seed)
        inp = nn.Input((dense.kernel.shape[0],))
        name = f"{dense.name}_decoder"
        self.layer = TiedAutoEncoder(dense, dense.activation, conf.visible_bias_init, conf.sparsity,
                                     name=name)
        self.model = nn.Model(inp, self.layer(inp), name=f"{dense.name}_autoencoder")
        self.loss, self.optimizer, self.regularization = conf.loss_function, optimizer, regularization
        self._objective, self.line_search_evaluations = None, int(line_search_evaluations)
        if self.algorithm == SGD_NAME:
            self.model.compile(optimizer=optimizer, loss=self.loss)

    def fit_batch(self, x) -> list:
        """`iterations` updates on one batch; the score of each (SGD: the loss the step computed, before
        its update, as DL4J scores; a line search: the loss after each iteration)."""
        x = np.asarray(x, np.float32)
        noisy = corrupt(x, float(self.conf.corruption_level), self.rng)
        if self.algorithm == SGD_NAME:
            return [float(self.model.train_on_batch(noisy, x)) for _ in range(self.iterations)]
        from graphc.dl4j.optimize import optimize_model

        result, self._objective = optimize_model(self.model, self.loss, noisy, x, self.algorithm, self.iterations,
                                                 regularization=self.regularization, objective=self._objective,
                                                 max_evaluations=self.line_search_evaluations)
        return result.losses[1:] or [result.fun]

    @property
    def visible_bias(self) -> np.ndarray:
        self.model.sync_weights()
        return self.layer.visible_bias.value.copy()

    @visible_bias.setter
    def visible_bias(self, value) -> None:
        self.model.sync_weights()
        self.layer.visible_bias.assign(value)

    def reconstruction_error(self, x) -> float:
        """Mean over the batch of ||x - decode(encode(x))||^2 (no corruption)."""
        self.model.sync_weights()
        z = self.model.predict(np.asarray(x, np.float32))
        return float(np.mean(np.sum((np.asarray(x) - z) ** 2, axis=1)))

    def done(self) -> None:
        self.model.sync_weights()


class RBMPretrainer:
    """CD-k training of one RBM layer conf whose network layer is the built graphc.nn Dense `dense`."""

    def __init__(self, conf: RBM, dense, optimizer, iterations=1, seed=0, with_draws=False):
        self.conf, self.dense, self.optimizer = conf, dense, optimizer
        self.iterations = max(1, int(iterations))
        n_vis, n_hid = dense.kernel.shape
        self.cd = backends.compile(cd_graph(n_vis, n_hid, conf.k, conf.hidden_unit, conf.visible_unit,
                                            with_draws=with_draws, seed=seed, sparsity=float(conf.sparsity or 0.0)))
        self.names = {"W": f"{dense.name}/kernel", "hb": f"{dense.name}/bias", "vb": f"{dense.name}/visible_bias"}
        self.visible_bias = np.full(n_vis, float(conf.visible_bias_init or 0.0), np.float32)
        shapes = {self.names["W"]: (n_vis, n_hid), self.names["hb"]: (n_hid,), self.names["vb"]: (n_vis,)}
        self.lr_input = not _is_schedule(optimizer)
        self.update = backends.compile(update_graph(optimizer, shapes, learning_rate_input=self.lr_input))
        self.state = optimizer.init_state(shapes)
        self.step = 0
        self.last = {}

    def params(self) -> dict:
        return {"W": self.dense.kernel.value, "hb": self.dense.bias.value, "vb": self.visible_bias}

    def fit_batch(self, x) -> list:
        """`iterations` CD-k updates on one batch; the reconstruction error before each."""
        errors = []
        for _ in range(self.iterations):
            p = self.params()
            out = self.cd.run({"v0": np.asarray(x, np.float32), **p})
            self.last = out
            errors.append(float(out["reconstruction_error"]))
            feed = {"step": np.asarray(self.step, np.int64)}
            if self.lr_input:
                feed["learning_rate"] = np.asarray(self.optimizer.learning_rate, np.float32)
            for key, name in self.names.items():
                feed[f"param:{name}"], feed[f"grad:{name}"] = p[key], out[f"grad:{key}"]
            feed.update({f"state:{s}": a for s, a in self.state.items()})
            new = self.update.run(feed)
            self.dense.kernel.assign(new[f"new_param:{self.names['W']}"])
            self.dense.bias.assign(new[f"new_param:{self.names['hb']}"])
            self.visible_bias = np.asarray(new[f"new_param:{self.names['vb']}"], np.float32)
            self.state = {s: new[f"new_state:{s}"] for s in self.state}
            self.step += 1
        return errors

    def reconstruction_error(self, x) -> float:
        """Mean over the batch of ||v - E[v | E[h | v]]||^2 at the current weights."""
        return float(self.cd.run({"v0": np.asarray(x, np.float32), **self.params()})["reconstruction_error"])

    def done(self) -> None:
        pass


def _is_schedule(optimizer) -> bool:
    from graphc.training.step import is_schedule

    return is_schedule(optimizer)


def pretrainer(conf, dense, optimizer, algorithm=SGD_NAME, iterations=1, seed=0, regularization=None,
               line_search_evaluations=25):
    """The pretrainer of a pretrainable layer conf."""
    if isinstance(conf, RBM):
        return RBMPretrainer(conf, dense, optimizer, iterations, seed)
    return AutoEncoderPretrainer(conf, dense, optimizer, algorithm, iterations, seed, regularization,
                                 line_search_evaluations)


# ---- the network's layer-wise pretraining -------------------------------------------------------------
def _batches(data) -> list:
    """The mini-batches as a list: every pretrainable layer reads them all, and an iterator runs once."""
    from graphc.dl4j.dataset import datasets

    return list(datasets(data))


def _encoder(net, i):
    """(the graphc.nn Dense of layer i, a function giving its input from the network's features)."""
    from graphc import nn

    dense = next(l for l in net.get_nn_layers(i) if isinstance(l, nn.Dense))
    feed = dense._nodes[0].keras_inputs[0]
    if feed is net.model.inputs[0]:
        return dense, lambda x: x
    below = nn.Model(net.model.inputs[0], feed, name=f"below_layer_{i}")
    return dense, lambda x: below.predict(x, batch_size=len(x))


def pretrain(net, data, epochs: int = 1) -> dict:
    """DL4J's layer-wise pretraining of `net` (an initialized MultiLayerNetwork) on `data` (a DataSet,
    arrays or an iterator; labels are not read): bottom-up, each pretrainable layer `epochs` passes over
    the batches, `iterations` updates per batch, scores reported to the network's listeners.
    Returns {layer index: [score per iteration]}."""
    from graphc.dl4j.updater import optimizer

    conf = net.conf.conf
    algorithm = _algorithm(conf.optimization_algo)
    batches = _batches(data)
    net.model.sync_weights()
    # the visible biases are no part of the supervised network: kept beside it, by layer index
    visible = net.__dict__.setdefault("visible_biases", {})
    scores = {}
    for i, layer in enumerate(net.layers):
        if not layer.is_pretrainable:
            continue
        dense, below = _encoder(net, i)
        names = [f"{dense.name}/kernel", f"{dense.name}/bias", f"{dense.name}_decoder/visible_bias",
                 f"{dense.name}/visible_bias"]
        opt = optimizer(conf, net.layers, {n: i for n in names})
        seed = (int(layer.seed) if layer.seed is not None else 0) + 7919 * (i + 1)
        pt = pretrainer(layer, dense, opt, algorithm, conf.iterations, seed, opt.regularization,
                        conf.max_num_line_search_iterations)
        if i in visible:  # the decoder's bias from an earlier pretrain call (each fit pretrains again)
            pt.visible_bias = visible[i]
        scores[i] = []
        for _ in range(int(epochs)):
            for ds in batches:
                x = below(net.batch_arrays(ds)[0])
                for score in pt.fit_batch(x):
                    scores[i].append(score)
                    net.record_iteration(score)
        pt.done()
        visible[i] = pt.visible_bias
    net.model.weights_changed()  # the network's trainer reads the pretrained weights before its next step
    return scores


def pretrain_state(net) -> dict:
    """{"visible_bias_<layer index>": array}: what pretraining keeps beside the network (ModelSerializer)."""
    return {f"visible_bias_{i}": np.asarray(v) for i, v in net.__dict__.get("visible_biases", {}).items()}


def load_pretrain_state(net, arrays: dict) -> None:
    visible = net.__dict__.setdefault("visible_biases", {})
    for key, a in arrays.items():
        i = int(key.rsplit("_", 1)[-1])
        if not (0 <= i < len(net.layers)) or not net.layers[i].is_pretrainable or a.shape != (net.layers[i].n_in,):
            from graphc.errors import ModelFormatError

            raise ModelFormatError(f"pretraining state {key!r} of shape {list(a.shape)} does not fit layer {i} of "
                                   f"this network; the file belongs to another configuration")
        visible[i] = np.asarray(a, np.float32)


def fit_output_layer(net, data, num_epochs: int = 1) -> None:
    """`backprop(False)` after pretraining: train the output layer alone on what the layers below it
    give (they are frozen meanwhile), with the configured algorithm and updater, as DL4J's finetune."""
    from graphc.dl4j.dataset import datasets

    below = [l for i in range(len(net.layers) - 1) for l in net.get_nn_layers(i)]
    flags = [(l, l.trainable) for l in below]
    net._objective = None  # a cached line-search objective knows the old trainable set
    try:
        for l, _ in flags:
            l.trainable = False
        for _ in range(int(num_epochs)):
            for ds in datasets(data):
                net._fit_batch(ds)
            net.epoch_count += 1
    finally:
        net.model.sync_weights()
        for l, t in flags:
            l.trainable = t
        net._objective = None


__all__ = ["AutoEncoderPretrainer", "RBMPretrainer", "fit_output_layer", "load_pretrain_state", "pretrain",
           "pretrain_state", "pretrainer"]
