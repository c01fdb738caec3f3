"""The Keras front door on every graphc model: `compile` configures training, `fit` runs epochs of
train steps with callbacks and validation, `evaluate`/`test_on_batch` compute the loss and metrics
in inference mode, `train_on_batch` makes one step.

Data: numpy arrays, lists in input order, dicts by input/output name, or a `graphc.data`
iterator (its batches as they come). Per-sample weights multiply each sample's loss; a
`class_weight` dict becomes per-sample weights by the labels, as in Keras. A NaN or infinite loss
stops training with a `TrainingError`; the model keeps the weights from before that batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphc import backends
from graphc.callbacks import CallbackList, History, ProgbarLogger, TerminateOnNaN
from graphc.errors import GraphcError
from graphc.ir import Graph
from graphc.nn.base import BATCH, Emitter
from graphc.training.metrics import Mean, resolve, tracker_for
from graphc.training.step import TrainingError, is_schedule, trainer_class  # noqa: F401 (is_schedule: model.py)

EXECUTABLE_KEYS = ("target", "opt_level", "backend", "threads", "ort_level", "fallback", "portable")
KERAS_IGNORED = ("weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")


@dataclass
class TrainingConfig:
    optimizer: object
    losses: list
    metrics: list = field(default_factory=list)   # per output: [(name, fn)]
    loss_weights: object = None
    trainer: object = None
    signature: tuple = ()


def compile(model, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs) -> None:
    """Keras's `model.compile`: configure training (nothing is built until the first step)."""
    from graphc import losses as L
    from graphc import optimizers as O

    wrong = [k for k in kwargs if k in EXECUTABLE_KEYS]
    if wrong:
        raise TrainingError(f"model.compile configures training as in Keras (optimizer=, loss=, metrics=); "
                            f"{wrong} build an executable: use graphc.compile(model, ...) or "
                            f"model.executable(...)")
    unknown = [k for k in kwargs if k not in KERAS_IGNORED]
    if unknown:
        raise TrainingError(f"model.compile: unknown argument(s) {unknown}")
    if loss is None:
        raise TrainingError(f"model {model.name!r}: compile needs a loss (e.g. loss='mse')")
    outputs = model.output_names
    if isinstance(loss, dict):
        missing = [o for o in outputs if o not in loss]
        if missing or set(loss) - set(outputs):
            raise TrainingError(f"loss dict {sorted(loss)} must name each output {outputs}")
        loss = [loss[o] for o in outputs]
    elif not isinstance(loss, (list, tuple)):
        loss = [loss] * len(outputs)
    if len(loss) != len(outputs):
        raise TrainingError(f"{len(loss)} losses for the {len(outputs)} outputs {outputs}; give one per output")
    losses = [L.get(x) for x in loss]
    if isinstance(loss_weights, dict):
        loss_weights = [loss_weights.get(o, 1.0) for o in outputs]
    if isinstance(metrics, dict):
        metrics = [metrics.get(o, []) for o in outputs]
    elif metrics and len(outputs) > 1 and all(isinstance(m, (list, tuple)) for m in metrics):
        metrics = list(metrics)
    else:
        metrics = [list(metrics or [])] * len(outputs)
    per_output = [[resolve(m, lf) for m in (ms if isinstance(ms, (list, tuple)) else [ms])]
                  for ms, lf in zip(metrics, losses)]
    model._training = TrainingConfig(O.get(optimizer), losses, per_output, loss_weights)


def _config(model) -> TrainingConfig:
    cfg = model.__dict__.get("_training")
    saved = model.__dict__.get("saved_compile_config")
    if cfg is None and saved is not None and saved.get("loss") is not None:
        # a .keras file's compile_config, as Keras's load_model compiles (no loss: never compiled)
        try:
            compile(model, optimizer=saved.get("optimizer") or "rmsprop", loss=saved.get("loss"),
                    metrics=saved.get("metrics"), loss_weights=saved.get("loss_weights"))
        except GraphcError as e:
            raise TrainingError(f"model {model.name!r}: its file's compile_config cannot be used ({e}); "
                                f"call model.compile(optimizer=..., loss=...)") from None
        cfg = model.__dict__.get("_training")
    if cfg is None:
        raise TrainingError(f"model {model.name!r} is not compiled for training: call "
                            f"model.compile(optimizer=..., loss=...) first")
    return cfg


