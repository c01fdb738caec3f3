"""SGD with momentum and Nesterov momentum (Keras's `SGD`; DL4J's `Sgd` and `Nesterovs`).

velocity = momentum * velocity - lr * g;  w += velocity, or with Nesterov w += momentum * velocity - lr * g.
DL4J's Nesterovs update (w += -mu * v_prev + (1 + mu) * v) is the same rule. `momentum` may be a
schedule (DL4J's `momentumSchedule` / `momentumAfter`), evaluated from the step like the learning rate.
"""
from __future__ import annotations

from graphc.optimizers.base import Optimizer, OptimizerError
from graphc.optimizers.schedules import LearningRateSchedule


class SGD(Optimizer):
    hyper_keys = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not isinstance(momentum, LearningRateSchedule):
            if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
                raise OptimizerError(f"optimizer {self.name!r} (SGD): momentum must be a float in [0, 1] "
                                     f"or a schedule, got {momentum!r}")
            momentum = float(momentum)
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def slots(self):
        return ("momentum",) if self.momentum != 0 else ()

    def _prepare(self, s, state, t, lr, epoch=None):
        return {"momentum": self.hyper(s, self.momentum, t, epoch)} if self.slots() else {}, {}

    def _update(self, s, p, g, slots, lr, shared):
        step = s.mul(g, lr)
        if not slots:
            return s.sub(p, step), {}
        mu = shared["momentum"]
        m = s.sub(s.mul(slots["momentum"], mu), step)
        if self.nesterov:
            return s.add(s.sub(p, step), s.mul(m, mu)), {"momentum": m}
        return s.add(p, m), {"momentum": m}
