"""Keras's callbacks for `fit`: `History`, the progress bar, EarlyStopping, ModelCheckpoint (atomic),
CSVLogger, ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN.

A callback sees `self.model` (the graphc model; `model.stop_training = True` ends `fit` after the
epoch) and Keras's hooks with Keras's `logs` dicts. The learning rate a callback reads or sets is
`model.learning_rate` (the trainer's adjustable rate).
"""
from __future__ import annotations

import csv
import os
import sys
import tempfile
import time

import numpy as np


class Callback:
    model = None
    params: dict = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params: dict):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...


class CallbackList(Callback):
    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            c.set_model(model)
            c.set_params(params)

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda *a, **k: [getattr(c, name)(*a, **k) for c in object.__getattribute__(self, "callbacks")]
        return object.__getattribute__(self, name)


class History(Callback):
    """`fit`'s return value: `.history` {metric: [one value per epoch]}, `.epoch`."""

    def on_train_begin(self, logs=None):
        self.epoch, self.history = [], {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _fmt_logs(logs) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if isinstance(v, (int, float)))


class ProgbarLogger(Callback):
    """Keras's `verbose=1` line: `12/32 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step - accuracy: 0.5 - loss: 0.7`,
    redrawn in place; `verbose=2`: one line per epoch."""

    def __init__(self, verbose=1, stream=None):
        self.verbose, self.stream = verbose, stream

    def _out(self):
        return self.stream or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        if self.params.get("epochs"):
            print(f"Epoch {epoch + 1}/{self.params['epochs']}", file=self._out())

    def _line(self, done, logs, final=False):
        steps = self.params.get("steps") or done
        width = 20
        filled = int(width * done / steps) if steps else width
        elapsed = time.perf_counter() - self.start
        per = elapsed / max(done, 1)
        bar = "━" * filled + " " * (width - filled)
        logs_s = _fmt_logs(logs)
        return f"{done}/{steps} {bar} {elapsed:.0f}s {per * 1000:.0f}ms/step" + (f" - {logs_s}" if logs_s else "")

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose == 1:
            print("\r" + self._line(batch + 1, logs or {}), end="", file=self._out(), flush=True)

    def on_epoch_end(self, epoch, logs=None):
        line = self._line(self.params.get("steps") or 0, logs or {}, final=True)
        print(("\r" if self.verbose == 1 else "") + line, file=self._out(), flush=True)


class _Monitor(Callback):
    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        self.monitor, self.min_delta = monitor, abs(min_delta)
        if mode == "auto":
            mode = "max" if any(s in monitor for s in ("acc", "auc", "precision", "recall")) else "min"
        self.mode = mode

    def _better(self, current, best) -> bool:
        if best is None:
            return True
        return current < best - self.min_delta if self.mode == "min" else current > best + self.min_delta

    def _current(self, logs):
        return (logs or {}).get(self.monitor)


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs (Keras's keys)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights = 0, 0, self.baseline, None

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.wait = current, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch:
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(_Monitor):
    """Write the weights (a `.npz` of `get_weights()`, or `model.save` where the model has one and
    the path is not `.npz`; a resumable training checkpoint for a `.ckpt` path) after each epoch,
    atomically: to a temporary file, then renamed."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode)
        self.filepath, self.save_best_only, self.best = os.fspath(filepath), save_best_only, initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if self.save_best_only:
            if current is None or not self._better(current, self.best):
                return
            self.best = current
        path = self.filepath.format(epoch=epoch + 1, **(logs or {}))
        if path.endswith(".ckpt") and hasattr(self.model, "save_checkpoint"):  # resumable (training/checkpoint.py)
            self.model.save_checkpoint(path)
            return
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as f:
                np.savez(f, *self.model.get_weights())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


class CSVLogger(Callback):
    """One CSV row per epoch: `epoch` then the logs' keys, sorted."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.separator, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        self.keys = None
        self.file = open(self.filename, "a" if self.append else "w", newline="")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.writer(self.file, delimiter=self.separator)
            if not (self.append and self.file.tell()):
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *[logs.get(k, "NA") for k in self.keys]])
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


class LearningRateScheduler(Callback):
    """`schedule(epoch, lr) -> lr` at the start of every epoch."""

    def __init__(self, schedule, verbose=0):
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        self.model.learning_rate = float(self.schedule(epoch, self.model.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        logs["learning_rate"] = self.model.learning_rate


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` after `patience` epochs without improvement."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.cooldown, self.min_lr = factor, patience, cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter, self.best = 0, 0, None

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.learning_rate = max(self.model.learning_rate * self.factor, self.min_lr)
                self.cooldown_counter, self.wait = self.cooldown, 0
        logs["learning_rate"] = self.model.learning_rate


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite (graphc's `fit` then raises, with the
    weights as they were before the batch)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