def _signature(model) -> tuple:
    """What the train step depends on beyond the config: which weights train."""
    return tuple((w.layer.name, w.name, bool(w.trainable and w.layer.trainable))
                 for w in getattr(model, "weights", ()))


def trainer(model, labels):
    """The model's trainer, built on first use and again when trainable flags change."""
    cfg = _config(model)
    sig = _signature(model)
    if cfg.trainer is None or cfg.signature != sig:
        if cfg.trainer is not None:
            cfg.trainer.sync()
        cls = trainer_class()
        cfg.trainer, cfg.signature = cls(model, cfg.losses, cfg.optimizer, labels, cfg.loss_weights), sig
    return cfg.trainer


def sync(model) -> None:
    """Write a trainer's resident parameters back into the model (no-op when none trains it)."""
    cfg = model.__dict__.get("_training")
    if cfg is not None and cfg.trainer is not None:
        cfg.trainer.sync()


# ---- data ------------------------------------------------------------------------------------
def _by_names(what, data, names, model_name) -> list:
    if data is None:
        return [None] * len(names)
    if isinstance(data, dict):
        unknown = set(data) - set(names)
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise TrainingError(f"model {model_name!r}: {what} dict keys {sorted(data)} must be {names}")
        return [np.asarray(data[n]) for n in names]
    if isinstance(data, (list, tuple)) and len(names) > 1:
        if len(data) != len(names):
            raise TrainingError(f"model {model_name!r}: {len(data)} {what} arrays for {names}")
        return [np.asarray(d) for d in data]
    return [np.asarray(data)]


def _class_weights(y: np.ndarray, class_weight: dict) -> np.ndarray:
    idx = np.argmax(y, -1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0].astype(np.int64)
    idx = idx.reshape(len(y), -1)[:, 0] if idx.ndim > 1 else idx
    return np.asarray([class_weight.get(int(i), 1.0) for i in idx], np.float32)


class Arrays:
    """x, y, sample weights as lists of arrays (inputs, outputs, outputs), cut into batches."""

    def __init__(self, model, x, y, sample_weight=None, class_weight=None):
        self.xs = model._normalize_inputs(x)
        self.ys = _by_names("y", y, model.output_names, model.name)
        if any(v is None for v in self.ys):
            raise TrainingError(f"model {model.name!r}: training needs labels y for the outputs {model.output_names}")
        self.n = len(self.xs[0]) if self.xs and self.xs[0].ndim else 0
        if self.n == 0:
            raise TrainingError(f"model {model.name!r}: the data set is empty (0 samples); give at least one sample")
        for name, a in zip(model.output_names, self.ys):
            if len(a) != self.n:
                raise TrainingError(f"model {model.name!r}: {self.n} input samples but {len(a)} labels for "
                                    f"output {name!r}")
        sws = _by_names("sample_weight", sample_weight, model.output_names, model.name)
        self.sws = [np.ones(self.n, np.float32) if s is None else np.asarray(s, np.float32).reshape(self.n)
                    for s in sws]
        if class_weight:
            self.sws = [s * _class_weights(y, class_weight) for s, y in zip(self.sws, self.ys)]

    def take(self, idx):
        return [a[idx] for a in self.xs], [a[idx] for a in self.ys], [a[idx] for a in self.sws]

    def split(self, fraction):
        """(train, validation): the last `fraction` of the samples validate, as in Keras."""
        cut = int(self.n * (1 - fraction))
        if cut <= 0 or cut >= self.n:
            raise TrainingError(f"validation_split={fraction} leaves no samples to train or to validate "
                                f"of {self.n}")
        a, b = _Slice(self, slice(0, cut)), _Slice(self, slice(cut, None))
        return a, b

    def batches(self, batch_size, shuffle=False, rng=None):
        order = rng.permutation(self.n) if shuffle else np.arange(self.n)
        for start in range(0, self.n, batch_size):
            yield self.take(order[start:start + batch_size])


class _Slice(Arrays):
    def __init__(self, parent, s):
        self.xs, self.ys, self.sws = ([a[s] for a in parent.xs], [a[s] for a in parent.ys],
                                      [a[s] for a in parent.sws])
        self.n = len(self.xs[0])


