"""What the recursive networks (RNTN, recursive autoencoder) share: a graphc.nn layer that runs a
composition over a level plan, and a DL4J-style network that builds, trains and runs it.

`TreeLayer` is an ordinary graphc.nn layer: inputs [words, level_1, ..., level_D] (any D; see
`tree.py`), weights declared with `add_weight` (Keras L2 regularizers, so the trainer adds their
penalty), output the node-state buffer H [n_nodes, d] and the subclass's extra per-node buffers.
A subclass gives `build_composition(d)`, `compose(em, left, right)` and `initialize(rng)`.

`RecursiveNetwork` (a `Buildable`: keywords and `.Builder()` make equal configurations) owns one
layer and its heads, and wraps them in graphc.nn `Model`s by depth: one trains (its graph has the
network's `max_depth` levels, fixed when it first trains, and serves every batch), others of greater
depth only predict, reading the same weights. Training is graphc's own: the model is compiled with
the network's updater and loss, and each batch of trees is one step of its `Trainer` (parameters
and optimizer state resident in ONNX Runtime). No second engine.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import Buildable, ConfigError
from graphc.dl4j.recursive.tree import Tree, TreeError, Vocabulary, emit_levels, plan
from graphc.errors import GraphcError
from graphc.nn.base import Layer
from graphc.types import TensorType


class TreeLayer(Layer):
    """Word embeddings and a composition applied level by level (see the module docstring)."""

    def __init__(self, vocab_size: int, dim: int, seed: int = 0, train_embeddings: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.dim, self.seed = int(vocab_size), int(dim), int(seed)
        self.train_embeddings = bool(train_embeddings)

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.vocab_size, self.dim), "zeros",
                                          trainable=self.train_embeddings)
        self.build_composition(self.dim)
        self.initialize(np.random.default_rng(self.seed))

    def build_composition(self, d: int) -> None:
        raise NotImplementedError

    def initialize(self, rng) -> None:
        raise NotImplementedError

    def compose(self, em, left, right):
        """(parents [m, d], extra per-merge values [m, k]) of the merges with children `left`, `right`."""
        raise NotImplementedError

    def call(self, em, x, mask=None):
        words, *levels = x if isinstance(x, list) else [x]
        leaves = em.op("Gather", em.weight(self.embeddings), words, axis=0)
        h, extras = emit_levels(em, leaves, levels, self.compose)
        return [h, *extras] if extras else h


def per_tree(p, trees, rows: np.ndarray) -> list[np.ndarray]:
    """Per tree of plan `p`, the entries of `rows` (one per plan row) of its `tree.nodes()`, children
    first, the root last."""
    row = {(ti, id(n)): r for r, (ti, n) in enumerate(zip(p.tree_index, p.nodes))}
    return [rows[[row[ti, id(n)] for n in t.nodes()]] for ti, t in enumerate(trees)]


def sentiment_accuracy(predicted: list, trees) -> dict:
    """{"root": root accuracy, "all": accuracy over every labelled node, "n": trees} of per-tree node
    predictions (`tree.nodes()` order) against the trees' labels."""
    trees = list(trees)
    if not trees:
        raise TreeError("no trees to score")
    root = [int(p[-1]) == t.label for p, t in zip(predicted, trees) if t.label is not None]
    every = [int(a) == n.label for p, t in zip(predicted, trees) for a, n in zip(p, t.nodes()) if n.label is not None]
    return {"root": float(np.mean(root)) if root else float("nan"),
            "all": float(np.mean(every)) if every else float("nan"), "n": len(trees)}


