"""`Trainer`: one compiled train step on ONNX Runtime, parameters and optimizer state resident.

Each Variable of the model and each optimizer state array lives in an `OrtValue` bound to the
session's input through IOBinding; the step's new values are written into a second set of
preallocated OrtValues bound as outputs, and the two sets swap after every step, so a step copies
no parameter through numpy. The model's `Weight`s are written only by `sync()` (after `fit`, on
`get_weights`, on a checkpoint), which then tells the model its weights changed. Weights the model
changed meanwhile (`set_weights`) are read again before the next step; the optimizer state stays.

A model built with `carried` outputs (a recurrent layer's final states, for truncated BPTT) returns
them from every step in `last_carried` ({output name: array}).

The gradient graph and the update graph also run apart (`gradients`, `apply_gradients`), for a
trainer that sums gradients elsewhere before applying them (Spark's driver).
"""
from __future__ import annotations

import numpy as np

from graphc.errors import BackendError
from graphc.optimizers import update_graph
from graphc.training.step import RANDOM_OPS, TrainingError, build_train_step


def _ort():
    import onnxruntime as ort

    return ort


def _session(graph, threads, opt_level="O2"):
    from graphc.lower.onnx import to_onnx
    from graphc.passes import optimize_for_inference

    graph = optimize_for_inference(graph, opt_level)  # the weights are inputs here: nothing is frozen

    ort = _ort()
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    if threads:
        opts.intra_op_num_threads, opts.inter_op_num_threads = int(threads), 1
    try:
        return ort.InferenceSession(to_onnx(graph, portable=True).SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:
        raise BackendError(f"train step of {graph.name!r}: ONNX Runtime cannot load it: {str(e).splitlines()[0]}") from None


def _ov(a: np.ndarray):
    # a private copy: ortvalue_from_numpy shares the array's memory on the CPU
    return _ort().OrtValue.ortvalue_from_numpy(np.array(a, copy=True, order="C"))


class Trainer:
    """Trains `model` (a graphc model) with `loss` (one per output), `optimizer`, on ONNX Runtime."""

    def __init__(self, model, loss, optimizer, labels, loss_weights=None, threads=None, seed=0, carried=(),
                 sample_weights=None):
        self.model, self.loss, self.optimizer, self.loss_weights = model, loss, optimizer, loss_weights
        self.seed, self.carried, self.sample_weights = seed, tuple(carried), sample_weights
        self.spec = build_train_step(model, loss, optimizer, labels, loss_weights, seed=seed, carried=self.carried,
                                     sample_weights=sample_weights)
        self.last_carried: dict = {}
        self.labels_example = labels
        self.session = _session(self.spec.graph, threads)
        self.threads = threads
        names = [i.name for i in self.session.get_inputs()]
        self._input_names = names
        self.step_count = 0
        self.draws = []  # [batch size, runs] of the train step: what its random ops have drawn
        self.learning_rate = None if not self.spec.lr_input else float(optimizer.learning_rate)
        self.state = {s: _ov(a) for s, a in self.spec.state.items()}
        self._spare_state = {s: _ov(a) for s, a in self.spec.state.items()}
        self._load_params()
        self._grad = None
        self._update = None

    # ---- resident values ----------------------------------------------------------------
    def _load_params(self):
        sp = self.spec
        self.params = {n: _ov(sp.values[n]) for n in sp.params + sp.frozen}
        self._spare = {n: _ov(sp.values[n]) for n in sp.params + list(sp.updates)}
        self._version = self.model.weights_version

    def _check_model(self):
        if self.model.weights_version != self._version:  # set_weights since the last step
            self._load_params()

    def sync(self) -> None:
        """Write the resident parameters back into the model's weights (and say they changed)."""
        if not self._dirty:  # no step since the last load or sync: weights set since then are newer
            return
        by_array = {id(w.value): w for w in getattr(self.model, "weights", ())}
        for n in self.spec.params + list(self.spec.updates):
            arr, value = self.params[n].numpy(), self.spec.values[n]
            w = by_array.get(id(value))
            if w is not None:
                w.assign(arr)
            else:  # a plain graph model's Variable (an imported array may be read-only): a new array
                self.model.graph.attrs(n)["value"] = self.spec.values[n] = arr.copy()
        self.model.weights_changed()
        self._version = self.model.weights_version
        self._dirty = False

    _dirty = False

    def load_state(self, state: dict) -> None:
        """Replace the optimizer state by {name: array} (a checkpoint's)."""
        self.state = {s: _ov(state[s]) for s in self.state}

    def weights(self) -> dict:
        """{Variable name: a numpy copy} of the resident parameters."""
        return {n: v.numpy().copy() for n, v in self.params.items()}

    # ---- one step -------------------------------------------------------------------------
    def _bind_data(self, io, xs, ys, sws):
        for name, a in list(zip(self.model.input_names, xs)) + \
                [(f"y:{o}", y) for o, y in zip(self.spec.outputs, ys)] + \
                [(f"sample_weight:{o}", s) for o, s in zip(self.spec.outputs, sws)]:
            if name in self._input_names:
                io.bind_cpu_input(name, np.ascontiguousarray(a))

    def train_step(self, xs, ys, sws) -> tuple[float, list]:
        """One update on a batch; (loss, predictions per output)."""
        self._check_model()
        sp, io = self._bind_step(xs, ys, sws)
        try:
            self.session.run_with_iobinding(io)
        except Exception as e:
            raise BackendError(f"train step of {sp.graph.name!r} failed in ONNX Runtime: "
                               f"{str(e).splitlines()[0][:300]}") from None
        self._drew(len(xs[0]) if xs else 0)
        outs = io.get_outputs()
        loss = float(outs[0].numpy())
        preds = [v.numpy() for v in outs[len(outs) - len(sp.outputs):]]
        first = len(outs) - len(sp.outputs) - len(sp.carried)
        self.last_carried = {n: outs[first + i].numpy() for i, n in enumerate(sp.carried)}
        if not np.isfinite(loss):
            return loss, preds  # the caller stops; the parameters stay those before the step
        for n in list(sp.params) + list(sp.updates):
            self.params[n], self._spare[n] = self._spare[n], self.params[n]
        self.state, self._spare_state = self._spare_state, self.state
        self.step_count += 1
        self._dirty = True
        return loss, preds

    # ---- random ops: ONNX Runtime advances a seeded op's generator on every run and offers no seek,
    # so a resumed trainer replays the runs (their batch sizes) into the spare buffers
    def _drew(self, batch: int) -> None:
        if self.draws and self.draws[-1][0] == batch:
            self.draws[-1][1] += 1
        else:
            self.draws.append([batch, 1])

    @property
    def has_random(self) -> bool:
        return any(self.spec.graph.op(n) in RANDOM_OPS for n in self.spec.graph.nodes)

    def replay_random(self, draws) -> None:
        """Advance the random ops as `draws` ([batch size, runs] pairs) did; parameters stay."""
        if not self.has_random:
            self.draws = [list(d) for d in draws]
            return
        g = self.spec.graph
        for batch, runs in draws:
            xs = [np.zeros([d if isinstance(d, int) else batch for d in g.type_of((n, 0)).shape],
                           g.type_of((n, 0)).dtype) for n in self.model.input_names]
            ys = [np.zeros((batch,) + y.shape[1:], y.dtype) for y in self.labels_example]
            sws = [np.ones((batch,) + (() if s is None else np.shape(s)[1:]), np.float32)
                   for s in self.sample_weights or [None] * len(ys)]
            for _ in range(int(runs)):
                _, io = self._bind_step(xs, ys, sws)
                self.session.run_with_iobinding(io)  # into the spare buffers, which are not swapped
                self._drew(batch)

    def _bind_step(self, xs, ys, sws):
        sp, io = self.spec, self.session.io_binding()
        self._bind_data(io, xs, ys, sws)
        for n, v in self.params.items():
            io.bind_ortvalue_input(n, v)
        for s, v in self.state.items():
            io.bind_ortvalue_input(f"state:{s}", v)
        io.bind_cpu_input("step", np.asarray(self.step_count, np.int64))
        if sp.lr_input:
            io.bind_cpu_input("learning_rate", np.asarray(self.learning_rate, np.float32))
        io.bind_output("loss", "cpu")
        for n in sp.params:
            io.bind_ortvalue_output(f"new_param:{n}", self._spare[n])
        for s in self.state:
            io.bind_ortvalue_output(f"new_state:{s}", self._spare_state[s])
        for n, out in sp.updates.items():
            io.bind_ortvalue_output(out, self._spare[n])
        for o in list(sp.carried):
            io.bind_output(f"carry:{o}", "cpu")
        for o in sp.outputs:
            io.bind_output(f"pred:{o}", "cpu")
        return sp, io

    # ---- the two graphs apart -----------------------------------------------------------------
    def gradients(self, xs, ys, sws) -> tuple[float, dict]:
        """(loss, {parameter: gradient}) on a batch at the resident parameters; nothing changes."""
        self._check_model()
        if self._grad is None:
            g = build_train_step(self.model, self.loss, self.optimizer, self.labels_example, self.loss_weights,
                                 fused=False, seed=self.seed, carried=self.carried, sample_weights=self.sample_weights)
            self._grad = (g, _session(g.graph, self.threads))
        spec, sess = self._grad
        names = {i.name for i in sess.get_inputs()}
        io = sess.io_binding()
        self._bind_data(io, xs, ys, sws)
        for n, v in self.params.items():
            if n in names:
                io.bind_ortvalue_input(n, v)
        for name in [o.name for o in sess.get_outputs()]:
            io.bind_output(name, "cpu")
        sess.run_with_iobinding(io)
        outs = dict(zip([o.name for o in sess.get_outputs()], io.get_outputs()))
        return float(outs["loss"].numpy()), {n: outs[f"grad:{n}"].numpy() for n in spec.params}

    def apply_gradients(self, grads: dict) -> None:
        """One optimizer update of the resident parameters and state by `grads` (through the update
        graph, `graphc.optimizers.update_graph`)."""
        self._check_model()
        sp = self.spec
        if set(grads) != set(sp.params):
            raise TrainingError(f"apply_gradients: give one gradient per trainable parameter {sp.params}, "
                                f"got {sorted(grads)}")
        if self._update is None:
            g = update_graph(self.optimizer, {n: tuple(sp.values[n].shape) for n in sp.params},
                             learning_rate_input=sp.lr_input)
            self._update = _session(g, self.threads)
        sess, io = self._update, self._update.io_binding()
        for n in sp.params:
            io.bind_ortvalue_input(f"param:{n}", self.params[n])
            io.bind_cpu_input(f"grad:{n}", np.ascontiguousarray(grads[n], np.float32))
            io.bind_ortvalue_output(f"new_param:{n}", self._spare[n])
        for s, v in self.state.items():
            io.bind_ortvalue_input(f"state:{s}", v)
            io.bind_ortvalue_output(f"new_state:{s}", self._spare_state[s])
        io.bind_cpu_input("step", np.asarray(self.step_count, np.int64))
        if sp.lr_input:
            io.bind_cpu_input("learning_rate", np.asarray(self.learning_rate, np.float32))
        sess.run_with_iobinding(io)
        for n in sp.params:
            self.params[n], self._spare[n] = self._spare[n], self.params[n]
        self.state, self._spare_state = self._spare_state, self.state
        self.step_count += 1
        self._dirty = True
