"""`SparkTrainer`: data-parallel training on Spark (issue 11): driver-side gradient accumulation
(DL4J's `ACCUM_GRADIENT` / `DIVIDE_ACCUM_GRADIENT`) and parameter averaging (DL4J's
`ParameterAveragingTrainingMaster`).

Once per `fit`: the data (an RDD of `(x, y)` numpy batches or samples, or a DataFrame) is stacked into one array
set per partition and cached on the executors; the graph the workers run is shipped once as ONNX bytes
(its session is built once per executor process, shipping.py); parameters travel as one flat
float32 buffer (params.py). What a task computes is in work.py; how a round reaches the tasks is
the transport: a Spark job per iteration (jobs.py) for the seed's full-batch step, and for
mini-batches ONE job spanning all iterations, its tasks looping on a driver-side socket (loop.py).
`transport="jobs" | "socket"` chooses one by hand; both give the same bits.

`mode="accumulate"`: the gradient graph (`build_train_step(fused=False)`) is built with each loss's
reduction set to "sum", so a partition's gradient is the SUM of its samples' gradients whatever the
compiled reduction. Per iteration partition p computes it on its slice `[i*b, (i+1)*b)` at the
broadcast parameters; the driver adds the buffers in partition order (a fixed order, so a run repeats
bit for bit; a job per iteration adds them on the executors in a fixed pairwise tree, jobs.py),
divides by the total sample count (`divide=True` or "samples": the gradient of the mean loss over
the concatenated batch), by the number of partitions that contributed (`divide="contributions"`:
DL4J's DIVIDE_ACCUM_GRADIENT) or not (`divide=False`: of the summed loss), and applies the
optimizer through the model's own `Trainer.apply_gradients` (its state lives on the driver). A partition whose slice is
empty in an iteration contributes nothing. State updates (BatchNormalization's moving statistics)
become the sample-weighted mean of the partitions' new values: exact for the moving mean, while the
moving variance gets the mean of the partitions' variances (without the spread of their means), as
DL4J's averaging did. Weight penalties (regularizers) and activity losses would be counted once per
partition, so a model with them is refused rather than trained differently.

`mode="average"`: per round the driver sends the parameters AND the updater state; each partition
runs `averaging_frequency` local steps of the compiled (fused) train step on its next slices of
`batch_size_per_worker` samples, and returns its parameters and updater state; the driver averages
both, weighted by the samples each partition trained on (equal partitions: DL4J's plain mean), in
partition order, and the optimizer's step count advances by `averaging_frequency`.

Faults: Spark retries a failed task (`spark.task.maxFailures`); a round's result is only used whole,
so the retry gives the fault-free parameters. `checkpoint=path, checkpoint_every=N` writes a driver
checkpoint (graphc.training.checkpoint: weights, updater state, step, the trainer's seed and random
draws, and the Spark iteration) every N iterations; `fit(..., resume=True)` goes on from it to the
same final parameters. The workers' own random ops (Dropout) draw per executor process and are not
part of that promise. A DataFrame (feature column(s) of arrays or ML vectors, a label column;
`features_col`, `label_col`) is read as numpy blocks per Arrow batch (blocks.py). Before any training
job the data's per-sample shapes are checked against the model's inputs (a ColumnError naming the
column or input, both sizes and the fix). A DL4J network (MultiLayerNetwork, ComputationGraph)
trains through the graphc model it holds (`.model`, sharing its layers' weights), so it holds the
trained weights afterwards and its `iteration_count` counts the updates.
"""
from __future__ import annotations

import copy
import math
import os
import re
import time

import numpy as np

from graphc.callbacks import History
from graphc.runtime.spark.errors import SparkError, job_failed, require_pyspark
from graphc.runtime.spark.params import Layout
from graphc.runtime.spark.timing import IterationRecord, Stopwatch, summary

MODES = ("accumulate", "average")
TRANSPORTS = ("auto", "jobs", "socket")
DIVIDES = {True: "samples", "samples": "samples", "contributions": "contributions", False: None}


def _as_list(v) -> list:
    return [np.asarray(a) for a in v] if isinstance(v, (list, tuple)) else [np.asarray(v)]


