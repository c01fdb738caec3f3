"""`Loss`: the shared part of every loss graph builder.

A loss emits standard ONNX ops through an `Emitter` (see `graphc/nn/base.py`): `per_sample` builds
the loss of each sample (reduced over the class/feature axis, as Keras's loss functions do), and
`__call__` applies masks, per-sample weights and class weights and then Keras's reduction
(`sum_over_batch_size` by default: the weighted sum divided by the number of loss values).
Only ops with ordinary gradient rules are emitted for the math on predictions (no ArgMax, no Where),
so the same graph serves the training step's autodiff.
"""
from __future__ import annotations

import numpy as np
from onnx import helper

from graphc.errors import ShapeError

EPSILON = 1e-7  # keras.backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


class Loss:
    """Base class. Subclasses implement `per_sample(em, y_true, y_pred)`; Keras's constructor keys."""

    keras_name = ""  # Keras's function name, the default `name`
    sparse = False  # labels are class indices

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None, dtype=None):
        if reduction not in REDUCTIONS:
            raise ShapeError(f"loss {type(self).__name__}: reduction {reduction!r} is not one of "
                             f"{[r for r in REDUCTIONS if r]}")
        self.reduction = reduction
        self.name = name or self.keras_name or type(self).__name__
        self.dtype = dtype

    # ---- what subclasses write ---------------------------------------------------------
    def per_sample(self, em, y_true, y_pred):
        raise NotImplementedError

    def _extra_config(self) -> dict:
        return {}

    # ---- the scalar ----------------------------------------------------------------------
    def __call__(self, em, y_true, y_pred, sample_weight=None, mask=None, class_weight=None):
        """The reduced loss (a scalar value of `em`'s graph; per-sample values for reduction 'none').

        `sample_weight`: a value broadcast over the per-sample losses (shape (batch,) or that of the
        losses, e.g. (batch, time)); `mask`: a value over the same leading axes as the losses (1 keeps
        a step, 0 drops it; as in Keras the kept steps are rescaled so the mean is over them only);
        `class_weight`: a dict {class: weight} or a sequence, turned into per-sample weights by the
        labels (one-hot rows pick their class; index labels index it), as Keras's `fit` does.
        """
        y_true, y_pred = self._check(em, y_true, y_pred)
        losses = self.per_sample(em, y_true, y_pred)
        weight = None
        if class_weight is not None:
            weight = self._class_weights(em, y_true, y_pred, class_weight)
        if sample_weight is not None:
            sw = _as_float(em, _value(em, sample_weight, "sample_weight"), em.type(losses).dtype)
            weight = sw if weight is None else em.op("Mul", _align(em, weight, em.rank(sw)), sw)
        if mask is not None:
            m = _as_float(em, _value(em, mask, "mask"), em.type(losses).dtype)
            if self.reduction in ("sum_over_batch_size", "mean"):
                # the mean over the kept steps: scale by total/valid (0 where nothing is kept)
                frac = em.reduce("ReduceMean", m, list(range(em.rank(m))), keepdims=False)
                m = em.op("Div", m, em.op("Max", frac, em.const(np.finfo(np.float32).tiny)))
            weight = m if weight is None else em.op("Mul", _align(em, weight, em.rank(m)), m)
        if weight is not None:
            weight = _match_rank(em, weight, em.rank(losses), self.name)
            losses = em.op("Mul", losses, weight)
        return self._reduce(em, losses, weight)

    def _reduce(self, em, losses, weight):
        if self.reduction in ("none", None) or em.rank(losses) == 0:
            return losses
        axes = list(range(em.rank(losses)))
        if self.reduction == "sum":
            return em.reduce("ReduceSum", losses, axes, keepdims=False)
        if self.reduction == "mean_with_sample_weight" and weight is not None:
            total = em.reduce("ReduceSum", losses, axes, keepdims=False)
            wsum = em.reduce("ReduceSum", em.op("Expand", weight, em.op("Shape", losses)), axes, keepdims=False)
            return em.op("Div", total, wsum)
        return em.reduce("ReduceMean", losses, axes, keepdims=False)  # sum / number of values

    # ---- labels against predictions --------------------------------------------------------
    def _check(self, em, y_true, y_pred):
        tt, tp = em.type(y_true), em.type(y_pred)
        what = f"loss {self.name!r} ({type(self).__name__})"
        if np.dtype(tp.dtype).kind != "f":
            raise ShapeError(f"{what}: predictions must be floating point, got {np.dtype(tp.dtype).name} "
                             f"(labels {_fmt(tt.shape)}, predictions {_fmt(tp.shape)})")
        if np.dtype(tt.dtype).kind not in "fiub":
            raise ShapeError(f"{what}: labels of dtype {np.dtype(tt.dtype).name} cannot be compared with "
                             f"predictions; give numeric labels (labels {_fmt(tt.shape)}, predictions "
                             f"{_fmt(tp.shape)})")
        st, sp = tuple(tt.shape), tuple(tp.shape)
        if self.sparse:
            if len(st) == len(sp) and st and st[-1] == 1:
                y_true, st = em.squeeze(y_true, [len(st) - 1]), st[:-1]
            if len(st) != len(sp) - 1 or not _dims_fit(st, sp[:-1]):
                raise ShapeError(f"{what}: labels {_fmt(tt.shape)} must be class indices of shape "
                                 f"{_fmt(sp[:-1])} (or with a trailing 1) for predictions {_fmt(sp)}")
            return y_true, y_pred
        if np.dtype(tt.dtype) != np.dtype(tp.dtype):
            y_true = cast(em, y_true, tp.dtype)
        # Keras's squeeze_or_expand_to_same_rank: a trailing 1 on either side is dropped
        if len(st) == len(sp) + 1 and st[-1] == 1:
            y_true, st = em.squeeze(y_true, [len(st) - 1]), st[:-1]
        elif len(sp) == len(st) + 1 and sp[-1] == 1:
            y_true, st = em.unsqueeze(y_true, [len(st)]), st + (1,)
        if len(st) != len(sp) or not _dims_fit(st, sp):
            raise ShapeError(f"{what}: labels of shape {_fmt(tt.shape)} do not fit predictions of shape "
                             f"{_fmt(tp.shape)}; give labels shaped like the predictions")
        return y_true, y_pred

    def _class_weights(self, em, y_true, y_pred, class_weight):
        n = em.shape(y_pred)[-1]
        if isinstance(class_weight, dict):
            table = np.ones(max([n if isinstance(n, int) else 0] + [int(k) + 1 for k in class_weight]), np.float32)
            for k, v in class_weight.items():
                table[int(k)] = v
        else:
            table = np.asarray(class_weight, np.float32).reshape(-1)
        if not self.sparse and isinstance(n, int) and n > 1:
            if table.shape[0] != n:
                raise ShapeError(f"loss {self.name!r}: class_weight has {table.shape[0]} entries for "
                                 f"{n} classes; give one weight per class")
            # one-hot rows pick their class's weight
            return em.op("MatMul", y_true, em.const(table, name="class_weight"))
        idx = y_true if self.sparse else em.squeeze(y_true, [em.rank(y_true) - 1])
        idx = cast(em, em.op("Round", idx) if np.dtype(em.type(idx).dtype).kind == "f" else idx, np.int64)
        return em.op("Gather", em.const(table, name="class_weight"), idx, axis=0)

    # ---- Keras config ---------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, **self._extra_config()}

    @classmethod
    def from_config(cls, config: dict):
        config = {k: v for k, v in config.items() if k != "dtype"}
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if not isinstance(d, int) else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _dims_fit(a, b) -> bool:
    return all(x == y or not isinstance(x, int) or not isinstance(y, int) for x, y in zip(a, b))


