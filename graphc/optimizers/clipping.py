"""Gradient clipping (Keras) and gradient normalization (DL4J), on a dict {parameter: gradient value}.

Keras (`clipnorm`, `global_clipnorm`, `clipvalue`; at most one):
- clipnorm: each gradient g -> g * c / max(||g||, c);
- global_clipnorm: every gradient scaled by c * min(1/N, 1/c), N the norm of all of them together
  (a non-finite N makes the scale NaN, as in Keras);
- clipvalue: each element clipped to [-c, c].

DL4J's `GradientNormalization` modes, where a layer is a group of parameters (`layers`: a mapping
parameter name -> layer name, or a callable; by default the name's prefix before its last '/'):
- RenormalizeL2PerLayer: g / ||layer's gradients||;  RenormalizeL2PerParamType: g / ||g||;
- ClipElementWiseAbsoluteValue: each element clipped to [-threshold, threshold];
- ClipL2PerLayer / ClipL2PerParamType: g * t / max(norm, t), the norm over the layer / the parameter.
A zero norm leaves zero gradients (no 0/0).
"""
from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError

MODES = ("None", "RenormalizeL2PerLayer", "RenormalizeL2PerParamType", "ClipElementWiseAbsoluteValue",
         "ClipL2PerLayer", "ClipL2PerParamType")
_TINY = float(np.finfo(np.float32).tiny)


class ClippingError(GraphcError):
    """A clipping or gradient-normalization setting that cannot work."""


def default_layer(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else name


def _norm(s, grads):
    total = None
    for g in grads:
        sq = s.sum_squares(g)
        total = sq if total is None else s.add(total, sq)
    return s.sqrt(total)


def _scale_to(s, grads: dict, norm, threshold) -> dict:
    """Each gradient times t / max(norm, t): a norm above t is brought down to t."""
    factor = s.div(threshold, s.max(norm, threshold))
    return {n: s.mul(g, factor) for n, g in grads.items()}


def keras_clip(s, grads: dict, clipnorm=None, clipvalue=None, global_clipnorm=None) -> dict:
    if clipnorm and clipnorm > 0:
        out = {}
        for n, g in grads.items():
            out.update(_scale_to(s, {n: g}, _norm(s, [g]), clipnorm))
        return out
    if global_clipnorm and global_clipnorm > 0:
        norm = _norm(s, list(grads.values()))
        scale = s.mul(global_clipnorm, s.min(s.div(1.0, norm), 1.0 / global_clipnorm))
        scale = s.add(scale, s.sub(norm, norm))  # NaN for a non-finite norm, as Keras
        return {n: s.mul(g, scale) for n, g in grads.items()}
    if clipvalue and clipvalue > 0:
        return {n: s.em.op("Clip", g, s.c(-clipvalue), s.c(clipvalue)) for n, g in grads.items()}
    return dict(grads)


class GradientNormalization:
    """DL4J's gradient normalization of one mode, with `threshold` for the clipping modes."""

    def __init__(self, mode="None", threshold=1.0, layers=None):
        mode = _mode(mode)
        if mode.startswith("Clip") and not float(threshold) > 0:
            raise ClippingError(f"gradient normalization {mode}: threshold must be > 0, got {threshold!r}")
        self.mode, self.threshold, self.layers = mode, float(threshold), layers

    def _layer_of(self, name):
        if self.layers is None:
            return default_layer(name)
        if callable(self.layers):
            return self.layers(name)
        return self.layers.get(name, default_layer(name))

    def __call__(self, s, grads: dict) -> dict:
        mode, t = self.mode, self.threshold
        if mode == "None":
            return dict(grads)
        if mode == "ClipElementWiseAbsoluteValue":
            return {n: s.em.op("Clip", g, s.c(-t), s.c(t)) for n, g in grads.items()}
        if mode.endswith("PerLayer"):
            groups: dict[str, dict] = {}
            for n, g in grads.items():
                groups.setdefault(self._layer_of(n), {})[n] = g
        else:
            groups = {n: {n: g} for n, g in grads.items()}
        out = {}
        for group in groups.values():
            norm = _norm(s, list(group.values()))
            if mode.startswith("Renormalize"):
                inv = s.div(1.0, s.max(norm, _TINY))
                out.update({n: s.mul(g, inv) for n, g in group.items()})
            else:
                out.update(_scale_to(s, group, norm, t))
        return {n: out[n] for n in grads}

    def get_config(self) -> dict:
        config = {"mode": self.mode, "threshold": self.threshold}
        if isinstance(self.layers, dict):
            config["layers"] = dict(self.layers)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<GradientNormalization {self.mode} threshold={self.threshold}>"


def _mode(mode) -> str:
    name = getattr(mode, "name", mode)
    key = str(name).split(".")[-1].replace("_", "").lower()
    for m in MODES:
        if m.lower() == key:
            return m
    raise ClippingError(f"unknown gradient normalization {mode!r}; one of {list(MODES)}")