def _stack(ranks_x, ranks_y):
    """Partition function: its (x, y) elements as one list of arrays per side (batches concatenated,
    samples stacked); one element per partition, or none when the partition is empty."""
    def run(index, elements):
        # the arrays are listed as they come and joined once at the end: samples stacked, batches
        # concatenated, each list once (a DataFrame comes as a few batches of 10k rows, blocks.py)
        xs, ys = [[] for _ in ranks_x], [[] for _ in ranks_y]
        batched = None
        for x, y in elements:
            x, y = _as_list(x), _as_list(y)
            if len(x) != len(ranks_x) or len(y) != len(ranks_y):
                raise SparkError(f"partition {index}: an element has {len(x)} input and {len(y)} label arrays; "
                                 f"the model has {len(ranks_x)} inputs and {len(ranks_y)} outputs")
            # a sample (the inputs tell: labels may have any rank) is a batch of 1
            kind = x[0].ndim == ranks_x[0]
            if batched is not None and kind != batched:
                raise SparkError(f"partition {index}: it mixes (x, y) batches and samples; give one kind")
            batched = kind
            for p, a in zip(xs + ys, x + y):
                p.append(a)
        if batched is not None:
            join = np.concatenate if batched else np.stack
            yield index, [join(p) for p in xs], [join(p) for p in ys]
    return run


def _describe(part):
    index, xs, ys = part
    return index, len(xs[0]), [(a.dtype.str, a.shape[1:]) for a in xs], [(a.dtype.str, a.shape[1:]) for a in ys]


def _checkpoint_mode(path) -> str | None:
    """The SparkTrainer mode a checkpoint was written by (None: not by SparkTrainer, or unreadable:
    load_checkpoint then says what is wrong with the file)."""
    import json

    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["__meta__"])).get("extra", {}).get("mode")
    except (OSError, ValueError, KeyError):
        return None


def _graphc_model(model):
    """The graphc model a DL4J network (MultiLayerNetwork, ComputationGraph) holds in `.model` after
    `init()`; it shares the network's layers' weights, so training it trains the network. Any other
    model is itself."""
    from graphc.dl4j.graph.computation_graph import ComputationGraph
    from graphc.dl4j.multilayer import MultiLayerNetwork

    if not isinstance(model, (MultiLayerNetwork, ComputationGraph)):
        return model
    model._need_init()
    if isinstance(model, ComputationGraph):
        model._sync()  # the newest weights (a sequence-length model's trainer) into the shared layers
    else:
        from graphc.training.front import sync

        sync(model.model)
    return model.model


def task_slots(sc) -> int:
    """How many tasks the cluster runs at once (the socket loop needs all its tasks running)."""
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", sc.master)
    if m:
        return (os.cpu_count() or 1) if m.group(1) == "*" else int(m.group(1) or 1)
    try:  # registered executors' cores / spark.task.cpus
        jsc = sc._jsc.sc()
        return max(1, int(jsc.maxNumConcurrentTasks(jsc.resourceProfileManager().defaultResourceProfile())))
    except Exception:  # noqa: BLE001 - an older Spark without it: its default parallelism
        return max(1, sc.defaultParallelism)