def _value(em, v, name: str):
    """A graph value as it is; an array (per-sample weights, a mask known up front) as a Constant."""
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str):
        return v
    return em.const(np.asarray(v, np.float32), name=name)


def cast(em, v, dtype):
    if np.dtype(em.type(v).dtype) == np.dtype(dtype):
        return v
    return em.op("Cast", v, to=int(helper.np_dtype_to_tensor_dtype(np.dtype(dtype))))


_as_float = cast


def _align(em, w, rank: int):
    """Trailing unit axes so a per-sample weight of rank r broadcasts over (batch, time, ...)."""
    r = em.rank(w)
    return em.unsqueeze(w, list(range(r, rank))) if r < rank else w


def _match_rank(em, w, rank: int, name: str):
    r = em.rank(w)
    if r > rank:
        shape = em.shape(w)
        if all(d == 1 for d in shape[rank:]):
            return em.squeeze(w, list(range(rank, r)))
        raise ShapeError(f"loss {name!r}: weights of shape {_fmt(shape)} have more axes than the "
                         f"per-sample losses (rank {rank})")
    return _align(em, w, rank)


def mean_last(em, x, axis=-1):
    return em.reduce("ReduceMean", x, [axis], keepdims=False)


def sum_last(em, x, axis=-1):
    return em.reduce("ReduceSum", x, [axis], keepdims=False)


def scalar(em, value, like):
    """A constant of `like`'s dtype."""
    return em.const(np.asarray(value, np.dtype(em.type(like).dtype)))
