"""`SparkTrainer`: data-parallel training on Spark with driver-side gradient accumulation (issue 11,
items 1-2: DL4J's `ACCUM_GRADIENT` / `DIVIDE_ACCUM_GRADIENT`).

Once per `fit`: the data (an RDD of `(x, y)` numpy batches or samples, or a DataFrame) is stacked into one array
set per partition and cached on the executors; the gradient graph (`build_train_step(fused=False)`)
is built with each loss's reduction set to "sum", so a partition's gradient is the SUM of its
samples' gradients whatever the compiled reduction, and shipped once as ONNX bytes (its session is
built once per executor process, shipping.py).

Per iteration (one Spark job): the driver broadcasts the parameters as one flat float32 buffer
(params.py); partition p runs the gradient graph on its slice `[i*b, (i+1)*b)` of its data and
returns (p, sample count, summed loss, summed gradients as one flat buffer, compute seconds); the
driver adds the buffers in partition order (a fixed order, so a run repeats bit for bit), divides
by the total sample count (`divide=True`: the gradient of the mean loss over the concatenated batch)
or not (`divide=False`: of the summed loss), and applies the optimizer through the model's own
`Trainer.apply_gradients` (its state lives on the driver). A partition whose slice is empty in an
iteration contributes nothing. State updates (BatchNormalization's moving statistics) become the
sample-weighted mean of the partitions' new values: exact for the moving mean (the weighted mean of
the batch means is the concatenated batch's mean), while the moving variance gets the mean of the
partitions' variances (without the spread of their means), as DL4J's averaging did. A DataFrame
(feature column(s) of arrays or ML vectors, a label column; `features_col`, `label_col`) is read
as an RDD of samples. Weight penalties (regularizers) and activity losses would be counted
once per partition, so a model with them is refused rather than trained differently.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np

from graphc.callbacks import History
from graphc.runtime.spark.errors import SparkError, require_pyspark
from graphc.runtime.spark.params import Layout
from graphc.runtime.spark.timing import IterationRecord, Stopwatch, summary

MODES = ("accumulate",)


def _as_list(v) -> list:
    return [np.asarray(a) for a in v] if isinstance(v, (list, tuple)) else [np.asarray(v)]


def _stack(ranks_x, ranks_y):
    """Partition function: its (x, y) elements as one list of arrays per side (batches concatenated,
    samples stacked); one element per partition, or none when the partition is empty."""
    def run(index, elements):
        xs, ys = None, None
        for x, y in elements:
            x, y = _as_list(x), _as_list(y)
            if len(x) != len(ranks_x) or len(y) != len(ranks_y):
                raise SparkError(f"partition {index}: an element has {len(x)} input and {len(y)} label arrays; "
                                 f"the model has {len(ranks_x)} inputs and {len(ranks_y)} outputs")
            if x[0].ndim != ranks_x[0]:  # a sample (the inputs tell: labels may have any rank) is a batch of 1
                x, y = [a[None] for a in x], [a[None] for a in y]
            xs = [[a] for a in x] if xs is None else [p + [a] for p, a in zip(xs, x)]
            ys = [[a] for a in y] if ys is None else [p + [a] for p, a in zip(ys, y)]
        if xs is not None:
            yield index, [np.concatenate(p) for p in xs], [np.concatenate(p) for p in ys]
    return run


def _row_to_sample(feature_cols, label_col, shapes):
    """DataFrame row -> (inputs, label) numpy sample: arrays or ML vectors reshaped to the inputs."""
    def run(row):
        xs = []
        for c, shape in zip(feature_cols, shapes):
            v = row[c]
            v = v.toArray() if hasattr(v, "toArray") else v
            xs.append(np.asarray(v, np.float32).reshape(shape))
        y = np.asarray(row[label_col])
        y = y.astype(np.int64) if np.issubdtype(y.dtype, np.integer) else y.astype(np.float32)
        return xs, y
    return run


def _describe(part):
    index, xs, ys = part
    return index, len(xs[0]), [(a.dtype.str, a.shape[1:]) for a in xs], [(a.dtype.str, a.shape[1:]) for a in ys]


def _gradient_task(shipped, params_bc, layout, glayout, ulayout, input_names, label_names, start, stop):
    """Partition function of one iteration: (index, n, summed loss, summed gradients, n x the state
    updates (BatchNormalization's moving statistics), compute s)."""
    def run(parts):
        for index, xs, ys in parts:
            t0 = time.perf_counter()
            n = len(xs[0][start:stop])
            if n == 0:
                continue
            exe = shipped.executable()
            feed = dict(layout.unflatten(params_bc.value))
            feed.update({k: a[start:stop] for k, a in zip(input_names, xs)})
            for name, y in zip(label_names, ys):
                feed[f"y:{name}"] = y[start:stop]
                feed[f"sample_weight:{name}"] = np.ones(n, np.float32)
            wanted = set(exe.input_names)
            out = exe.run(**{k: v for k, v in feed.items() if k in wanted})
            grads = glayout.flatten({g: out[f"grad:{g}"] for g in glayout.names})
            updates = ulayout.flatten({u: out[f"update:{u}"] for u in ulayout.names}) * np.float32(n)
            yield index, n, float(out["loss"]), grads, updates, time.perf_counter() - t0
    return run


class SparkTrainer:
    """Trains a compiled graphc model (`model.compile(optimizer=..., loss=...)`) on Spark.

    `mode="accumulate"`: driver-side gradient accumulation; `batch_size_per_worker` samples per
    partition per iteration (None: the whole partition, the seed's full-batch step); `divide`:
    mean over the samples of all partitions (True) or their sum (False); `iterations_per_epoch`:
    default one pass over the largest partition."""

    def __init__(self, model, mode: str = "accumulate", spark=None, batch_size_per_worker: int | None = None,
                 divide: bool = True, iterations_per_epoch: int | None = None, threads: int = 1,
                 features_col="features", label_col: str = "label"):
        if mode not in MODES:
            raise SparkError(f"SparkTrainer mode {mode!r}: the modes are {list(MODES)}")
        if batch_size_per_worker is not None and int(batch_size_per_worker) < 1:
            raise SparkError(f"batch_size_per_worker={batch_size_per_worker}: give a positive sample count or None "
                             f"(the whole partition)")
        from graphc.training.front import _config

        self.config = _config(model)  # a model without optimizer or loss fails here, before any job
        self.model, self.mode, self.spark = model, mode, spark
        self.batch_size_per_worker, self.divide = batch_size_per_worker, bool(divide)
        self.iterations_per_epoch, self.threads = iterations_per_epoch, threads
        self.features_cols = [features_col] if isinstance(features_col, str) else list(features_col)
        self.label_col = label_col
        self.records: list[IterationRecord] = []

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
        """A DataFrame (feature column(s) of arrays or ML vectors, one label column) as an RDD of samples."""
        from graphc.model import graph_of
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
        shapes = []
        for n in names:
            shape = g.type_of((n, 0)).shape[1:]
            if not all(isinstance(d, int) for d in shape):
                raise ColumnError(f"input {n!r} has symbolic dims {list(shape)} past the batch; give an RDD of "
                                  f"(x, y) arrays instead")
            shapes.append(shape)
        return df.select(*self.features_cols, self.label_col).rdd.map(
            _row_to_sample(self.features_cols, self.label_col, shapes))

    def _prepare(self, data):
        if hasattr(data, "columns") and hasattr(data, "rdd"):
            data = self._rows(data)
        if not hasattr(data, "mapPartitionsWithIndex"):
            raise SparkError(f"SparkTrainer.fit: data is a {type(data).__name__}; give an RDD of (x, y) numpy "
                             f"batches or samples, or a DataFrame")
        ranks_x, ranks_y = self._ranks()
        parts = data.mapPartitionsWithIndex(_stack(ranks_x, ranks_y)).cache()
        described = sorted(parts.map(_describe).collect())  # also fills the cache on the executors
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
        return parts, described

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

    def fit(self, data, epochs: int = 1, verbose: int = 0) -> History:
        """Train for `epochs` passes; the model then holds the trained weights. Returns a History with
        `history["loss"]` per epoch, `records` (one `IterationRecord` per iteration) and `summary()`."""
        from graphc.runtime.spark.shipping import ship_graph
        from graphc.training.front import trainer

        spark = self._session()
        parts, described = self._prepare(data)
        sizes = [n for _, n, _, _ in described]
        ydesc = described[0][3]
        labels = [np.zeros((1,) + tuple(shape), np.dtype(dt)) for dt, shape in ydesc]
        tr = trainer(self.model, labels)  # optimizer state lives here, on the driver
        tr._check_model()  # weights set on the model since its last step are the ones to broadcast
        spec = self._grad_step(labels)
        shipped = ship_graph(spark, spec.graph, threads=self.threads)
        names = spec.params + spec.frozen
        layout = Layout.of({n: tr.params[n].numpy() for n in names})
        glayout = Layout.of({n: tr.params[n].numpy() for n in spec.params})
        ulayout = Layout.of({n: tr.params[n].numpy() for n in spec.updates})
        b = self.batch_size_per_worker or max(sizes)
        per_epoch = self.iterations_per_epoch or math.ceil(max(sizes) / b)
        label_names = spec.outputs
        span, it = math.ceil(max(sizes) / b) * b, 0
        history = History()
        history.on_train_begin()
        buf = np.empty(layout.size, np.float32)
        try:
            for epoch in range(epochs):
                losses, seen = 0.0, 0
                for i in range(per_epoch):
                    rec = IterationRecord(len(self.records))
                    watch, t0 = Stopwatch(rec), time.perf_counter()
                    start = (it * b) % span  # a pass over the largest partition, then again
                    it += 1
                    with watch.phase("serialize"):
                        layout.flatten({n: tr.params[n].numpy() for n in names}, out=buf)
                    with watch.phase("broadcast"):
                        bc = spark.sparkContext.broadcast(buf)
                    rec.bytes_out = buf.nbytes
                    task = _gradient_task(shipped, bc, layout, glayout, ulayout, self.model.input_names, label_names,
                                          start, start + b)
                    results = sorted(parts.mapPartitions(task).collect(), key=lambda r: r[0])
                    with watch.phase("aggregate"):
                        total = np.zeros(glayout.size, np.float32)
                        moving = np.zeros(ulayout.size, np.float32)
                        count, loss = 0, 0.0
                        for _, n, part_loss, g, u, seconds in results:  # fixed order: partition index
                            total += g
                            moving += u
                            count += n
                            loss += part_loss
                            rec.compute.append(seconds)
                            rec.bytes_in += g.nbytes + u.nbytes
                        if self.divide and count:
                            total /= np.float32(count)
                    bc.unpersist()
                    if count:
                        with watch.phase("update"):
                            tr.apply_gradients(glayout.unflatten(total))
                            moving /= np.float32(count)
                            for name, value in ulayout.unflatten(moving).items():
                                tr.params[name].update_inplace(np.ascontiguousarray(value))
                        losses += loss
                        seen += count
                    rec.wall = time.perf_counter() - t0
                    self.records.append(rec)
                epoch_loss = losses / seen if self.divide and seen else losses
                history.on_epoch_end(epoch, {"loss": epoch_loss})
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs} - loss: {epoch_loss:.4f}")
        finally:
            parts.unpersist()
            shipped.unpersist()
            tr.sync()
        history.records = list(self.records)
        history.summary = lambda: summary(history.records)
        self.model.history = history
        return history

