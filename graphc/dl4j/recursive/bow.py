"""The bag-of-words baseline: logistic regression over a phrase's word frequencies.

A phrase (any node of a tree: the words under it) becomes its vector of word counts over the
vocabulary divided by its length (the mean of its words' one-hot vectors), and one softmax layer
(a graphc.nn `Dense`, trained by graphc's `fit`) classifies it. It trains on every labelled node,
as the RNTN does, and sees no order and no structure: on the treebank's twin sentences (same words,
different labels, see treebank.py) it cannot beat `bag_of_words_ceiling`.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import Buildable, ConfigError
from graphc.dl4j.recursive.network import sentiment_accuracy
from graphc.dl4j.recursive.tree import Tree, TreeError, Vocabulary


def _phrases(trees):
    """Per tree, the word list under each node in `tree.nodes()` order (root last)."""
    out = []
    for t in trees:
        under = {}
        for n in t.nodes():
            under[id(n)] = [n.word] if n.is_leaf else [w for c in n.children for w in under[id(c)]]
        out.append([under[id(n)] for n in t.nodes()])
    return out


class BagOfWords(Buildable):
    """`BagOfWords(num_outs=3)`; `fit(trees)`, `predict`, `predict_nodes`, `evaluate` as RNTN's."""

    FIELDS = {"num_outs": 3, "learning_rate": 0.05, "updater": "adam", "batch_size": 64, "l2": 1e-5, "seed": 0}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vocab: Vocabulary | None = None
        self.model = None

    def features(self, phrases) -> np.ndarray:
        """[n, vocabulary] word frequencies of word lists."""
        x = np.zeros((len(phrases), len(self.vocab)), np.float32)
        for i, words in enumerate(phrases):
            np.add.at(x[i], self.vocab.ids(words), 1.0)
            x[i] /= max(len(words), 1)
        return x

    def fit(self, trees, epochs: int = 5) -> list[float]:
        """Train on every labelled node of `trees`; the loss of each epoch."""
        from graphc import optimizers
        from graphc.losses import SparseCategoricalCrossentropy
        from graphc.nn import Dense, Input, Sequential
        from graphc.nn.regularizers import L2

        trees = list(trees)
        if not trees or not all(isinstance(t, Tree) for t in trees):
            raise TreeError("BagOfWords.fit: give a non-empty list of Trees")
        if self.model is None:
            self.vocab = Vocabulary.from_trees(trees)
            dense = Dense(int(self.num_outs), kernel_regularizer=L2(float(self.l2)) if self.l2 else None)
            self.model = Sequential([Input((len(self.vocab),)), dense])
            dense.kernel.assign(np.zeros(dense.kernel.shape))  # convex: a fixed start, no draw
            self.model.compile(optimizer=optimizers.get(self.updater, learning_rate=float(self.learning_rate)),
                               loss=SparseCategoricalCrossentropy(from_logits=True))
        nodes = [(w, n.label) for t, ps in zip(trees, _phrases(trees)) for w, n in zip(ps, t.nodes())
                 if n.label is not None]
        y = np.asarray([lab for _, lab in nodes], np.int64)
        if y.max(initial=-1) >= int(self.num_outs):
            raise ConfigError(f"BagOfWords: a tree has label {int(y.max())} but num_outs is {self.num_outs}")
        history = self.model.fit(self.features([w for w, _ in nodes]), y, batch_size=int(self.batch_size),
                                 epochs=int(epochs), verbose=0, seed=int(self.seed))
        return list(history.history["loss"])

    def predict_nodes(self, trees) -> list[np.ndarray]:
        if self.model is None:
            raise ConfigError("BagOfWords: call fit(trees) first")
        phrases = _phrases(list(trees))
        flat = [w for ps in phrases for w in ps]
        labels = np.asarray(self.model.predict(self.features(flat))).argmax(-1)
        out, at = [], 0
        for ps in phrases:
            out.append(labels[at:at + len(ps)])
            at += len(ps)
        return out

    def predict(self, trees) -> np.ndarray:
        return np.asarray([n[-1] for n in self.predict_nodes(trees)], np.int64)

    def evaluate(self, trees) -> dict:
        trees = list(trees)
        return sentiment_accuracy(self.predict_nodes(trees), trees)


__all__ = ["BagOfWords"]
