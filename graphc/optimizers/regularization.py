"""Regularization applied by the updater: DL4J's L1/L2 on gradients and decoupled weight decay.

DL4J semantics (`Regularization`): before the updater, each gradient gets `l2 * w + l1 * sign(w)`
(DL4J's L2 adds l2*w to the gradient; its score term is l2/2 * ||w||^2), with separate `l1_bias` /
`l2_bias` for biases (DL4J's `l1Bias`/`l2Bias`, 0 by default). `weight_decay` is DL4J's
`WeightDecay(coeff, applyLR)`: w -= coeff * lr * w (or coeff * w), the decoupled form, which is also
what Keras's `weight_decay` does on any optimizer (w -= w * weight_decay * lr before the update).

A parameter is a bias when `is_bias` says so: a set of names, a callable, or by default a name
whose last '/' segment is "bias", "b" or ends in "_bias".
"""
from __future__ import annotations

import re

from graphc.errors import GraphcError


class RegularizationError(GraphcError):
    """Regularization settings that cannot work."""


def default_is_bias(name: str) -> bool:
    last = name.rsplit("/", 1)[-1]
    return last in ("bias", "b") or last.endswith("_bias")


def decay_factor(s, lr, coeff, apply_lr=True):
    """What decoupled weight decay multiplies a parameter by: 1 - coeff * lr (Keras's torch form)."""
    return s.sub(1.0, s.mul(coeff, lr)) if apply_lr else s.c(1.0 - coeff)


class Regularization:
    def __init__(self, l1=0.0, l2=0.0, l1_bias=0.0, l2_bias=0.0, weight_decay=0.0, weight_decay_bias=0.0,
                 apply_lr=True, is_bias=None):
        for key, v in dict(l1=l1, l2=l2, l1_bias=l1_bias, l2_bias=l2_bias, weight_decay=weight_decay,
                           weight_decay_bias=weight_decay_bias).items():
            if not float(v) >= 0:
                raise RegularizationError(f"regularization {key} must be >= 0, got {v!r}")
        self.l1, self.l2, self.l1_bias, self.l2_bias = float(l1), float(l2), float(l1_bias), float(l2_bias)
        self.weight_decay, self.weight_decay_bias = float(weight_decay), float(weight_decay_bias)
        self.apply_lr = bool(apply_lr)
        self.is_bias = is_bias

    def _bias(self, name) -> bool:
        if self.is_bias is None:
            return default_is_bias(name)
        if callable(self.is_bias):
            return bool(self.is_bias(name))
        return name in set(self.is_bias)

    def coefficients(self, name) -> tuple[float, float, float]:
        """(l1, l2, weight_decay) for parameter `name`."""
        if self._bias(name):
            return self.l1_bias, self.l2_bias, self.weight_decay_bias
        return self.l1, self.l2, self.weight_decay

    def gradient(self, s, name, p, g):
        """g + l2 * w + l1 * sign(w) (DL4J's L1/L2, before the updater)."""
        l1, l2, _ = self.coefficients(name)
        if l2:
            g = s.add(g, s.mul(p, l2))
        if l1:
            g = s.add(g, s.mul(s.unary("Sign", p), l1))
        return g

    def get_config(self) -> dict:
        config = {k: getattr(self, k) for k in ("l1", "l2", "l1_bias", "l2_bias", "weight_decay",
                                                "weight_decay_bias", "apply_lr")}
        if self.is_bias is not None and not callable(self.is_bias):
            config["is_bias"] = sorted(self.is_bias)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<Regularization {self.get_config()}>"


class Exclusion:
    """Keras's `exclude_from_weight_decay`: exact names (`var_list`) and substrings/regexes (`var_names`)."""

    def __init__(self, var_list=None, var_names=None):
        self.names = set(var_list or ())
        self.pattern = re.compile("|".join(sorted(set(var_names)))) if var_names else None

    def excluded(self, name: str) -> bool:
        return name in self.names or (self.pattern is not None and self.pattern.search(name) is not None)
