"""Training and stateful inference of networks with recurrent layers: full and truncated BPTT
(`BackpropType.TRUNCATED_BPTT`, `tbptt_forward_length`), `rnn_time_step`, `rnn_clear_previous_state`.

Both run a *stateful* graphc.nn model over the network's own layers (the same weights): every
`SequenceBlock` takes its initial states as extra inputs and returns its final states as extra
outputs (graphc/dl4j/layers/recurrent.py).

Training: a TBPTT segment's train step is unrolled over its L steps (the forward length; an unrolled
step runs faster here than a Scan). Without TBPTT a whole sequence is one segment: over the ONNX
Scan that infers any length when the input type leaves it open (graphc/ops/scan.py differentiates
it; compiling it does not grow with the length, an unrolled graph does), unrolled otherwise or
where a layer's Scan has no gradient rule. A minibatch
[batch, size, T] is cut into segments of L steps; each segment is one train step (one DL4J
iteration), fed the states the previous segment ended with (zeros for the first). The states are
step *inputs*, so no gradient crosses a segment boundary: that is the truncation. A last segment
shorter than L is padded at its end with steps whose label mask is 0; padded steps come after every
real one, so a one-directional network computes the real steps exactly as without them (a
bidirectional layer would read them: TBPTT refuses it, as DL4J does). States reset between
minibatches. A features mask holds a layer's state over the masked steps (graphc.nn's masking;
DL4J zeroes it there instead: the unmasked steps come out the same for sequences padded at either
end) and is the labels mask when none is given. Models of different segment lengths share the
optimizer state: the trainer of a new length (its labels are typed by their shape, so each length has
one) takes it over (`LengthTrainers`, which keeps the trainers of the last few lengths only). With
`.iterations(n)` each segment takes n steps from the same carried state (DL4J's solver per segment).

Inference: `rnn_time_step(x)` feeds the states kept from the previous call ([batch, size] for one
step or [batch, size, time]); over a Scan, so any length runs without recompiling.
`rnn_get_previous_state(i)`/`rnn_set_previous_state(i, state)` read and replace one layer's kept
state; `score(ds)` of such a network weighs the steps by the DataSet's masks (`sequence_score`).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from graphc.dl4j.builder import ConfigError
from graphc.errors import GraphError, InputError, ModelFormatError


def stateful_model(layers, size: int, steps, name: str = "stateful", masked: bool = False):
    """A graphc.nn Model over `layers` (the network's graphc.nn layers in order) with inputs
    [x ([batch, size, steps]), (a features mask [batch, steps], bool, with `masked`), *initial
    states] and outputs [y, *final states]."""
    from graphc import nn

    x = nn.Input((int(size), steps), name=f"{name}_features")
    inputs, finals, y = [x], [], x
    mask = nn.Input((steps,), dtype="bool", name=f"{name}_features_mask") if masked else None
    if masked:
        inputs.append(mask)
    states = []
    for layer in layers:
        y = call_stateful(layer, y, states, finals, mask, prefix=f"{name}_")
    return nn.Model(inputs + states, [y] + finals, name=name)


def call_stateful(layer, x, states: list, finals: list, mask=None, prefix: str = ""):
    """`layer(x)`; a recurrent block (SequenceBlock) is given new Inputs as its initial states
    (appended to `states`) and the features `mask`, and its final states are appended to `finals`.
    Every stateful model (a MultiLayerNetwork's chain, a ComputationGraph's vertices) is made of it."""
    from graphc import nn
    from graphc.dl4j.layers.recurrent import SequenceBlock

    if not isinstance(layer, SequenceBlock):
        return layer(x)
    init = [nn.Input((n,), name=f"{prefix}{layer.name}_state{i}") for i, n in enumerate(layer.state_sizes)]
    y, *ends = layer(x, initial_state=init, **({"mask": mask} if mask is not None else {}))
    states += init
    finals += ends
    return y


def check_recurrent_training(conf) -> None:
    """Refuse, before any training, what truncated BPTT cannot do here."""
    from graphc.dl4j.enums import BackpropType

    if conf.backprop_type is not BackpropType.TRUNCATED_BPTT:
        return
    for layer in conf.layers:
        if getattr(layer, "bidirectional", False):
            raise ConfigError(f"{layer.describe()}: truncated BPTT cannot train a bidirectional layer (its backward "
                              f"direction reads the steps after the segment); use BackpropType.STANDARD, as DL4J "
                              f"requires")
    if int(conf.tbptt_back_length) != int(conf.tbptt_fwd_length):
        raise ConfigError(f"tbptt_backward_length {conf.tbptt_back_length} differs from tbptt_forward_length "
                          f"{conf.tbptt_fwd_length}; graphc truncates the gradient at the segment boundary only: "
                          f"set both to the same length")


def _cut(a, start: int, steps: int, fill: float = 0.0):
    """a[..., start:start+steps] along the last axis, padded at the end with `fill` to `steps`."""
    part = a[..., start:start + steps]
    short = steps - part.shape[-1]
    if short:
        pad = np.full(part.shape[:-1] + (short,), fill, part.dtype)
        part = np.concatenate([part, pad], -1)
    return np.ascontiguousarray(part)


# how many sequence lengths keep their compiled trainer (each is a session over an unrolled graph)
KEEP_LENGTHS = 4


class LengthTrainers:
    """The trainers of one network's models of several sequence lengths (each its own unrolled
    graph over the same layers), the last `keep` used kept: the one asked for next takes over the
    weights and the updater state of the one that trained last."""

    def __init__(self, keep: int = KEEP_LENGTHS):
        self.keep = int(keep)
        self._held: OrderedDict = OrderedDict()
        self.active = None

    def __len__(self):
        return len(self._held)

    def get(self, key, build):
        """The trainer of `key`, made by `build()` when none is kept (the least recently used one then
        dropped past `keep`); `build` runs after the active trainer wrote its weights into the layers."""
        t = self._held.get(key)
        if t is not None:
            self._held.move_to_end(key)
            if t is self.active:
                return t
        previous = self.active
        if previous is not None:  # the layers hold the newest weights before a trainer (re)reads them
            previous.sync()
        if t is None:
            t = build()
            self._held[key] = t
            while len(self._held) > self.keep:
                self._held.popitem(last=False)
        if previous is not None:
            t.load_state({s: v.numpy() for s, v in previous.state.items()})
            t.step_count = previous.step_count
        self.active = t
        return t


class SequenceTrainer:
    """Trains a network's graphc.nn `layers` on [batch, size, time] minibatches, in segments of
    `segment` steps (None: the whole sequence, full BPTT), with one `loss` on the last output."""

    def __init__(self, layers, size: int, loss, optimizer, segment: int | None = None, seed: int = 0,
                 name: str = "network", labels_to_nn=None, model_for=None, param_names=None, scan: bool = False):
        self.layers, self.size, self.loss, self.optimizer = list(layers), int(size), loss, optimizer
        self.model_for = model_for  # (steps, masked) -> the model of a segment; a ComputationGraph's own
        self.param_names = None if param_names is None else set(param_names)  # what the optimizer's tables name
        self.segment, self.seed, self.name = segment, seed, name
        self.labels_to_nn = labels_to_nn or (lambda a: a)  # DL4J's [batch, n, time] to the model's layout
        self.scan = bool(scan) and segment is None  # whole sequences of an open length: through the Scan
        self.trainers = LengthTrainers()
        self.pending = None  # (optimizer state, step) a restored network's first trainer starts from

    @property
    def active(self):
        return self.trainers.active

    def _build(self, steps: int, ys, ms, masked: bool):
        from graphc.errors import UnsupportedOpError
        from graphc.training.step import trainer_class

        def make(length):  # the model of a segment of `length` steps (None: open, over a Scan)
            model = self.model_for(length, masked) if self.model_for is not None else \
                stateful_model(self.layers, self.size, length, name=f"{self.name}_t{length or 'open'}", masked=masked)
            return trainer_class()(model, [self.loss], self.optimizer, [ys], seed=self.seed,
                                   carried=model.output_names[1:], sample_weights=[ms])

        try:
            t = make(None if self.scan else steps)
        except UnsupportedOpError:  # a layer whose Scan has no gradient rule: unrolled
            self.scan = False
            t = make(steps)
        stray = sorted(set(t.spec.params) - self.param_names) if self.param_names is not None else []
        if stray:  # the per-layer L1/L2 and normalization are keyed by the network model's names
            raise GraphError(f"{self.name}: the {steps}-step model names parameters {stray[:3]} that the "
                             f"network's model does not; give every layer holding weights a name of its own")
        if self.pending is not None and self.trainers.active is None:
            state, step = self.pending
            missing = sorted(set(t.state) - set(state))
            if missing:
                raise ModelFormatError(f"{self.name}: the saved updater state has no {missing[:3]}; restore it into "
                                       f"a network of the same configuration")
            t.load_state(state)
            t.step_count, self.pending = int(step), None
        return t

    def _trainer(self, steps: int, ys, ms, masked: bool = False):
        return self.trainers.get((steps, masked), lambda: self._build(steps, ys, ms, masked))

    def fit(self, features, labels, labels_mask=None, features_mask=None, iterations: int = 1) -> list[float]:
        """One minibatch: `iterations` train steps per segment (DL4J's solver runs its iterations on each
        segment, from the same carried state); the loss of each (DL4J's score per iteration).
        A features mask ([batch, time], 0 at the steps a sequence does not have) holds each recurrent
        layer's state over those steps; it is the labels mask too when none is given (as in DL4J)."""
        from graphc.training.step import TrainingError

        x, y = np.asarray(features, np.float32), np.asarray(labels, np.float32)
        if x.ndim != 3 or y.ndim != 3 or x.shape[1] != self.size or x.shape[0] != y.shape[0] \
                or x.shape[2] != y.shape[2]:
            raise InputError(f"{self.name}: recurrent training takes features [batch, {self.size}, time] and labels "
                             f"[batch, n_out, time] of the same batch and time; got {list(x.shape)} and "
                             f"{list(y.shape)}")
        batch, total = x.shape[0], x.shape[2]
        masks = []
        for what, m in (("features", features_mask), ("labels", labels_mask)):
            m = None if m is None else np.asarray(m, np.float32)
            if m is not None and m.shape != (batch, total):
                raise InputError(f"{self.name}: the {what} mask has shape {list(m.shape)}; give [batch, time] = "
                                 f"{[batch, total]}")
            masks.append(m)
        fmask, mask = masks
        mask = mask if mask is not None else fmask if fmask is not None else np.ones((batch, total), np.float32)
        steps = int(self.segment or total)
        states = None
        losses = []
        for start in range(0, total, steps):
            xs, ys, ms = _cut(x, start, steps), self.labels_to_nn(_cut(y, start, steps)), _cut(mask, start, steps)
            t = self._trainer(steps, ys, ms, fmask is not None)
            if states is None:
                states = [np.zeros((batch, n), np.float32) for n in _state_sizes(self.layers)]
            feeds = [xs] if fmask is None else [xs, _cut(fmask, start, steps) > 0]
            for _ in range(int(iterations)):
                loss, _ = t.train_step([*feeds, *states], [ys], [ms])
                if not np.isfinite(loss):
                    raise TrainingError(f"{self.name}: the loss is {loss} at time steps {start}..{start + steps - 1}; "
                                        f"that segment changed no weight. Lower the learning rate, or check the "
                                        f"data for NaN/Inf")
                losses.append(loss)
            states = [t.last_carried[n] for n in t.carried]
        self.sync()
        return losses

    def sync(self) -> None:
        """Write the trained parameters into the layers' weights."""
        if self.active is not None:
            self.active.sync()


def _state_sizes(layers) -> list[int]:
    from graphc.dl4j.layers.recurrent import SequenceBlock

    return [n for l in layers if isinstance(l, SequenceBlock) for n in l.state_sizes]


def check_steppable(layers) -> None:
    """Refuse `rnn_time_step` on a network (its DL4J layer configurations) it cannot step."""
    if not any(l.is_recurrent for l in layers):
        raise ConfigError("rnn_time_step needs a recurrent layer (GravesLSTM, LSTM, SimpleRnn, ...); this network "
                          "has none: use output()")
    for layer in layers:
        if getattr(layer, "bidirectional", False):
            raise ConfigError(f"{layer.describe()}: a bidirectional layer cannot be stepped (its backward "
                              f"direction needs the whole sequence), as in DL4J; use output()")


class Stepper:
    """`rnn_time_step`: inference that keeps every recurrent layer's last states between calls.
    `model_for()` gives the stateful model (inputs: the network's, then one per state; outputs:
    the network's `n_outputs`, then the final states): a MultiLayerNetwork's chain by default."""

    def __init__(self, layers, size: int | None = None, name: str = "network", output_from_nn=None, model_for=None,
                 n_outputs: int = 1):
        self.layers, self.size, self.name = list(layers), size, name
        self.output_from_nn = output_from_nn or (lambda a: a)
        self.model_for = model_for or (lambda: stateful_model(self.layers, self.size, None, name=f"{self.name}_step"))
        self.n_outputs = int(n_outputs)
        self.model = None
        self.states = None

    def clear(self) -> None:
        self.states = None

    def run(self, inputs: list) -> list:
        """The stateful model's outputs for `inputs` (the model's layout), from the kept states (zeros
        after `clear`); the final states are kept for the next call."""
        batch = len(inputs[0])
        if self.states is not None and self.states[0].shape[0] != batch:
            raise InputError(f"{self.name}: rnn_time_step got a batch of {batch} but the kept state is for "
                             f"{self.states[0].shape[0]}; call rnn_clear_previous_state() between batches")
        if self.model is None:
            self.model = self.model_for()
        if self.states is None:
            self.states = [np.zeros((batch, n), np.float32) for n in _state_sizes(self.layers)]
        outs = self.model.predict(list(inputs) + self.states)
        outs = outs if isinstance(outs, list) else [outs]
        self.states = [np.asarray(s) for s in outs[self.n_outputs:]]
        return outs[:self.n_outputs]

    def step(self, features) -> np.ndarray:
        """A MultiLayerNetwork's step: [batch, size] (one step) or [batch, size, time] in DL4J's layout."""
        x = np.asarray(features, np.float32)
        one_step = x.ndim == 2
        if one_step:
            x = x[:, :, None]
        if x.ndim != 3 or x.shape[1] != self.size:
            raise InputError(f"{self.name}: rnn_time_step takes [batch, {self.size}] (one step) or [batch, "
                             f"{self.size}, time]; got {list(np.shape(features))}")
        y = self.output_from_nn(self.run([x])[0])
        return y[:, :, 0] if one_step else y


# ---- MultiLayerNetwork's hooks ---------------------------------------------------------------------
def trains_by_sequence(conf) -> bool:
    """Whether a network trains here: TBPTT, or recurrent layers under a time-series output (whose
    features and labels masks weigh the steps, a [batch, time] mask the plain model's loss cannot take)."""
    from graphc.dl4j.enums import BackpropType
    from graphc.dl4j.input_type import RNN

    return conf.backprop_type is BackpropType.TRUNCATED_BPTT or \
        (any(l.is_recurrent for l in conf.layers) and conf.output_type().kind == RNN)


def _nn_layers(net) -> list:
    return [l for made in net._nn for l in made]


def _input_size(net, what: str) -> int:
    from graphc.dl4j.input_type import RNN

    t = net.conf.input_type
    if t is None or t.kind != RNN:
        raise ConfigError(f"{what} takes recurrent input [batch, size, time]; the network's input type is {t}: set "
                          f".set_input_type(InputType.recurrent(size))")
    return int(t.size)


def _sequence_trainer(net) -> SequenceTrainer:
    held = net.__dict__.get("_sequence_trainer")
    if held is not None and held[0] is net.model:
        return held[1]
    from graphc.dl4j.enums import BackpropType

    conf, last = net.conf, net.layers[-1]
    check_recurrent_training(conf)
    if conf.output_type().kind != "RNN":
        raise ConfigError(f"{last.describe()}: truncated BPTT needs a time-series output (RnnOutputLayer); this "
                          f"network's output is {conf.output_type()}")
    cfg = net.model._training
    segment = int(conf.tbptt_fwd_length) if conf.backprop_type is BackpropType.TRUNCATED_BPTT else None
    st = SequenceTrainer(_nn_layers(net), _input_size(net, "fit"), cfg.losses[0], cfg.optimizer, segment,
                         seed=int(conf.conf.seed or 0), name="MultiLayerNetwork", labels_to_nn=last.labels_to_nn,
                         param_names=net.owners, scan=conf.input_type.time_series_length is None)
    net._sequence_trainer = (net.model, st)
    return st


def fit_tbptt(net, ds) -> None:
    """One minibatch in segments (or whole, for a STANDARD recurrent network); each segment is one
    iteration the listeners see."""
    st = _sequence_trainer(net)
    last, labels = net.layers[-1], np.asarray(ds.labels)
    if labels.ndim != 3 or labels.shape[1] != int(last.n_out):
        raise InputError(f"MultiLayerNetwork.fit: labels of shape {list(labels.shape)} for {last.describe()} with "
                         f"n_out {last.n_out}; give [batch, {last.n_out}, time] (DL4J's layout)")
    for loss in st.fit(ds.features, ds.labels, ds.labels_mask, ds.features_mask, int(net.conf.conf.iterations)):
        net.record_iteration(float(loss))


def sequence_score(net, ds) -> float:
    """DL4J's score of a DataSet for a network with a time-series output: the loss of the whole
    sequences in inference mode, the steps weighed by the labels mask (else the features mask)."""
    from graphc import backends
    from graphc.nn.base import BATCH, Emitter
    from graphc.types import TensorType

    size, last = _input_size(net, "score"), net.layers[-1]
    x = np.asarray(ds.features, np.float32)
    y = last.labels_to_nn(ds.labels)
    fmask = ds.features_mask
    mask = ds.labels_mask if ds.labels_mask is not None else fmask
    mask = np.ones(x.shape[:1] + x.shape[2:], np.float32) if mask is None else np.asarray(mask, np.float32)
    net.model.sync_weights()
    key = (x.shape[2], fmask is not None, net.model.weights_version)
    held = net.__dict__.get("_score_exe")
    if held is None or held[0] is not net.model or held[1] != key:
        layers = _nn_layers(net)
        g = stateful_model(layers, size, x.shape[2], "score", masked=fmask is not None).graph.copy()
        em = Emitter(g)
        labels = g.add_input("y", TensorType(np.dtype(np.float32), (BATCH,) + tuple(y.shape[1:])))
        weights = g.add_input("sample_weight", TensorType(np.dtype(np.float32), (BATCH, x.shape[2])))
        loss = net.model._training.losses[0](em, labels, g.outputs[0][1], sample_weight=weights)
        g.outputs = []
        g.add_output("loss", loss)
        held = (net.model, key, backends.compile(g, opt_level="O1"))
        net._score_exe = held
    states = [np.zeros((len(x), n), np.float32) for n in _state_sizes(_nn_layers(net))]
    feeds = [x] if fmask is None else [x, np.asarray(fmask) > 0]
    return float(held[2](*feeds, *states, y, mask))


def updater_state(net) -> dict | None:
    """The sequence trainer's optimizer state and step as arrays keyed by weight place (as graphc's
    checkpoints key them: a restored network has other layer names), for ModelSerializer; None
    when this network has not trained here."""
    from graphc.training.checkpoint import _key, _weight_names

    held = net.__dict__.get("_sequence_trainer")
    if held is None or held[0] is not net.model or held[1].active is None:
        return None
    t, names = held[1].active, _weight_names(net.model)
    out = {f"state:{_key(names, s)}": v.numpy().copy() for s, v in t.state.items()}
    out["step"] = np.asarray(t.step_count, np.int64)
    return out


def load_updater_state(net, arrays: dict) -> None:
    """Give `updater_state`'s arrays to the trainer this network's next fit builds."""
    from graphc.training.checkpoint import _weight_names

    names = _weight_names(net.model)
    state = {}
    for key, a in arrays.items():
        if not key.startswith("state:"):
            continue
        where, _, slot = key[len("state:"):].partition("/")
        if where == "g":
            state[slot] = np.asarray(a)
        elif where.startswith("w") and where[1:].isdigit() and int(where[1:]) < len(names):
            state[f"{names[int(where[1:])]}/{slot}"] = np.asarray(a)
        else:
            raise ModelFormatError(f"updater state {key!r} names no weight of this network ({len(names)} weights); "
                                   f"restore it into a network of the same configuration")
    _sequence_trainer(net).pending = (state, int(np.asarray(arrays.get("step", 0))))


def _stepper(net) -> Stepper:
    held = net.__dict__.get("_stepper")
    if held is None or held[0] is not net.model:
        check_steppable(net.layers)
        held = (net.model, Stepper(_nn_layers(net), _input_size(net, "rnn_time_step"), "MultiLayerNetwork",
                                   net.layers[-1].output_from_nn))
        net._stepper = held
    return held[1]


def rnn_time_step(net, x) -> np.ndarray:
    stepper = _stepper(net)
    net.model.sync_weights()
    return stepper.step(x)


def rnn_clear_previous_state(net) -> None:
    held = net.__dict__.get("_stepper")
    if held is not None:
        held[1].clear()


# DL4J's state keys: the last output, and an LSTM's memory cell
STATE_KEYS = ("prevAct", "prevMem")


def _state_slots(net, i: int) -> tuple[int, int]:
    """(first, count) of layer `i`'s states in the stepper's list."""
    from graphc.dl4j.layers.recurrent import SequenceBlock

    if not 0 <= int(i) < len(net.layers) or not net.layers[int(i)].is_recurrent:
        raise ConfigError(f"layer {i} is not a recurrent layer; the recurrent ones are "
                          f"{[k for k, l in enumerate(net.layers) if l.is_recurrent]}")
    first = sum(len(l.state_sizes) for made in net._nn[:int(i)] for l in made if isinstance(l, SequenceBlock))
    return first, len(next(l for l in net._nn[int(i)] if isinstance(l, SequenceBlock)).state_sizes)


def rnn_get_previous_state(net, i: int) -> dict:
    """DL4J's rnnGetPreviousState(i): {"prevAct": [batch, n_out], "prevMem": ... for an LSTM} kept by
    rnn_time_step ({} before the first call or after rnn_clear_previous_state)."""
    stepper = _stepper(net)
    first, count = _state_slots(net, i)
    if stepper.states is None:
        return {}
    return {k: stepper.states[first + j].copy() for j, k in enumerate(STATE_KEYS[:count])}


def rnn_set_previous_state(net, i: int, state: dict) -> None:
    """DL4J's rnnSetPreviousState(i, state): the state the next rnn_time_step starts layer `i` from
    (the other layers keep theirs, zeros when they have none)."""
    stepper = _stepper(net)
    first, count = _state_slots(net, i)
    keys = STATE_KEYS[:count]
    if set(state) != set(keys):
        raise InputError(f"{net.layers[int(i)].describe()}: its state has the keys {list(keys)}; got {sorted(state)}")
    arrays = [np.asarray(state[k], np.float32) for k in keys]
    n_out = int(net.layers[int(i)].n_out)
    if any(a.ndim != 2 or a.shape != arrays[0].shape or a.shape[1] != n_out for a in arrays):
        raise InputError(f"{net.layers[int(i)].describe()}: give each state as [batch, {n_out}]; got "
                         f"{[list(a.shape) for a in arrays]}")
    if stepper.states is None or stepper.states[0].shape[0] != arrays[0].shape[0]:
        stepper.states = [np.zeros((arrays[0].shape[0], n), np.float32) for n in _state_sizes(stepper.layers)]
    stepper.states[first:first + count] = arrays
