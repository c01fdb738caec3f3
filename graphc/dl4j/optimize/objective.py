"""`Objective`: a model's full-batch loss and its gradient as a function of one flat parameter vector,
which is what DL4J's line-search optimizers (`BaseOptimizer.gradientAndScore`) work on.

The function is graphc's gradient graph (`graphc.training.step.build_train_step(fused=False)`: the
training-mode forward pass, the losses, the layers' Keras regularizers, the backward pass), compiled
once by the default back end with the batch dimension symbolic, so one executable serves every batch
`bind` gives it. The parameters travel as float64 on the optimizer's side and float32 into the graph.
DL4J's L1/L2 (`graphc.optimizers.Regularization`) are added here, score and gradient together
(`l2/2 ||w||^2 + l1 |w|`; gradient `l2 w + l1 sign(w)`), because a line search must see the objective
whose gradient it follows.

The updater and DL4J's gradient normalization are not applied: a line search must follow the
objective's own gradient, or its Wolfe conditions compare slopes of two different functions.

A line search evaluates the same batch several times and needs the same value each time, so a graph
with a random op (Dropout, noise) is refused: draw such noise into the data instead (the AutoEncoder's
corruption is drawn per batch, graphc/dl4j/layers/pretrain.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphc import backends
from graphc.errors import GraphcError
from graphc.training.step import RANDOM_OPS, build_train_step


class OptimizeError(GraphcError):
    """An objective or optimization setting the line-search algorithms cannot work with."""


@dataclass
class OptimizeResult:
    """What an algorithm ends with: the parameters, their loss and gradient, and its history."""
    x: np.ndarray
    fun: float
    grad: np.ndarray
    iterations: int = 0
    evaluations: int = 0
    converged: bool = False
    message: str = ""
    losses: list = field(default_factory=list)   # the loss before the first and after every iteration
    step_hint: float | None = None                # a first trial step along -g for a next run


class Objective:
    """f(theta) and grad f(theta) for `model` and `loss` (one per output) on the bound batch."""

    def __init__(self, model, loss, labels_example, regularization=None, threads=None):
        """`threads`: ONNX Runtime's intra-op threads (1 makes every evaluation bit-identical: a threaded
        reduction may sum in another order from run to run, which a converged line search can notice)."""
        from graphc import losses as L
        from graphc.optimizers import SGD

        losses = [L.get(x) for x in (loss if isinstance(loss, (list, tuple)) else [loss])]
        labels = [np.asarray(y) for y in (labels_example if isinstance(labels_example, (list, tuple))
                                          else [labels_example])]
        spec = build_train_step(model, losses, SGD(), labels, fused=False)
        g = spec.graph
        random = [n for n in g.nodes if g.op(n) in RANDOM_OPS]
        if random:
            raise OptimizeError(f"model {model.name!r}: its training graph draws random numbers in {random[0]!r} "
                                f"({g.op(random[0])}), so a line search would see a different loss at each "
                                f"evaluation; remove Dropout/noise layers or use STOCHASTIC_GRADIENT_DESCENT")
        g.outputs = [(n, v) for n, v in g.outputs if n == "loss" or n.startswith("grad:")]
        self.model, self.spec = model, spec
        self.names = list(spec.params)
        self.shapes = [tuple(spec.values[n].shape) for n in self.names]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.size = int(sum(self.sizes))
        self.executable = backends.compile(g, **({"threads": int(threads)} if threads else {}))
        self._frozen = {n: spec.values[n] for n in spec.frozen}
        self._data = None
        self.evaluations = 0
        self.step_hint = None  # carried from one mini-batch's run to the next (optimize_model)
        self._l1, self._l2 = self._coefficients(regularization)

    def _coefficients(self, reg):
        if reg is None or not self.names:
            return None, None
        l1, l2 = [], []
        for n, k in zip(self.names, self.sizes):
            c1, c2, _ = reg.coefficients(n)  # per parameter: a network's table gives each layer's own
            l1.append(np.full(k, c1))
            l2.append(np.full(k, c2))
        l1, l2 = np.concatenate(l1), np.concatenate(l2)
        return (None, None) if not l1.any() and not l2.any() else (l1, l2)

    # ---- parameters ---------------------------------------------------------------------------
    def unflatten(self, theta) -> dict:
        theta = np.asarray(theta)
        if theta.shape != (self.size,):
            raise OptimizeError(f"model {self.model.name!r}: a parameter vector of {self.size} values is needed, "
                                f"got shape {list(theta.shape)}")
        out, at = {}, 0
        for n, shape, k in zip(self.names, self.shapes, self.sizes):
            out[n] = theta[at:at + k].reshape(shape).astype(np.float32)
            at += k
        return out

    def flatten(self, arrays: dict) -> np.ndarray:
        return np.concatenate([np.asarray(arrays[n], np.float64).ravel() for n in self.names])

    def initial(self) -> np.ndarray:
        """The model's current trainable weights as one float64 vector."""
        if hasattr(self.model, "sync_weights"):  # a trainer may hold newer weights resident
            self.model.sync_weights()
        return self.flatten({n: self.spec.values[n] for n in self.names})

    def write(self, theta) -> None:
        """Assign `theta` to the model's weights (which tells the model, and its trainer, they changed)."""
        by_array = {id(w.value): w for w in getattr(self.model, "weights", ())}
        for n, a in self.unflatten(theta).items():
            by_array[id(self.spec.values[n])].assign(a)
        self.model.weights_changed()

    # ---- data ----------------------------------------------------------------------------------
    def bind(self, x, y, sample_weight=None) -> "Objective":
        """Evaluate on this batch from now on: inputs `x` (an array or one per model input), labels `y`."""
        xs = self.model._normalize_inputs(x)
        ys = [np.asarray(v) for v in (y if isinstance(y, (list, tuple)) else [y])]
        n = len(xs[0])
        if any(len(v) != n for v in ys):
            raise OptimizeError(f"model {self.model.name!r}: {n} input samples but labels of "
                                f"{[len(v) for v in ys]} samples")
        sws = ([np.ones(n, np.float32)] * len(ys) if sample_weight is None else
               [np.asarray(s, np.float32).reshape(n) for s in
                (sample_weight if isinstance(sample_weight, (list, tuple)) else [sample_weight])])
        feed = dict(zip(self.model.input_names, xs))
        for o, yv, sw in zip(self.spec.outputs, ys, sws):
            feed[f"y:{o}"], feed[f"sample_weight:{o}"] = yv, sw
        wanted = set(self.executable.signature.input_names)
        self._data = {k: v for k, v in {**feed, **self._frozen}.items() if k in wanted}
        return self

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        if self._data is None:
            raise OptimizeError(f"model {self.model.name!r}: bind(x, y) a batch before evaluating the objective")
        theta = np.asarray(theta, np.float64)
        wanted = set(self.executable.signature.input_names)
        feed = dict(self._data)
        feed.update({n: a for n, a in self.unflatten(theta).items() if n in wanted})
        out = self.executable.run(feed)
        self.evaluations += 1
        f = float(out["loss"])
        grad = np.concatenate([np.asarray(out[f"grad:{n}"], np.float64).ravel() if f"grad:{n}" in out
                               else np.zeros(k) for n, k in zip(self.names, self.sizes)])
        if self._l2 is not None:
            f += float(np.sum(0.5 * self._l2 * theta ** 2 + self._l1 * np.abs(theta)))
            grad = grad + self._l2 * theta + self._l1 * np.sign(theta)
        return f, grad
