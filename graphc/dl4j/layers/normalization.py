"""BatchNormalization (feed-forward or NCHW, over axis 1) and LocalResponseNormalization (NCHW).

DL4J's BatchNormalization: decay 0.9, eps 1e-5, gamma 1 and beta 0 to start (`lock_gamma_beta` keeps
them fixed). DL4J's LRN: y = x / (k + alpha * sum of x^2 over n neighbouring channels)^beta, with
k 2, n 5, alpha 1e-4, beta 0.75 (alpha is not divided by n, unlike ONNX's LRN).
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.input_type import CNN
from graphc.dl4j.layers.base import LayerConf
from graphc.nn.base import Layer


class _SameShape(LayerConf):
    """A layer that hands on what it receives; n_in = n_out = the features (channels for images)."""
    INPUT_KIND = None

    def set_n_in(self, input_type):
        super().set_n_in(input_type)
        self.n_out = self.n_in

    def output_type(self, input_type):
        return input_type


class BatchNormalization(_SameShape):
    FIELDS = {"decay": 0.9, "eps": 1e-5, "gamma": 1.0, "beta": 0.0, "lock_gamma_beta": False,
              "is_minibatch": True}

    def num_params(self, input_type):
        return 4 * int(self.n_in)  # gamma, beta and the two moving statistics

    def to_nn(self, input_type):
        from graphc.nn import BatchNormalization as BN
        from graphc.nn.initializers import Constant

        bn = BN(axis=1, momentum=float(self.decay), epsilon=float(self.eps), name=self.nn_name(),
                gamma_initializer=Constant(float(self.gamma)), beta_initializer=Constant(float(self.beta)))
        return self.dropout_layers() + [bn]

    def after_build(self, nn_layers):
        """`lock_gamma_beta`: gamma and beta stay as set (not trained)."""
        if self.lock_gamma_beta:
            for layer in nn_layers:
                for w in layer.weights:
                    if w.name in ("gamma", "beta"):
                        w.trainable = False


class LRN(Layer):
    """DL4J's local response normalization across channels of NCHW data."""

    def __init__(self, k=2.0, n=5, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.k, self.n, self.alpha, self.beta = float(k), int(n), float(alpha), float(beta)

    def call(self, em, x, mask=None):
        c = em.shape(x)[1]
        half = self.n // 2
        sq = em.op("Mul", x, x)
        padded = em.op("Pad", sq, em.ints([0, half, 0, 0, 0, self.n - 1 - half, 0, 0], "pads"))
        total = None
        for j in range(self.n):  # the window's sum as n shifted slices: every op has a gradient rule
            part = em.slice(padded, [j], [j + c], [1])
            total = part if total is None else em.op("Add", total, part)
        denom = em.op("Pow", em.op("Add", em.op("Mul", total, em.const(np.float32(self.alpha))),
                                   em.const(np.float32(self.k))), em.const(np.float32(self.beta)))
        return em.op("Div", x, denom)


class LocalResponseNormalization(_SameShape):
    FIELDS = {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75}
    INPUT_KIND = CNN

    def validate(self):
        super().validate()
        if int(self.n) < 1:
            raise ConfigError(f"{self.describe()}: n (the channel window) must be >= 1, got {self.n}")

    def to_nn(self, input_type):
        return self.dropout_layers() + [LRN(self.k, self.n, self.alpha, self.beta, name=self.nn_name())]
