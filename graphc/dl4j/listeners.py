"""DL4J's training listeners. A network calls `iteration_done(net, iteration, epoch)` after every
iteration (net.score() is that iteration's score, net.last_batch_size its mini-batch size) and
`on_epoch_start(net)` / `on_epoch_end(net)` around each pass over the data.

- ScoreIterationListener(n): prints (and keeps) the score every n iterations;
- PerformanceListener(n): samples/s, batches/s and, when the total is known, the ETA, every n;
- CollectScoresIterationListener(n): keeps (iteration, score); `export_scores` (CSV), `plot` (PNG);
- EvaluativeListener(data, n): an Evaluation of `data` every n iterations (or epochs);
- CheckpointListener(folder, ...): ModelSerializer files every n iterations/epochs, the last k kept.
"""
from __future__ import annotations

import math
import os
import time

from graphc.dl4j.builder import ConfigError


class TrainingListener:
    """What a network calls; a listener overrides the events it needs."""

    def iteration_done(self, net, iteration: int, epoch: int) -> None:
        return None

    def on_epoch_start(self, net) -> None:
        return None

    def on_epoch_end(self, net) -> None:
        return None


class ScoreIterationListener(TrainingListener):
    def __init__(self, print_iterations: int = 10, print_fn=print):
        self.every, self.print_fn = max(1, int(print_iterations)), print_fn
        self.lines: list[str] = []

    def iteration_done(self, net, iteration, epoch):
        if iteration % self.every == 0:
            line = f"Score at iteration {iteration} is {net.score()}"
            self.lines.append(line)
            if self.print_fn is not None:
                self.print_fn(line)


class PerformanceListener(TrainingListener):
    """Throughput between reports, measured on the wall clock (perf_counter); the ETA counts to
    `total_iterations`, else to the end of the running fit when its data has a length."""

    def __init__(self, frequency: int = 1, report_score: bool = False, total_iterations: int | None = None,
                 print_fn=print):
        self.every, self.report_score, self.total = max(1, int(frequency)), report_score, total_iterations
        self.print_fn = print_fn
        self.records: list[dict] = []
        self._last = None
        self._samples = self._batches = 0

    def iteration_done(self, net, iteration, epoch):
        now = time.perf_counter()
        self._samples += int(net.last_batch_size)
        self._batches += 1
        if self._last is None:  # the first iteration starts the clock (it includes compiling)
            self._last, self._samples, self._batches = now, 0, 0
            return
        if iteration % self.every:
            return
        dt = max(now - self._last, 1e-9)
        rec = {"iteration": iteration, "epoch": epoch, "samples_per_sec": self._samples / dt,
               "batches_per_sec": self._batches / dt, "eta_sec": None}
        total = self.total if self.total is not None else getattr(net, "expected_iterations", None)
        if total is not None:
            rec["eta_sec"] = max(0, total - iteration - 1) / rec["batches_per_sec"]
        if self.report_score:
            rec["score"] = net.score()
        self.records.append(rec)
        self._last, self._samples, self._batches = now, 0, 0
        if self.print_fn is not None:
            eta = "" if rec["eta_sec"] is None else f"; ETA {rec['eta_sec']:.1f} s"
            score = f"; score {rec['score']:.5f}" if self.report_score else ""
            self.print_fn(f"iteration {iteration}; {rec['samples_per_sec']:.1f} samples/sec; "
                          f"{rec['batches_per_sec']:.2f} batches/sec{eta}{score}")


class CollectScoresIterationListener(TrainingListener):
    def __init__(self, frequency: int = 1):
        self.every = max(1, int(frequency))
        self.scores: list[tuple[int, float]] = []

    def iteration_done(self, net, iteration, epoch):
        if iteration % self.every == 0:
            self.scores.append((iteration, float(net.score())))

    def export_scores(self, path, delimiter: str = ",") -> None:
        with open(path, "w") as f:
            f.write(f"Iteration{delimiter}Score\n")
            for i, s in self.scores:
                f.write(f"{i}{delimiter}{s!r}\n")

    def plot(self, path) -> str:
        """The scores against the iterations as a PNG (graphc/plot.py); returns how it was drawn."""
        from graphc.plot import plot_series

        finite = [(i, s) for i, s in self.scores if math.isfinite(s)]
        return plot_series(path, {"score": [s for _, s in finite]}, xlabel="iteration",
                           x={"score": [i for i, _ in finite]})


class EvaluativeListener(TrainingListener):
    """`net.evaluate(data)` every `frequency` iterations (or epochs, `invocation="epoch"`)."""

    def __init__(self, data, frequency: int = 1, invocation: str = "iteration", print_fn=print):
        if invocation not in ("iteration", "epoch"):
            raise ConfigError(f"EvaluativeListener: invocation {invocation!r} is not known; give "
                              f"invocation='iteration' (every `frequency` iterations) or 'epoch'")
        self.data, self.every, self.invocation, self.print_fn = data, max(1, int(frequency)), invocation, print_fn
        self.evaluations: list[tuple[int, object]] = []

    def _run(self, net, at):
        ev = net.evaluate(self.data)
        self.evaluations.append((at, ev))
        if self.print_fn is not None:
            self.print_fn(f"{self.invocation} {at}: accuracy {ev.accuracy():.4f}")

    def iteration_done(self, net, iteration, epoch):
        if self.invocation == "iteration" and iteration % self.every == 0:
            self._run(net, iteration)

    def on_epoch_end(self, net):
        if self.invocation == "epoch" and net.epoch_count % self.every == 0:
            self._run(net, net.epoch_count)


class CheckpointListener(TrainingListener):
    """`checkpoint_<n>_MultiLayerNetwork.zip` files in `folder` (n counts the checkpoints), every
    `save_every_n_iterations` and/or `save_every_n_epochs`; `keep_last` of them kept (None: all)."""

    def __init__(self, folder, save_every_n_iterations: int | None = None, save_every_n_epochs: int | None = None,
                 keep_last: int | None = None, save_updater: bool = True):
        if not save_every_n_iterations and not save_every_n_epochs:
            raise ConfigError(f"CheckpointListener({os.fspath(folder)!r}) would never save: give "
                              f"save_every_n_iterations=n or save_every_n_epochs=n (n >= 1)")
        self.folder = os.fspath(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.iterations, self.epochs = save_every_n_iterations, save_every_n_epochs
        self.keep_last, self.save_updater = keep_last, save_updater
        self.checkpoints: list[str] = []
        self._count = 0

    def _save(self, net):
        from graphc.dl4j.serializer import ModelSerializer

        path = os.path.join(self.folder, f"checkpoint_{self._count}_MultiLayerNetwork.zip")
        ModelSerializer.write_model(net, path, self.save_updater)
        self._count += 1
        self.checkpoints.append(path)
        while self.keep_last and len(self.checkpoints) > self.keep_last:
            os.unlink(self.checkpoints.pop(0))

    def iteration_done(self, net, iteration, epoch):
        if self.iterations and (iteration + 1) % self.iterations == 0:
            self._save(net)

    def on_epoch_end(self, net):
        if self.epochs and net.epoch_count % self.epochs == 0:
            self._save(net)

    def last_checkpoint(self) -> str | None:
        return self.checkpoints[-1] if self.checkpoints else None
