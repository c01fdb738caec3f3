"""The train-step graph: forward (training mode) + losses + regularization + backward + update, one
Graph, with every weight and every optimizer state array a graph *input* so that a trainer keeps
them resident between steps. No back end is needed to build it.

Inputs, in this order: the model's inputs; `y:<output>` and `sample_weight:<output>` per output;
`param:<var>` (trainable Variables), `frozen:<var>` (the other Variables: frozen weights, moving
statistics), `state:<name>` (optimizer state, `init_state`'s names), `step` (int64) and, for a
constant learning rate, `learning_rate` (float32).
Outputs: `loss`, then `new_param:<var>`, `new_state:<name>`, `update:<var>` (BatchNormalization's
moving statistics), `carry:<output>`, `pred:<output>` (for the metrics).

`carried`: model outputs that take no label and no loss but come back from every step (`carry:`),
for a caller that feeds them to the next step as inputs: a recurrent layer's final states in
truncated BPTT. Fed back as plain inputs, they are constants of that step: no gradient crosses.

Randomness (Dropout, noise layers) is ONNX's Random*Like ops; each one that has no seed of its own
gets one from `seed` and its place among them, so a trainer built afresh replays the same masks, step by
step (ONNX Runtime advances a seeded op's generator on every run): runs are reproducible. The gradient graph (`fused=False`) stops
before the update: `loss`, `grad:<var>`, `update:<var>`, `pred:<output>`.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from graphc.autodiff import gradients
from graphc.errors import GraphcError
from graphc.ir import Graph
from graphc.nn.base import BATCH, Emitter
from graphc.passes.gather_split import GatherToSplit
from graphc.passes.softmax_renormalization import SoftmaxRenormalization
from graphc.types import TensorType

F32, I64 = np.dtype(np.float32), np.dtype(np.int64)


# back end -> "module:class" of its trainer, imported only when a model first trains
TRAINERS = {"ort": "graphc.runtime.train:Trainer"}


def trainer_class():
    """The default back end's trainer class, imported here on first use (it lives in the runtime room)."""
    from importlib import import_module

    from graphc import backends

    module, _, attr = TRAINERS[backends.DEFAULT].partition(":")
    return getattr(import_module(module), attr)


class TrainingError(GraphcError):
    """A model, loss or data set that cannot be trained as asked."""


@dataclass
class TrainStep:
    graph: Graph
    params: list = field(default_factory=list)      # trainable Variable names
    frozen: list = field(default_factory=list)      # other Variable names
    values: dict = field(default_factory=dict)      # Variable name -> its array in the model (not copied)
    state: dict = field(default_factory=dict)       # optimizer state before the first step
    updates: dict = field(default_factory=dict)     # Variable name -> its `update:` output
    outputs: list = field(default_factory=list)     # model output names
    lr_input: bool = True
    carried: list = field(default_factory=list)     # model outputs returned as `carry:<name>`


def training_graph(model) -> Graph:
    """The model's graph in training mode (layers' dropout and batch statistics on); a plain graph
    model (imported ONNX) trains as it is."""
    if hasattr(model, "build_graph"):
        return model.build_graph(training=True)
    g = model.graph.copy()
    g.meta = dict(g.meta, updates={}, losses=[])
    return g


def _label_type(y: np.ndarray) -> TensorType:
    return TensorType(np.dtype(y.dtype), (BATCH,) + tuple(int(d) for d in y.shape[1:]))


def _out(g: Graph, name: str, v) -> None:
    if g.is_source(v[0]) or g.is_output(v):  # an exported output must be a node's own value
        v = (g.add_node("Identity", [v], name=f"{name}/out"), 0)
    g.add_output(name, v)


def _regularization(em, g: Graph, weights_by_array: dict, var_names) -> list:
    """Keras kernel/bias regularizer penalties of the weights behind `var_names`."""
    terms = []
    for n in var_names:
        w = weights_by_array.get(id(g.attrs(n).get("value")))
        if w is not None and w.regularizer is not None and hasattr(w.regularizer, "penalty"):
            terms.append(w.regularizer.penalty(em, (n, 0)))
    return terms


RANDOM_OPS = ("RandomUniformLike", "RandomNormalLike", "RandomUniform", "RandomNormal", "Bernoulli", "Multinomial")


def seed_random_ops(g: Graph, seed: int) -> None:
    """Give every unseeded random op of `g` a seed of its own from `seed` and its place in the graph's
    order (not its name: layer names differ from one model instance to the next)."""
    ops = [n for n in g.topo_order() if g.op(n) in RANDOM_OPS]
    for i, n in enumerate(ops):
        if "seed" not in g.attrs(n):
            g.attrs(n)["seed"] = float(zlib.crc32(f"{seed}:{i}".encode()) % (1 << 24))