class RecursiveNetwork(Buildable):
    """The configuration and state of a recursive network; subclasses set the layer and heads."""

    FIELDS = {
        "num_hidden": 16,            # d: the size of every node vector
        "learning_rate": 0.05,
        "updater": "ADAGRAD",        # a graphc.optimizers name or a DL4J Updater
        "batch_size": 32,            # trees per training step
        "max_depth": None,           # levels of the training graph; None: the highest training tree's
        "reg_word_vector": 1e-4,     # L2 of the embeddings
        "reg_transform_matrix": 1e-4,  # L2 of the composition matrices
        "seed": 0,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if int(self.num_hidden) <= 0 or int(self.batch_size) <= 0:
            raise ConfigError(f"{type(self).__name__}: num_hidden and batch_size must be positive, got "
                              f"{self.num_hidden} and {self.batch_size}")
        if float(self.learning_rate) <= 0:
            raise ConfigError(f"{type(self).__name__}: learning_rate must be > 0, got {self.learning_rate}")
        self.vocab: Vocabulary | None = None
        self.layer = None
        self._models: dict = {}
        self.listeners: list = []
        self.iteration_count = self.epoch_count = self.last_batch_size = 0
        self._score = float("nan")

    # ---- what a subclass gives --------------------------------------------------------------
    def make_layer(self, vocab_size: int) -> TreeLayer:
        raise NotImplementedError

    def heads(self, outputs: list) -> list:
        """The training outputs (KerasTensors) from the layer's outputs [H, *extras]."""
        raise NotImplementedError

    def targets(self, p) -> tuple[list, list]:
        """(labels per training output, sample weights per output) of plan `p`."""
        raise NotImplementedError

    def losses(self) -> list:
        raise NotImplementedError

    def loss_weights(self) -> list | None:
        """The weight of each training output's loss in the total (None: all 1)."""
        return None

    # ---- building -----------------------------------------------------------------------------
    def init(self, vocab) -> "RecursiveNetwork":
        """Create the weights for `vocab` (a Vocabulary, or trees to build one from)."""
        self.vocab = vocab if isinstance(vocab, Vocabulary) else Vocabulary.from_trees(vocab)
        self.layer = self.make_layer(len(self.vocab))
        self._models.clear()
        return self

    def _trees(self, trees, where: str) -> list:
        trees = list(trees)
        if not trees or not all(isinstance(t, Tree) for t in trees):
            raise TreeError(f"{type(self).__name__}.{where}: give a non-empty list of Trees")
        return trees

    def _check_init(self):
        if self.layer is None:
            raise ConfigError(f"{type(self).__name__}: call init(vocabulary or trees) or fit(trees) first")

    def model(self, depth: int, training: bool = False):
        """The graphc.nn Model over plans of `depth` levels: training outputs only, or (inference)
        the node states H first."""
        from graphc.nn import Input, Model

        self._check_init()
        key = (int(depth), bool(training))
        if key not in self._models:
            words = Input(batch_shape=("n_leaves",), dtype="int64", name="words")
            levels = [Input(batch_shape=(f"merges_{i}", 3), dtype="int64", name=f"level_{i}")
                      for i in range(1, depth + 1)]
            outs = self.layer(words, *levels)
            outs = outs if isinstance(outs, list) else [outs]
            heads = self.heads(outs)
            self._models[key] = Model([words, *levels], heads if training else [outs[0], *heads],
                                      name=f"{type(self).__name__.lower()}_d{depth}" + ("_train" if training else ""))
        return self._models[key]

    def plan(self, trees, depth: int | None = None):
        self._check_init()
        return plan(trees, self.vocab, depth)

    def _trainer_model(self):
        from graphc import optimizers

        model = self.model(self.max_depth, training=True)
        if model.__dict__.get("_training") is None:
            try:
                opt = optimizers.get(self.updater, learning_rate=float(self.learning_rate))
            except GraphcError as e:
                raise ConfigError(f"{type(self).__name__}.updater {self.updater!r}: {e}") from None
            model.compile(optimizer=opt, loss=self.losses(), loss_weights=self.loss_weights())
        return model

    # ---- training -------------------------------------------------------------------------------
    # ---- listeners (graphc.dl4j.listeners: ScoreIterationListener, CollectScoresIterationListener, ...)
    def set_listeners(self, *listeners) -> None:
        if len(listeners) == 1 and isinstance(listeners[0], (list, tuple)):
            listeners = tuple(listeners[0])
        self.listeners = list(listeners)

    def _notify(self, event: str, *args) -> None:
        for listener in self.listeners:
            getattr(listener, event)(self, *args)

    def score(self) -> float:
        """The loss of the last training step (DL4J's score)."""
        return self._score

    def fit(self, trees, epochs: int = 1, shuffle: bool = True) -> list[float]:
        """Train on `trees` for `epochs` (one step per `batch_size` trees); the mean loss of each
        epoch. The listeners hear every step (`iteration_done`) and epoch."""
        from graphc.training import front
        from graphc.training.step import TrainingError

        trees = self._trees(trees, "fit")
        if self.layer is None:
            self.init(trees)
        top = max(t.depth for t in trees)
        if self.max_depth is None:
            self.max_depth = max(top, 1)
        plan(trees, self.vocab, self.max_depth)  # every tree checked before the first step
        model = self._trainer_model()
        rng = np.random.default_rng(self.seed)
        history = []
        for epoch in range(int(epochs)):
            self._notify("on_epoch_start")
            order = rng.permutation(len(trees)) if shuffle else np.arange(len(trees))
            total, count = 0.0, 0
            for b, start in enumerate(range(0, len(trees), int(self.batch_size))):
                batch = [trees[i] for i in order[start:start + int(self.batch_size)]]
                p = self.plan(batch, self.max_depth)
                ys, sws = self.targets(p)
                loss, _ = front.trainer(model, ys).train_step(p.feeds(), ys, sws)
                if not np.isfinite(loss):
                    raise TrainingError(f"{type(self).__name__}: the loss is {loss} at epoch {epoch + 1}, batch "
                                        f"{b + 1}; the weights are those before that batch. Lower learning_rate")
                total, count = total + loss, count + 1
                self._score, self.last_batch_size = loss, len(batch)
                self.iteration_count += 1
                self._notify("iteration_done", self.iteration_count - 1, self.epoch_count)
            history.append(total / count)
            self.epoch_count += 1
            self._notify("on_epoch_end")
        front.sync(model)
        return history

    def _sync(self):
        model = self._models.get((self.max_depth, True)) if self.max_depth is not None else None
        if model is not None:
            model.sync_weights()

    def forward(self, trees):
        """(plan, [H, *training outputs]) of `trees` in inference mode, one graph run."""
        self._check_init()
        trees = self._trees(trees, "forward")
        self._sync()
        depth = max([max(t.depth for t in trees), self.max_depth or 0, 1])
        p = self.plan(trees, depth)
        outs = self.model(depth).predict(p.feeds())
        return p, outs if isinstance(outs, list) else [outs]

    def node_vectors(self, trees) -> list[np.ndarray]:
        """Per tree, the vector of every node in `tree.nodes()` order (the root's last)."""
        trees = list(trees)
        p, outs = self.forward(trees)
        return per_tree(p, trees, outs[0])

    def num_params(self) -> int:
        self._check_init()
        self.model(1)  # builds the weights
        return int(sum(w.value.size for w in self.layer.weights) +
                   sum(w.value.size for l in self._head_layers() for w in l.weights))

    def _head_layers(self) -> list:
        return []


class NodeClassifier:
    """A softmax classifier at every node of a `RecursiveNetwork` (its last training output), and
    the sentiment-style inference over it. The host sets `num_outs`, `num_hidden`, `seed`."""

    def new_classifier(self, regularizer=None) -> None:
        """A fresh softmax layer (a graphc.nn Dense giving logits); `make_layer` calls it."""
        from graphc.nn import Dense

        if int(self.num_outs) < 2:
            raise ConfigError(f"{type(self).__name__}.num_outs must be at least 2 classes, got {self.num_outs}")
        self.classifier = Dense(int(self.num_outs), kernel_regularizer=regularizer)
        self._classifier_set = False

    def classifier_head(self, h):
        """The logits [n_nodes, num_outs] of node states `h` (a KerasTensor)."""
        logits = self.classifier(h)
        if not self._classifier_set:  # seeded, like the tree layer's own weights
            rng = np.random.default_rng(int(self.seed) + 1)
            r = np.sqrt(6.0 / (int(self.num_hidden) + int(self.num_outs)))
            self.classifier.kernel.assign(rng.uniform(-r, r, self.classifier.kernel.shape))
            self._classifier_set = True
        return logits

    def class_targets(self, p) -> tuple:
        """(one-hot labels [n_nodes, num_outs], sample weights: 1 where a node has a label) of plan `p`."""
        top = int(p.labels.max(initial=-1))
        if top >= int(self.num_outs):
            raise ConfigError(f"{type(self).__name__}: a tree has label {top} but num_outs is {self.num_outs}; "
                              f"give num_outs={top + 1}")
        # one-hot targets (categorical, not sparse, cross-entropy: the same loss without a OneHot op,
        # which ONNX Runtime has no float64 kernel for, so the gradient check runs the graph as trained)
        return np.eye(int(self.num_outs), dtype=np.float32)[np.maximum(p.labels, 0)], (p.labels >= 0).astype(np.float32)

    @staticmethod
    def class_loss():
        from graphc.losses import CategoricalCrossentropy

        return CategoricalCrossentropy(from_logits=True)

    def _logits(self, trees):
        if not self.num_outs:
            raise ConfigError(f"{type(self).__name__} has no classifier: configure num_outs (classes) to predict labels")
        p, outs = self.forward(trees)
        return p, outs[-1]

    def node_probabilities(self, trees) -> list[np.ndarray]:
        """Per tree, the class probabilities of every node in `tree.nodes()` order (root last)."""
        trees = list(trees)
        p, logits = self._logits(trees)
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return per_tree(p, trees, e / e.sum(-1, keepdims=True))

    def predict_nodes(self, trees) -> list[np.ndarray]:
        """Per tree, the predicted label of every node in `tree.nodes()` order (root last)."""
        trees = list(trees)
        p, logits = self._logits(trees)
        return per_tree(p, trees, logits.argmax(-1))

    def predict(self, trees) -> np.ndarray:
        """The predicted root label of each tree."""
        return np.asarray([n[-1] for n in self.predict_nodes(trees)], np.int64)

    def evaluate(self, trees) -> dict:
        """{"root": root accuracy, "all": all-node accuracy, "n": trees}."""
        trees = list(trees)
        return sentiment_accuracy(self.predict_nodes(trees), trees)


def label_type(y: np.ndarray) -> TensorType:
    return TensorType(np.dtype(y.dtype), ("nodes",) + tuple(y.shape[1:]))


def loss_graph(net: RecursiveNetwork, trees):
    """(graph, loss value, feeds): the network's data loss on `trees` as one graph (its training
    graph and losses, as the trainer differentiates them, without the L2 penalties) for
    `graphc.gradcheck.check_gradients`."""
    from graphc.losses import combine
    from graphc.nn.base import Emitter

    if net.layer is None:
        net.init(trees)
    p = net.plan(trees, net.max_depth or None)
    model = net.model(max(p.depth, 1), training=True)
    g = model.build_graph(training=True)
    em = Emitter(g, training=True)
    ys, sws = net.targets(p)
    feeds = dict(zip(model.input_names, p.feeds()))
    terms = []
    for (name, v), y, sw, loss in zip(list(g.outputs), ys, sws, net.losses()):
        yv = g.add_input(f"y:{name}", label_type(y))
        swv = g.add_input(f"sample_weight:{name}", TensorType(np.float32, ("nodes",)))
        feeds[f"y:{name}"], feeds[f"sample_weight:{name}"] = y, sw
        terms.append(loss(em, yv, v, sample_weight=swv))
    total = combine(em, terms, net.loss_weights())
    g.outputs = []
    g.add_output("loss", total)
    return g, total, feeds


__all__ = ["NodeClassifier", "RecursiveNetwork", "TreeLayer", "loss_graph", "per_tree", "sentiment_accuracy"]
