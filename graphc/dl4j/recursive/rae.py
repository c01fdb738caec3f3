"""The recursive autoencoder (Socher et al., EMNLP 2011) over a batch of trees.

Every inner node with children c1, c2 (d-vectors) is encoded and decoded:

    x = [c1; c2]                 p = f(x W_e + b_e)        (normalized to unit length by default)
    [c1'; c2'] = f(p W_d + b_d)  the reconstruction;  residual r = x - [c1'; c2']

and the loss is the mean squared residual over all merges (the rows of the leaves weigh nothing),
plus L2 on W_e and W_d. With `num_outs` set it is Socher's semi-supervised RAE: a softmax on every
node vector too, and the loss alpha * reconstruction + (1 - alpha) * cross-entropy over the labelled
nodes (`predict`, `evaluate` as the RNTN's). The parent vectors, the root's above all, are the tree's unsupervised
features (`encode`). Unit-length parents keep the encoder from shrinking its codes towards zero to
make them trivially reconstructible; for the same reason the word embeddings stay fixed unless
`train_embeddings=True`. All merges of one level are computed together (tree.py).
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.recursive.network import NodeClassifier, RecursiveNetwork, TreeLayer
from graphc.dl4j.recursive.rntn import _l2
from graphc.nn import activations


class RAELayer(TreeLayer):
    """The recursive autoencoder's embeddings, encoder and decoder as a graphc.nn layer; its
    outputs are the node vectors and the per-node reconstruction residuals [n_nodes, 2d]."""

    def __init__(self, vocab_size, dim, activation="tanh", normalize: bool = True, **kwargs):
        super().__init__(vocab_size, dim, **kwargs)
        self.activation, self.normalize = activations.get(activation), bool(normalize)

    def build_composition(self, d):
        self.kernel = self.add_weight("kernel", (2 * d, d), "zeros")
        self.bias = self.add_weight("bias", (d,), "zeros")
        self.decoder_kernel = self.add_weight("decoder_kernel", (d, 2 * d), "zeros")
        self.decoder_bias = self.add_weight("decoder_bias", (2 * d,), "zeros")

    def initialize(self, rng):
        d = self.dim
        self.embeddings.assign(rng.uniform(-0.5, 0.5, (self.vocab_size, d)))
        r = np.sqrt(6.0 / (3 * d))
        self.kernel.assign(rng.uniform(-r, r, (2 * d, d)))
        self.decoder_kernel.assign(rng.uniform(-r, r, (d, 2 * d)))

    def compose(self, em, left, right):
        x = em.concat([left, right], 1)
        p = activations.apply(em, self.activation,
                              em.op("Add", em.op("MatMul", x, em.weight(self.kernel)), em.weight(self.bias)))
        if self.normalize:
            p = em.op("LpNormalization", p, axis=-1, p=2)
        rec = activations.apply(em, self.activation, em.op("Add", em.op("MatMul", p, em.weight(self.decoder_kernel)),
                                                            em.weight(self.decoder_bias)))
        return p, [em.op("Sub", x, rec)]


class RecursiveAutoEncoder(NodeClassifier, RecursiveNetwork):
    """`RecursiveAutoEncoder(num_hidden=16)` or its `.Builder()`; `fit(trees)` lowers the
    reconstruction error, `encode(trees)` gives the root vectors."""

    FIELDS = {"activation": "tanh", "normalize": True, "train_embeddings": False, "reg_word_vector": 0.0,
              "num_outs": None,    # classes of a softmax at every node (None: unsupervised)
              "alpha": 0.2,        # the reconstruction's share of the semi-supervised loss
              "reg_classification": 1e-4}

    def make_layer(self, vocab_size):
        if self.num_outs:
            if not 0.0 <= float(self.alpha) <= 1.0:
                raise ConfigError(f"RecursiveAutoEncoder.alpha must lie in [0, 1], got {self.alpha}")
            self.new_classifier(_l2(self.reg_classification))
        return RAELayer(vocab_size, int(self.num_hidden), self.activation, self.normalize, seed=int(self.seed),
                        train_embeddings=bool(self.train_embeddings),
                        embeddings_regularizer=_l2(self.reg_word_vector),
                        kernel_regularizer=_l2(self.reg_transform_matrix),
                        decoder_kernel_regularizer=_l2(self.reg_transform_matrix))

    def heads(self, outputs):
        # the residuals (their loss: the mean square against zero), then the logits when classifying
        return [outputs[1]] + ([self.classifier_head(outputs[0])] if self.num_outs else [])

    def _head_layers(self):
        return [self.classifier] if self.num_outs else []

    def targets(self, p):
        sw = np.zeros(p.n_nodes, np.float32)
        sw[p.n_leaves:] = 1.0  # merges only: a leaf reconstructs nothing
        ys, sws = [np.zeros((p.n_nodes, 2 * int(self.num_hidden)), np.float32)], [sw]
        if self.num_outs:
            y, w = self.class_targets(p)
            ys.append(y)
            sws.append(w)
        return ys, sws

    def losses(self):
        from graphc.losses import MeanSquaredError

        return [MeanSquaredError()] + ([self.class_loss()] if self.num_outs else [])

    def loss_weights(self):
        return [float(self.alpha), 1.0 - float(self.alpha)] if self.num_outs else None

    def reconstruction_error(self, trees) -> float:
        """The mean squared reconstruction residual over every merge of `trees`."""
        p, outs = self.forward(list(trees))
        residual = outs[1]
        merges = residual[p.n_leaves:]
        return float(np.mean(merges ** 2)) if len(merges) else 0.0

    def encode(self, trees) -> np.ndarray:
        """[n_trees, d]: each tree's root vector."""
        p, outs = self.forward(list(trees))
        return outs[0][p.roots]


__all__ = ["RAELayer", "RecursiveAutoEncoder"]
