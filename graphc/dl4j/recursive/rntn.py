"""Socher et al.'s recursive neural tensor network (RNTN, EMNLP 2013) over a batch of trees.

Every inner node with children c1, c2 (d-vectors) gets

    x = [c1; c2]                                   (2d)
    p = tanh(x^T V[:, :, k] x + W x + b)  for k < d     V: [2d, 2d, d], W: [2d, d] (x W), b: [d]

and every node (leaves too) a softmax classifier y = softmax(p Ws + bs). The loss is the
cross-entropy over all labelled nodes plus L2 penalties on the embeddings, W, V and Ws
(`reg_word_vector`, `reg_transform_matrix`, `reg_transform_tensor`, `reg_classification`), the word
embeddings trained with the rest. `use_tensors=False` drops the V term: a plain recursive network.

The tensor term is built from standard ops, so the registry's gradient rules apply: for the m merges
of a level, x [m, 2d] times V reshaped to [2d, 2d*d] (MatMul) gives, reshaped, [m, 2d, d]; its
product with x broadcast over k, summed over the middle axis, is x^T V_k x for every k at once.
All merges of one level are one such computation (see tree.py for the level plan).
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.recursive.network import NodeClassifier, RecursiveNetwork, TreeLayer
from graphc.nn import activations


def _l2(value):
    from graphc.nn.regularizers import L2

    return L2(float(value)) if value else None


class RNTNLayer(TreeLayer):
    """The RNTN's embeddings and composition as a graphc.nn layer (see the module docstring)."""

    def __init__(self, vocab_size, dim, use_tensors: bool = True, activation="tanh", **kwargs):
        super().__init__(vocab_size, dim, **kwargs)
        self.use_tensors = bool(use_tensors)
        self.activation = activations.get(activation)

    def build_composition(self, d):
        self.kernel = self.add_weight("kernel", (2 * d, d), "zeros")
        self.bias = self.add_weight("bias", (d,), "zeros")
        self.tensor = self.add_weight("tensor", (2 * d, 2 * d, d), "zeros") if self.use_tensors else None

    def initialize(self, rng):
        d = self.dim
        self.embeddings.assign(rng.uniform(-0.5, 0.5, (self.vocab_size, d)))
        # start near the children's mean (Socher's [I I]/2 plus noise): signals pass up deep trees
        r = 1.0 / np.sqrt(2 * d)
        self.kernel.assign(0.5 * np.vstack([np.eye(d), np.eye(d)]) + rng.uniform(-r, r, (2 * d, d)) * 0.5)
        if self.tensor is not None:
            self.tensor.assign(rng.uniform(-r, r, (2 * d, 2 * d, d)) * 0.25)

    def compose(self, em, left, right):
        d = self.dim
        x = em.concat([left, right], 1)
        z = em.op("Add", em.op("MatMul", x, em.weight(self.kernel)), em.weight(self.bias))
        if self.tensor is not None:
            xv = em.op("MatMul", x, em.reshape(em.weight(self.tensor), [2 * d, 2 * d * d]))
            xv = em.reshape(xv, [-1, 2 * d, d])
            z = em.op("Add", z, em.reduce("ReduceSum", em.op("Mul", xv, em.unsqueeze(x, [-1])), [1], keepdims=False))
        return activations.apply(em, self.activation, z), []


class RNTN(NodeClassifier, RecursiveNetwork):
    """DL4J's `RNTN`: `RNTN(num_hidden=16, num_outs=3)` or `RNTN.Builder().num_hidden(16)...build()`;
    `fit(trees)`, `predict(trees)` (root labels), `predict_nodes`, `node_probabilities`, `evaluate`
    (root and all-node accuracy)."""

    FIELDS = {
        "num_outs": 3,               # classes of the softmax at every node
        "use_tensors": True,
        "activation": "tanh",
        "reg_transform_tensor": 1e-4,
        "reg_classification": 1e-4,
    }

    def make_layer(self, vocab_size):
        self.new_classifier(_l2(self.reg_classification))
        return RNTNLayer(vocab_size, int(self.num_hidden), self.use_tensors, self.activation, seed=int(self.seed),
                         embeddings_regularizer=_l2(self.reg_word_vector),
                         kernel_regularizer=_l2(self.reg_transform_matrix),
                         tensor_regularizer=_l2(self.reg_transform_tensor))

    def heads(self, outputs):
        return [self.classifier_head(outputs[0])]

    def _head_layers(self):
        return [self.classifier]

    def targets(self, p):
        y, sw = self.class_targets(p)
        return [y], [sw]

    def losses(self):
        return [self.class_loss()]


__all__ = ["RNTN", "RNTNLayer"]