class SparkTrainer:
    """Trains a compiled graphc model (`model.compile(optimizer=..., loss=...)`) on Spark.

    `mode="accumulate"`: driver-side gradient accumulation; `divide`: the summed gradient over the
    samples of all partitions (True or "samples": the mean loss's gradient over the concatenated
    batch), over the partitions that had samples ("contributions": DL4J's DIVIDE_ACCUM_GRADIENT),
    or not divided (False: DL4J's ACCUM_GRADIENT). `mode="average"`: parameter averaging every
    `averaging_frequency` local steps. Both: `batch_size_per_worker` samples per partition per step
    (None: the whole partition, the seed's full-batch step); `iterations_per_epoch` (rounds in
    average mode): default one pass over the largest partition. `transport`: "auto" (a job per
    iteration for accumulate on whole partitions, else the socket loop), "jobs" or "socket";
    `workers`: tasks of the socket loop (default: the cluster's task slots, at most one per
    partition); `timeout`: seconds the driver waits for a round (and a task for the driver).
    `checkpoint`, `checkpoint_every`: a driver checkpoint every N iterations; `fault`: an injected
    fault (faults.FailOnce), for tests."""

    def __init__(self, model, mode: str = "accumulate", spark=None, batch_size_per_worker: int | None = None,
                 divide: bool | str = True, iterations_per_epoch: int | None = None, threads: int = 1,
                 features_col="features", label_col: str = "label", averaging_frequency: int = 1,
                 transport: str = "auto", workers: int | None = None, timeout: float = 300.0,
                 checkpoint=None, checkpoint_every: int | None = None, fault=None):
        if mode not in MODES:
            raise SparkError(f"SparkTrainer mode {mode!r}: the modes are {list(MODES)}")
        if transport not in TRANSPORTS:
            raise SparkError(f"SparkTrainer transport {transport!r}: choose one of {list(TRANSPORTS)}")
        for name, v in (("batch_size_per_worker", batch_size_per_worker), ("workers", workers),
                        ("checkpoint_every", checkpoint_every), ("iterations_per_epoch", iterations_per_epoch)):
            if v is not None and int(v) < 1:
                raise SparkError(f"{name}={v}: give a positive count or None (the default)")
        if int(averaging_frequency) < 1:
            raise SparkError(f"averaging_frequency={averaging_frequency}: give the number of local steps "
                             f"between averagings, 1 or more")
        if checkpoint_every is not None and checkpoint is None:
            raise SparkError("checkpoint_every needs checkpoint=<path of the .npz file to write>")
        if not timeout or timeout <= 0:
            raise SparkError(f"timeout={timeout}: give the seconds to wait for a round, more than 0")
        from graphc.training.front import _config

        self.network, model = model, _graphc_model(model)  # a DL4J network trains through its graphc model
        self.config = _config(model)  # a model without optimizer or loss fails here, before any job
        self.model, self.mode, self.spark = model, mode, spark
        if divide not in DIVIDES:
            raise SparkError(f"divide={divide!r}: give True or 'samples' (the mean over all samples), 'contributions' "
                             f"(DL4J's DIVIDE_ACCUM_GRADIENT: over the partitions that contributed) or False (the sum)")
        self.batch_size_per_worker, self.divide = batch_size_per_worker, DIVIDES[divide]
        self.iterations_per_epoch, self.threads = iterations_per_epoch, threads
        self.averaging_frequency = int(averaging_frequency) if mode == "average" else 1
        if transport == "auto":
            transport = "jobs" if mode == "accumulate" and batch_size_per_worker is None else "socket"
        self.transport, self.workers, self.timeout = transport, workers, float(timeout)
        self.checkpoint, self.checkpoint_every, self.fault = checkpoint, checkpoint_every, fault
        self.features_cols = [features_col] if isinstance(features_col, str) else list(features_col)
        self.label_col = label_col
        self.records: list[IterationRecord] = []
        self.loop = None  # the last fit's transport (its `hellos` list the task attempts that connected)

    def _session(self):
        require_pyspark("graphc.spark.SparkTrainer")
        if self.spark is None:
            from graphc.runtime.spark.session import get_or_create

            self.spark = get_or_create()
        return self.spark

    def _ranks(self):
        from graphc.model import graph_of

        g = graph_of(self.model)
        ranks_x = [len(g.type_of((n, 0)).shape) for n in self.model.input_names]
        ranks_y = [len(g.type_of(v).shape) for n, v in g.outputs if n in self.model.output_names]
        return ranks_x, ranks_y

    def _rows(self, df):
        """A DataFrame (feature column(s) of arrays or ML vectors, one label column) as an RDD of numpy
        batches, one per Arrow record batch (blocks.py), checked against the model's inputs first."""
        from graphc.model import graph_of
        from graphc.runtime.spark.blocks import frame_blocks
        from graphc.runtime.spark.columns import input_plans
        from graphc.runtime.spark.errors import ColumnError

        if len(self.model.output_names) != 1:
            raise ColumnError(f"model {self.model.name!r} has {len(self.model.output_names)} outputs; a DataFrame "
                              f"gives one label column: give an RDD of (x, [y, ...]) instead")
        names = self.model.input_names
        missing = [c for c in self.features_cols + [self.label_col] if c not in df.columns]
        if missing or len(self.features_cols) != len(names):
            raise ColumnError(f"SparkTrainer.fit: DataFrame columns {df.columns}; the model's inputs {names} need "
                              f"{len(names)} feature column(s) and a label column (features_col=, label_col=); "
                              + (f"missing {missing}" if missing else f"got features_col={self.features_cols}"))
        g = graph_of(self.model)
        what = f"SparkTrainer.fit (model {self.model.name!r})"
        plans = input_plans({n: g.type_of((n, 0)) for n in names}, label=what)
        return frame_blocks(df, plans, self.features_cols, self.label_col, what)

    def _prepare(self, data):
        if hasattr(data, "columns") and hasattr(data, "rdd"):
            data = self._rows(data)  # its columns checked against the inputs here, on the driver
        if not hasattr(data, "mapPartitionsWithIndex"):
            raise SparkError(f"SparkTrainer.fit: data is a {type(data).__name__}; give an RDD of (x, y) numpy "
                             f"batches or samples, or a DataFrame")
        ranks_x, ranks_y = self._ranks()
        parts = data.mapPartitionsWithIndex(_stack(ranks_x, ranks_y)).cache()
        try:
            described = sorted(parts.map(_describe).collect())  # also fills the cache on the executors
        except Exception as e:  # what only an executor sees: a later row of another length, an odd element
            parts.unpersist()
            raise job_failed(e, "SparkTrainer.fit: reading the data (before any training)") from None
        if not described:
            parts.unpersist()
            raise SparkError("SparkTrainer.fit: the data set is empty (no (x, y) element in any partition); "
                             "nothing was trained")
        have = {i for i, *_ in described}
        empty = [i for i in range(data.getNumPartitions()) if i not in have]
        if empty:
            parts.unpersist()
            raise SparkError(f"SparkTrainer.fit: partition(s) {empty} of {data.getNumPartitions()} hold no data; "
                             f"repartition the RDD (rdd.repartition(n) or coalesce) so that each has samples")
        kinds = {(tuple(x), tuple(y)) for _, _, x, y in described}
        if len(kinds) != 1:
            parts.unpersist()
            raise SparkError(f"SparkTrainer.fit: partitions differ in array dtypes/shapes {sorted(kinds)}; "
                             f"give every element the same")
        try:
            self._check_inputs(described[0][2])
        except SparkError:
            parts.unpersist()
            raise
        return parts, described

    def _check_inputs(self, xs) -> None:
        """The RDD's per-sample input shapes against the model's input types, before a training job:
        a wrong width would otherwise fail inside ONNX Runtime on an executor, after Spark's retries."""
        from graphc.model import graph_of
        from graphc.runtime.spark.errors import ColumnError

        g = graph_of(self.model)
        for i, (name, (_, shape)) in enumerate(zip(self.model.input_names, xs)):
            want = tuple(g.type_of((name, 0)).shape[1:])
            if len(want) == len(shape) and all(not isinstance(w, int) or w == s for w, s in zip(want, shape)):
                continue
            sizes = [d if isinstance(d, int) else "?" for d in want]
            raise ColumnError(f"SparkTrainer.fit: the data's input {i} comes as samples of shape {list(shape)}; the "
                              f"model {self.model.name!r}'s input {name!r} takes samples of shape {sizes}: give "
                              f"(x, y) batches of shape (n, {', '.join(map(str, sizes))}) or samples of that shape")

    def _grad_step(self, labels):
        from graphc.training.step import build_train_step

        cfg = self.config
        summed = []
        for loss in cfg.losses:  # sum over samples: partitions add up, the driver divides
            loss = copy.copy(loss)
            loss.reduction = "sum"
            summed.append(loss)
        spec = build_train_step(self.model, summed, cfg.optimizer, labels, cfg.loss_weights, fused=False)
        g = spec.graph
        if g.meta.get("losses") or any(getattr(w, "regularizer", None) is not None
                                       for w in getattr(self.model, "weights", ())):
            raise SparkError(f"model {self.model.name!r} has weight regularizers or activity losses, which "
                             f"gradient accumulation would count once per partition; remove them to train on Spark")
        return spec

    def _work(self, spark, tr, labels):
        """(the executors' work, the flat layout of the payload, of one result, the shipped graph)."""
        from graphc.passes import optimize_for_inference
        from graphc.runtime.spark.shipping import ship_graph
        from graphc.runtime.spark.work import AveragingWork, GradientWork

        names = lambda spec: spec.params + spec.frozen  # noqa: E731
        if self.mode == "accumulate":
            spec = self._grad_step(labels)
            # the O2 pipeline one process's trainer runs too (its Relu gradients avoid ORT's slow Where)
            shipped = ship_graph(spark, optimize_for_inference(spec.graph, "O2"), threads=self.threads)
            layout = Layout.of({n: tr.params[n].numpy() for n in names(spec)})
            glayout = Layout.of({n: tr.params[n].numpy() for n in spec.params})
            ulayout = Layout.of({n: tr.params[n].numpy() for n in spec.updates})
            work = GradientWork(shipped, layout, glayout, ulayout, tuple(self.model.input_names),
                                tuple(spec.outputs), self.fault)
            return work, [layout], glayout.size + ulayout.size, shipped
        spec = tr.spec  # the model's own fused train step, as one process runs it
        shipped = ship_graph(spark, optimize_for_inference(spec.graph, "O2"), threads=self.threads)
        layout = Layout.of({n: tr.params[n].numpy() for n in names(spec)})
        slayout = Layout.of({s: v.numpy() for s, v in tr.state.items()})
        work = AveragingWork(shipped, layout, slayout, tuple(spec.params), dict(spec.updates),
                             tuple(self.model.input_names), tuple(spec.outputs), spec.lr_input, self.fault)
        return work, [layout, slayout], layout.size + slayout.size, shipped

    def _transport(self, spark, parts, work, result_size):
        from graphc.runtime.spark.jobs import JobRounds
        from graphc.runtime.spark.loop import SocketLoop

        if self.transport == "jobs":
            return JobRounds(spark, parts, work, tree=self.mode == "accumulate")
        tasks = min(parts.getNumPartitions(), self.workers or task_slots(spark.sparkContext))
        loop_parts = parts.coalesce(tasks) if tasks < parts.getNumPartitions() else parts
        return SocketLoop(spark, loop_parts, loop_parts.getNumPartitions(), work, result_size, self.timeout)

    def _apply(self, tr, work, results, watch):
        """Add (accumulate) or average (average) the round's results in partition order and apply
        them; (samples, summed loss)."""
        count, loss = 0, 0.0
        with watch.phase("aggregate"):
            total = np.zeros(len(results[0][2]), np.float32) if results else None
            count = sum(meta["n"] for _, meta, _ in results)
            for _, meta, buf in results:  # fixed order: partition index
                # average: weights n/N (one partition: 1, exactly itself; two equal ones: 0.5 each)
                total += buf * (np.float32(meta["n"]) / np.float32(count)) if self.mode == "average" else buf
                loss += meta["loss"]
                c = meta["compute"]  # a job's tree sum carries its partitions' times as a list
                watch.record.compute.extend(c) if isinstance(c, list) else watch.record.compute.append(c)
            if count and self.mode == "accumulate":  # the moving statistics always, the gradient when asked
                total[work.glayout.size:] /= np.float32(count)
                if self.divide:  # contributions: the partitions that had samples this iteration
                    by = count if self.divide == "samples" else len(watch.record.compute)
                    total[:work.glayout.size] /= np.float32(by)
        if not count:
            return 0, 0.0
        if self.mode == "accumulate":
            g, moving = total[:work.glayout.size], total[work.glayout.size:]
            with watch.phase("update"):
                tr.apply_gradients(work.glayout.unflatten(g))
                for name, value in work.ulayout.unflatten(moving).items():
                    tr.params[name].update_inplace(np.ascontiguousarray(value))
            return count, loss
        with watch.phase("update"):
            for name, value in work.layout.unflatten(total[:work.layout.size]).items():
                tr.params[name].update_inplace(np.ascontiguousarray(value))
            for name, value in work.slayout.unflatten(total[work.layout.size:]).items():
                tr.state[name].update_inplace(np.ascontiguousarray(value))
            tr.step_count += self.averaging_frequency
            tr._dirty = True
        return count, loss

    def fit(self, data, epochs: int = 1, verbose: int = 0, resume: bool = False) -> History:
        """Train for `epochs` passes; the model then holds the trained weights. Returns a History with
        `history["loss"]` per epoch, `records` (one `IterationRecord` per iteration) and `summary()`.
        `resume=True`: go on from the `checkpoint` file when it exists (the epochs count from the start)."""
        from graphc.training.checkpoint import load_checkpoint, save_checkpoint
        from graphc.training.front import trainer

        spark = self._session()
        it, first = 0, len(self.records)
        if resume and self.checkpoint is not None and os.path.exists(self.checkpoint):  # before any job
            mode = _checkpoint_mode(self.checkpoint)
            if mode != self.mode:  # checked before the model is touched
                raise SparkError(f"{self.checkpoint}: written by SparkTrainer mode {mode!r}, this one trains mode "
                                 f"{self.mode!r}; resume with the mode it was written with")
            it = int(load_checkpoint(self.model, self.checkpoint)["extra"]["spark_iteration"])
        parts, described = self._prepare(data)
        sizes = [n for _, n, _, _ in described]
        labels = [np.zeros((1,) + tuple(shape), np.dtype(dt)) for dt, shape in described[0][3]]
        tr = trainer(self.model, labels)  # optimizer state lives here, on the driver
        tr._check_model()  # weights set on the model since its last step are the ones to broadcast
        k = self.averaging_frequency
        b = self.batch_size_per_worker or max(sizes)
        steps = math.ceil(max(sizes) / b)  # one pass over the largest partition, then again
        span, per_epoch = steps * b, self.iterations_per_epoch or math.ceil(steps / k)
        shipped = None
        history = History()
        history.on_train_begin()
        try:
            work, layouts, result_size, shipped = self._work(spark, tr, labels)
            payload = np.empty(sum(lay.size for lay in layouts), np.float32)
            self.loop = transport = self._transport(spark, parts, work, result_size)
            transport.open()
            try:
                for epoch in range(it // per_epoch, epochs):
                    losses, seen = 0.0, 0
                    for _ in range(it % per_epoch, per_epoch):
                        rec = IterationRecord(len(self.records))
                        watch, t0 = Stopwatch(rec), time.perf_counter()
                        with watch.phase("serialize"):
                            offset = 0
                            for lay, arrays in zip(layouts, (tr.params, tr.state)):
                                lay.flatten({n: arrays[n].numpy() for n in lay.names},
                                            out=payload[offset:offset + lay.size])
                                offset += lay.size
                        header = {"iteration": it, "start": (it * b) % span, "stop": (it * b) % span + b,
                                  "batch": b, "span": span, "first": it * k, "steps": k,
                                  "step": int(tr.step_count), "lr": tr.learning_rate}
                        out0, in0 = transport.bytes_out, transport.bytes_in
                        results = transport.round(header, payload, watch)
                        rec.bytes_out, rec.bytes_in = transport.bytes_out - out0, transport.bytes_in - in0
                        count, loss = self._apply(tr, work, results, watch)
                        losses, seen, it = losses + loss, seen + count, it + 1
                        if self.checkpoint_every and it % self.checkpoint_every == 0:
                            with watch.phase("checkpoint"):
                                save_checkpoint(self.model, self.checkpoint,
                                                extra={"spark_iteration": it, "mode": self.mode})
                        rec.wall = time.perf_counter() - t0
                        self.records.append(rec)
                    epoch_loss = losses / seen if (self.divide or self.mode == "average") and seen else losses
                    history.on_epoch_end(epoch, {"loss": epoch_loss})
                    if verbose:
                        print(f"Epoch {epoch + 1}/{epochs} - loss: {epoch_loss:.4f}")
            finally:
                transport.close()
        finally:
            parts.unpersist()
            if shipped is not None:
                shipped.unpersist()
            tr.sync()  # into the model's weights: a DL4J network's layers share them
        if self.network is not self.model and hasattr(self.network, "iteration_count"):
            self.network.iteration_count += len(self.records) - first  # DL4J counts the updates applied
        history.records = list(self.records)
        history.summary = lambda: summary(history.records)
        self.model.history = history
        return history
