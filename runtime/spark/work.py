"""What a Spark task computes for the trainer, on the executor: one function per mode, called the
same way whichever transport (a job per iteration, or the driver's socket loop, loop.py) carries it.

A work object is small and pickles into the task closure; it holds the shipped graph (shipping.py:
its session is built once per executor process) and the flat layouts (params.py). Called with the
task's stacked partitions `[(index, xs, ys), ...]`, the driver's round header and its payload (one
flat float32 buffer), it returns one `(index, meta, buffer)` per partition that had samples:

- `GradientWork` (accumulate): the summed gradient of the partition's slice `[start, stop)` and n x
  the state updates (BatchNormalization's moving statistics), at the parameters in the payload;
- `AveragingWork` (average): `steps` local train steps with the fused train-step graph, starting
  from the payload's parameters AND updater state, each on the next `batch` samples of the
  partition (the same slices the accumulate mode would read); its new parameters and updater state.

`fault` (faults.py) is called before each partition's work: the tests inject a failed task attempt
or a killed Python worker there.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from graphc.runtime.spark.params import Layout


def _labels(feed: dict, label_names, ys, sl: slice, n: int) -> None:
    for name, y in zip(label_names, ys):
        feed[f"y:{name}"] = y[sl]
        feed[f"sample_weight:{name}"] = np.ones(n, np.float32)


def _attempt() -> int:
    from pyspark import TaskContext

    ctx = TaskContext.get()
    return ctx.attemptNumber() if ctx is not None else 0


@dataclass(frozen=True)
class GradientWork:
    shipped: object  # ShippedGraph of the gradient graph (sum-reduction losses)
    layout: Layout  # parameters + frozen Variables
    glayout: Layout  # gradients (trainable parameters)
    ulayout: Layout  # state updates
    input_names: tuple
    label_names: tuple
    fault: object = None

    def __call__(self, parts, header: dict, payload: np.ndarray):
        exe = None
        sl = slice(header["start"], header["stop"])
        out = []
        for index, xs, ys in parts:
            if self.fault is not None:
                self.fault(header["iteration"], index, _attempt())
            n = len(xs[0][sl])
            if n == 0:
                continue
            t0 = time.perf_counter()
            exe = exe or self.shipped.executable()
            feed = dict(self.layout.unflatten(payload))
            feed.update({k: a[sl] for k, a in zip(self.input_names, xs)})
            _labels(feed, self.label_names, ys, sl, n)
            wanted = set(exe.input_names)
            res = exe.run(**{k: v for k, v in feed.items() if k in wanted})
            buf = np.empty(self.glayout.size + self.ulayout.size, np.float32)
            self.glayout.flatten({g: res[f"grad:{g}"] for g in self.glayout.names}, out=buf[:self.glayout.size])
            self.ulayout.flatten({u: res[f"update:{u}"] for u in self.ulayout.names}, out=buf[self.glayout.size:])
            buf[self.glayout.size:] *= np.float32(n)
            out.append((index, {"n": n, "loss": float(res["loss"]), "compute": time.perf_counter() - t0}, buf))
        return out


@dataclass(frozen=True)
class AveragingWork:
    shipped: object  # ShippedGraph of the fused train step (the model's own losses)
    layout: Layout  # parameters + frozen Variables
    slayout: Layout  # updater state
    params: tuple  # trainable names (the rest of `layout` is frozen / moving statistics)
    updates: dict  # Variable -> its `update:` output
    input_names: tuple
    label_names: tuple
    lr_input: bool
    fault: object = None

    def __call__(self, parts, header: dict, payload: np.ndarray):
        exe = None
        b, span, first, steps = header["batch"], header["span"], header["first"], header["steps"]
        out = []
        for index, xs, ys in parts:
            if self.fault is not None:
                self.fault(header["iteration"], index, _attempt())
            t0 = time.perf_counter()
            exe = exe or self.shipped.executable()
            wanted = set(exe.input_names)
            buf = payload.copy()  # this partition's own copy: parameters then updater state
            values = self.layout.unflatten(buf[:self.layout.size])
            state = self.slayout.unflatten(buf[self.layout.size:])
            n_total, loss = 0, 0.0
            for j in range(steps):
                start = ((first + j) * b) % span
                sl = slice(start, start + b)
                n = len(xs[0][sl])
                if n == 0:  # this partition has no samples at this step: it sits it out
                    continue
                feed = dict(values)
                feed.update({f"state:{s}": a for s, a in state.items()})
                feed.update({k: a[sl] for k, a in zip(self.input_names, xs)})
                _labels(feed, self.label_names, ys, sl, n)
                feed["step"] = np.asarray(header["step"] + j, np.int64)
                if self.lr_input:
                    feed["learning_rate"] = np.asarray(header["lr"], np.float32)
                res = exe.run(**{k: v for k, v in feed.items() if k in wanted})
                for p in self.params:
                    values[p][...] = res[f"new_param:{p}"]
                for v, o in self.updates.items():
                    values[v][...] = res[o]
                for s in state:
                    state[s][...] = res[f"new_state:{s}"]
                n_total += n
                loss += float(res["loss"]) * n
            if n_total:
                out.append((index, {"n": n_total, "loss": loss, "compute": time.perf_counter() - t0}, buf))
        return out