def build_train_step(model, loss, optimizer, labels: list, loss_weights=None, fused: bool = True,
                     seed: int = 0, carried=(), sample_weights=None) -> TrainStep:
    """The train step of `model` for `loss` (one Loss per output) and `optimizer`; `labels`: one
    example label array per output (its dtype and trailing shape type the `y:` inputs); `carried`:
    names of model outputs returned unchanged instead of trained (see the module docstring);
    `sample_weights`: example weight arrays per output (None: (batch,)), e.g. (batch, time) weights
    that mask the steps of a sequence output."""
    from graphc.losses import combine

    g = training_graph(model)
    seed_random_ops(g, seed)
    outputs = list(g.outputs)
    own_outputs = [n for n, _ in outputs if n not in g.meta.get("updates", {}) and n not in g.meta.get("losses", [])]
    updates = g.meta.get("updates", {})
    activity = [v for n, v in outputs if n in g.meta.get("losses", [])]
    unknown = [n for n in carried if n not in own_outputs]
    if unknown:
        raise TrainingError(f"carried outputs {unknown} are not outputs of model "
                            f"{getattr(model, 'name', g.name)!r} {own_outputs}")
    carry = [(n, v) for n, v in outputs if n in carried]
    model_outputs = [(n, v) for n, v in outputs if n in own_outputs and n not in carried]
    if len(labels) != len(model_outputs):
        raise TrainingError(f"model {getattr(model, 'name', g.name)!r} has {len(model_outputs)} output(s) "
                            f"{[n for n, _ in model_outputs]}; give one label array for each, got {len(labels)}")
    weights = {id(w.value): w for w in getattr(model, "weights", ())}
    em = Emitter(g, training=True)
    terms = []
    for (name, v), y, lossfn, swx in zip(model_outputs, labels, loss, sample_weights or [None] * len(labels)):
        yv = g.add_input(f"y:{name}", _label_type(np.asarray(y)))
        sw = g.add_input(f"sample_weight:{name}", TensorType(F32, (BATCH,)) if swx is None else
                         _label_type(np.asarray(swx, np.float32)))
        try:
            terms.append(lossfn(em, yv, v, sample_weight=sw))
        except GraphcError as e:
            raise TrainingError(f"output {name!r}: {e}") from None
    total = combine(em, terms, loss_weights)
    variables = list(g.variables())
    params = [n for n in variables if g.attrs(n).get("trainable", True)
              and np.issubdtype(g.type_of((n, 0)).dtype, np.floating)]
    if not params:
        hint = ("set layer.trainable = True on the layers to train" if hasattr(model, "layers") else
                "an ONNX file's initializers load as constants: load it with graphc.load(path, variables=True)")
        raise TrainingError(f"model {getattr(model, 'name', g.name)!r} has nothing to train: no trainable weight "
                            f"({hint})")
    for term in activity + _regularization(em, g, weights, params):
        total = em.op("Add", total, term)
    # before differentiating: an unrolled sequence's per-step Gathers differentiate as one Concat,
    # and a loss's renormalization of a softmax output (a no-op) not at all
    GatherToSplit().run(g)
    SoftmaxRenormalization().run(g)
    grads = gradients(g, total, wrt=params, unconnected="zeros")
    values = {n: g.attrs(n)["value"] for n in variables}
    # every Variable becomes an input, so that its array stays resident in the trainer
    for n in variables:
        g.set_op(n, "Input")
        g.data(n)["attrs"] = {}
        g.inputs.append(n)
    frozen = [n for n in variables if n not in params]
    var_of_update = {}
    for out_name, (layer, wname) in updates.items():
        var = f"{layer}/{wname}"
        if var not in values:
            raise TrainingError(f"state update {out_name!r} names no weight of the graph")
        var_of_update[var] = out_name
    g.outputs = [(n, v) for n, v in outputs if n in var_of_update.values()] + model_outputs
    kept = list(g.outputs)
    g.outputs = []
    _out(g, "loss", total)
    state = {}
    lr_input = not is_schedule(optimizer)
    if fused:
        pv = {n: (n, 0) for n in params}
        state = optimizer.init_state({n: tuple(values[n].shape) for n in params})
        sv = {s: g.add_input(f"state:{s}", TensorType(np.dtype(a.dtype), a.shape)) for s, a in state.items()}
        step = g.add_input("step", TensorType(I64, ()))
        lr = g.add_input("learning_rate", TensorType(F32, ())) if lr_input else None
        constraints = {n: weights[id(values[n])].constraint for n in params
                       if id(values[n]) in weights and weights[id(values[n])].constraint is not None}
        new_p, new_s = optimizer.build_update(em, pv, grads, sv, step, learning_rate=lr, constraints=constraints)
        for n in params:
            _out(g, f"new_param:{n}", new_p[n])
        for s in state:
            _out(g, f"new_state:{s}", new_s[s])
    else:
        for n in params:
            _out(g, f"grad:{n}", grads[n])
    by_name = dict(kept)
    for var, out_name in var_of_update.items():
        _out(g, f"update:{var}", by_name[out_name])
    for name, v in carry:
        _out(g, f"carry:{name}", v)
    for name, v in model_outputs:
        _out(g, f"pred:{name}", v)
    from graphc.passes.dce import DeadCodeElimination

    DeadCodeElimination().run(g)
    g.inputs = [n for n in g.inputs if n in g]
    g.verify()
    return TrainStep(g, params, [n for n in frozen if n in g], values, state,
                     {v: f"update:{v}" for v in var_of_update}, [n for n, _ in model_outputs], lr_input,
                     [n for n, _ in carry])


def is_schedule(optimizer) -> bool:
    from graphc.optimizers.schedules import LearningRateSchedule

    return isinstance(optimizer.learning_rate, LearningRateSchedule)