class Iterated:
    """Batches from a `graphc.data` iterator (or any iterable of (x, y[, sample_weight]))."""

    def __init__(self, model, source):
        self.model, self.source = model, source

    def batches(self, batch_size=None, shuffle=False, rng=None):
        if hasattr(self.source, "reset"):
            self.source.reset()
        for b in self.source:
            x, y, sw = (b.features, b.labels, b.sample_weight) if hasattr(b, "features") else \
                (tuple(b) + (None,))[:3]
            yield Arrays(self.model, x, y, sw).take(slice(None))

    def __len__(self):
        return len(self.source)


def _data(model, x, y, sample_weight=None, class_weight=None):
    if y is None and not isinstance(x, (np.ndarray, list, tuple, dict)):
        return Iterated(model, x)
    return Arrays(model, x, y, sample_weight, class_weight)


# ---- running ------------------------------------------------------------------------------------
def _metric_logs(cfg, model, trackers, ys, preds):
    for (o, ms), y, p in zip(zip(model.output_names, cfg.metrics), ys, preds):
        for name, fn in ms:
            key = name if len(model.output_names) == 1 else f"{o}_{name}"
            trackers.setdefault(key, tracker_for(fn)).update(fn(y, p))


def check_metrics(cfg, model, ys) -> None:
    """Metrics that can tell from the shapes that they will fail do so before any step changes a weight."""
    g = model.graph
    for (_, v), ms, y in zip(g.outputs, cfg.metrics, ys):
        for _, fn in ms:
            if hasattr(fn, "check"):
                fn.check(np.shape(y), tuple(g.type_of(v).shape))


def train_on_batch(model, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    cfg = _config(model)
    xs, ys, sws = Arrays(model, x, y, sample_weight, class_weight).take(slice(None))
    check_metrics(cfg, model, ys)
    loss, preds = _step(model, cfg, xs, ys, sws, "train_on_batch")
    trackers = {}
    _metric_logs(cfg, model, trackers, ys, preds)
    return _result({"loss": loss, **{k: t.result() for k, t in trackers.items()}}, return_dict)


def _step(model, cfg, xs, ys, sws, where):
    t = trainer(model, ys)
    loss, preds = t.train_step(xs, ys, sws)
    if not np.isfinite(loss):
        raise TrainingError(f"model {model.name!r}: the loss is {loss} at {where}; the weights are those before "
                            f"that batch. Lower the learning rate, or check the data for NaN/Inf")
    return loss, preds


def _result(logs, return_dict):
    if return_dict:
        return logs
    vals = list(logs.values())
    return vals[0] if len(vals) == 1 else vals


def shuffle_seed(model, seed=None) -> int:
    """The seed of `fit`'s shuffling: `seed` when given, else the model's (from an earlier fit or a
    checkpoint), else a fresh one; kept on the model so that a checkpoint records it."""
    if seed is None:
        seed = model.__dict__.get("shuffle_seed")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (1 << 63))
    model.shuffle_seed = int(seed)
    return model.shuffle_seed


