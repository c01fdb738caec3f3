"""DL4J's updaters by DL4J's names, defaults and rules (`org.nd4j.linalg.learning.config.*` and the
`*Updater` classes that apply them; iteration t = step + 1 as DL4J counts).

Where DL4J's rule is Keras's, the DL4J name builds the Keras optimizer with DL4J's defaults:
- Sgd: SGD, learning_rate 1e-3;  Nesterovs: SGD, learning_rate 0.1, momentum 0.9, nesterov
  (DL4J's w += -mu v_prev + (1 + mu) v is Keras's Nesterov rule);
- AdaDelta: Adadelta, rho 0.95, epsilon 1e-6, learning_rate 1.0 (DL4J's has no learning rate);
- Adam: Adam, learning_rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-8.
Where it differs, the classes here keep DL4J's rule:
- AdaGrad (lr 0.1, eps 1e-6): h starts at eps;  h += g^2;  w -= lr g / (sqrt(h) + eps);
- RmsProp (lr 0.1, rmsDecay 0.95, eps 1e-8): G starts at eps;  G = d G + (1 - d) g^2;
  w -= lr g / (sqrt(G) + eps);
- AdaMax (lr 1e-3, beta1 0.9, beta2 0.999): u = max(b2 u, |g|);  w -= lr / (1 - b1^t) m / (u + 1e-32)
  (epsilon is only DL4J's fallback for a non-finite rate);
- Nadam (lr 1e-3, eps 1e-8): w -= lr (b1 m + (1 - b1) g) / (1 - b1^t) / (sqrt(v) + eps), no momentum
  schedule and no bias correction of v (Keras's Nadam has both).
"""
from __future__ import annotations

import enum

from graphc.optimizers.adam import Adam, Adamax, _Moments
from graphc.optimizers.adaptive import Adadelta, Adagrad, RMSprop, _moving
from graphc.optimizers.base import Optimizer, OptimizerError
from graphc.optimizers.sgd import SGD


class AdaGrad(Adagrad):
    hyper_keys = ("epsilon",)

    def __init__(self, learning_rate=0.1, epsilon=1e-6, **kwargs):
        super().__init__(learning_rate=learning_rate, initial_accumulator_value=epsilon, epsilon=epsilon, **kwargs)

    def _update(self, s, p, g, slots, lr, shared):
        h = s.add(slots["accumulator"], s.square(g))
        return s.sub(p, s.div(s.mul(g, lr), s.add(s.sqrt(h), self.epsilon))), {"accumulator": h}


class RmsProp(RMSprop):
    hyper_keys = ("rho", "epsilon")

    def __init__(self, learning_rate=0.1, rho=0.95, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, rho=rho, momentum=0.0, epsilon=epsilon, centered=False,
                         **kwargs)

    def slot_init(self, slot):
        return self.epsilon

    def _update(self, s, p, g, slots, lr, shared):
        v = _moving(s, slots["velocity"], s.square(g), self.rho)
        return s.sub(p, s.div(s.mul(g, lr), s.add(s.sqrt(v), self.epsilon))), {"velocity": v}


class AdaMax(Adamax):
    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)

    def _prepare(self, s, state, t, lr, epoch=None):
        _, b1p, _ = self._powers(s, t)
        return {"alpha": s.div(lr, s.sub(1.0, b1p))}, {}

    def _update(self, s, p, g, slots, lr, shared):
        m = _moving(s, slots["momentum"], g, self.beta_1)
        u = s.max(s.mul(slots["norm"], self.beta_2), s.unary("Abs", g))
        return s.sub(p, s.div(s.mul(m, shared["alpha"]), s.add(u, 1e-32))), {"momentum": m, "norm": u}


class Nadam(_Moments):
    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)

    def _prepare(self, s, state, t, lr, epoch=None):
        _, b1p, _ = self._powers(s, t)
        return {"rate": s.div(lr, s.sub(1.0, b1p))}, {}

    def _update(self, s, p, g, slots, lr, shared):
        m = _moving(s, slots["momentum"], g, self.beta_1)
        v = _moving(s, slots["velocity"], s.square(g), self.beta_2)
        num = s.mul(s.add(s.mul(m, self.beta_1), s.mul(g, 1 - self.beta_1)), shared["rate"])
        return s.sub(p, s.div(num, s.add(s.sqrt(v), self.epsilon))), {"momentum": m, "velocity": v}


DEFAULTS = {
    "Sgd": (SGD, dict(learning_rate=1e-3)),
    "Nesterovs": (SGD, dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    "AdaGrad": (AdaGrad, {}),
    "RmsProp": (RmsProp, {}),
    "AdaDelta": (Adadelta, dict(learning_rate=1.0, rho=0.95, epsilon=1e-6)),
    "Adam": (Adam, dict(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8)),
    "AdaMax": (AdaMax, {}),
    "Nadam": (Nadam, {}),
}
# DL4J's builder keys -> Keras's
KEYS = {"learningRate": "learning_rate", "learningRateSchedule": "learning_rate", "rmsDecay": "rho",
        "beta1": "beta_1", "beta2": "beta_2", "momentumSchedule": "momentum"}


class Updater(enum.Enum):
    """DL4J's legacy `Updater` enum (value: the DL4J updater class name)."""
    SGD = "Sgd"
    NESTEROVS = "Nesterovs"
    ADAGRAD = "AdaGrad"
    RMSPROP = "RmsProp"
    ADADELTA = "AdaDelta"
    ADAM = "Adam"
    ADAMAX = "AdaMax"
    NADAM = "Nadam"


def dl4j(name, **overrides) -> Optimizer:
    """The optimizer for a DL4J updater name (or `Updater` member) with DL4J's defaults and rule."""
    key = name.value if isinstance(name, Updater) else str(name).split(".")[-1]
    match = {k.lower(): k for k in DEFAULTS}.get(key.lower())
    if match is None:
        raise OptimizerError(f"unknown DL4J updater {name!r}; one of {sorted(DEFAULTS)}")
    cls, defaults = DEFAULTS[match]
    overrides = {KEYS.get(k, k): v for k, v in overrides.items()}
    return cls(**{**defaults, **overrides})