def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, seed=None, **kwargs) -> History:
    """Keras's `fit`: a `History`; the model's weights are written when it returns."""
    cfg = _config(model)
    batch_size = batch_size or 32
    data = _data(model, x, y, sample_weight, class_weight)
    val = None
    if validation_data is not None:
        val = validation_data if isinstance(validation_data, Iterated) else \
            (_data(model, *validation_data) if isinstance(validation_data, tuple) else Iterated(model, validation_data))
    elif validation_split:
        if not isinstance(data, Arrays):
            raise TrainingError("validation_split needs array data; give validation_data with an iterator")
        data, val = data.split(validation_split)
    steps = len(data) if isinstance(data, Iterated) else -(-data.n // batch_size)
    history = History()
    cbs = list(callbacks or [])
    if verbose:
        cbs.insert(0, ProgbarLogger(verbose))
    # History last, as Keras adds it: it records what the other callbacks put into the logs
    cbl = CallbackList(cbs + [history], model, {"epochs": epochs, "steps": steps, "verbose": verbose})
    order_seed = shuffle_seed(model, seed)
    model.stop_training = False
    cbl.on_train_begin()
    logs = {}
    try:
        for epoch in range(initial_epoch, epochs):
            cbl.on_epoch_begin(epoch)
            loss_mean, trackers = Mean(), {}
            seen = 0
            # each epoch's order comes from (seed, epoch) alone, so a resumed run shuffles as one never stopped
            rng = np.random.default_rng([order_seed, epoch])
            for i, (xs, ys, sws) in enumerate(data.batches(batch_size, shuffle, rng)):
                seen += 1
                if seen == 1 and epoch == initial_epoch:
                    check_metrics(cfg, model, ys)
                loss, preds = trainer(model, ys).train_step(xs, ys, sws)
                logs = {"loss": loss}
                if np.isfinite(loss):
                    loss_mean.update(loss, len(xs[0]))
                    _metric_logs(cfg, model, trackers, ys, preds)
                    logs = {"loss": loss_mean.result(), **{k: t.result() for k, t in trackers.items()}}
                cbl.on_train_batch_end(i, logs)
                if not np.isfinite(loss):
                    raise TrainingError(f"model {model.name!r}: the loss is {loss} at epoch {epoch + 1}, batch "
                                        f"{i + 1}; training stopped and that batch changed no weight of the "
                                        f"model. Lower the learning rate, or check the data for NaN/Inf")
                if steps_per_epoch and seen >= steps_per_epoch:
                    break
            if seen == 0:
                raise TrainingError(f"model {model.name!r}: the data set gave no batch; give at least one sample")
            if val is not None:
                logs.update({f"val_{k}": v for k, v in evaluate(model, val, batch_size=batch_size,
                                                                  return_dict=True).items()})
            model.epochs_done = epoch + 1  # what a checkpoint records as its epoch
            cbl.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
    except TrainingError:
        cfg.trainer = None  # the model's weights stay as they were
        raise
    sync(model)
    cbl.on_train_end(logs)
    return history


# ---- evaluation ---------------------------------------------------------------------------------
def _eval_executable(model, cfg, ys):
    """Inference graph + losses: outputs `loss` then the predictions, compiled for the current weights."""
    key = (model.weights_version, tuple((y.dtype.str, y.shape[1:]) for y in ys))
    cached = model.__dict__.get("_eval_exe")
    if cached and cached[0] == key:
        return cached[1]
    from graphc.losses import combine
    from graphc.types import TensorType

    g = model.graph.copy()
    outs = list(g.outputs)
    em = Emitter(g)
    terms = []
    for (name, v), y, lf in zip(outs, ys, cfg.losses):
        yv = g.add_input(f"y:{name}", TensorType(np.dtype(y.dtype), (BATCH,) + tuple(y.shape[1:])))
        sw = g.add_input(f"sample_weight:{name}", TensorType(np.dtype(np.float32), (BATCH,)))
        try:
            terms.append(lf(em, yv, v, sample_weight=sw))
        except GraphcError as e:
            raise TrainingError(f"output {name!r}: {e}") from None
    g.outputs = []
    g.add_output("loss", combine(em, terms, cfg.loss_weights))
    for name, v in outs:
        g.add_output(name, v)
    exe = backends.compile(g, opt_level="O1")
    model._eval_exe = (key, exe)
    return exe


def evaluate(model, x=None, y=None, batch_size=None, verbose=0, sample_weight=None, return_dict=False, **kwargs):
    """Keras's `evaluate`: the mean loss (and metrics) over the data, in inference mode."""
    cfg = _config(model)
    sync(model)
    data = x if isinstance(x, (Arrays, Iterated)) else _data(model, x, y, sample_weight)
    loss_mean, trackers = Mean(), {}
    for xs, ys, sws in data.batches(batch_size or 32):
        res = _eval_executable(model, cfg, ys)(*xs, *[a for pair in zip(ys, sws) for a in pair])
        res = res if isinstance(res, list) else [res]
        loss_mean.update(float(res[0]), len(xs[0]))
        _metric_logs(cfg, model, trackers, ys, res[1:])
    return _result({"loss": loss_mean.result(), **{k: t.result() for k, t in trackers.items()}}, return_dict)


def test_on_batch(model, x, y=None, sample_weight=None, return_dict=False):
    return evaluate(model, x, y, batch_size=None if x is None else len(np.asarray(
        x if not isinstance(x, dict) else next(iter(x.values())))), sample_weight=sample_weight,
        return_dict=return_dict)


__all__ = ["compile", "evaluate", "fit", "sync", "test_on_batch", "train_on_batch", "trainer"]
