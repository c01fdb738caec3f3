"""Per-element adaptive rates: Adagrad, RMSprop (momentum, centered), Adadelta, with Keras's rules.

- Adagrad: acc += g^2;  w -= lr * g / sqrt(acc + epsilon)  (acc starts at initial_accumulator_value);
- RMSprop: v = rho v + (1 - rho) g^2;  centered: a = rho a + (1 - rho) g, denominator v - a^2;
  inc = lr * g / sqrt(denominator + epsilon);  with momentum: mom = momentum mom + inc, w -= mom;
- Adadelta: acc_g = rho acc_g + (1 - rho) g^2;  d = -sqrt(acc_d + eps) / sqrt(acc_g + eps) * g;
  acc_d = rho acc_d + (1 - rho) d^2;  w += lr * d.
"""
from __future__ import annotations

from graphc.optimizers.base import Optimizer


class Adagrad(Optimizer):
    hyper_keys = ("initial_accumulator_value", "epsilon")
    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def slot_init(self, slot):
        return self.initial_accumulator_value

    def _update(self, s, p, g, slots, lr, shared):
        acc = s.add(slots["accumulator"], s.square(g))
        return s.sub(p, s.div(s.mul(g, lr), s.sqrt(s.add(acc, self.epsilon)))), {"accumulator": acc}


def _moving(s, avg, x, rho):
    """rho * avg + (1 - rho) * x"""
    return s.add(s.mul(avg, rho), s.mul(x, 1 - rho))


class RMSprop(Optimizer):
    hyper_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, bool(centered)

    def slots(self):
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) + \
            (("average_gradient",) if self.centered else ())

    def slot_groups(self):
        return tuple((slot,) for slot in self.slots())  # Keras adds each slot for all variables in turn

    def _update(self, s, p, g, slots, lr, shared):
        new = {"velocity": _moving(s, slots["velocity"], s.square(g), self.rho)}
        denominator = s.add(new["velocity"], self.epsilon)
        if self.centered:
            new["average_gradient"] = _moving(s, slots["average_gradient"], g, self.rho)
            denominator = s.sub(denominator, s.square(new["average_gradient"]))
        inc = s.div(s.mul(g, lr), s.sqrt(denominator))
        if self.momentum > 0:
            new["momentum"] = inc = s.add(s.mul(slots["momentum"], self.momentum), inc)
        return s.sub(p, inc), new


class Adadelta(Optimizer):
    hyper_keys = ("rho", "epsilon")
    slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _update(self, s, p, g, slots, lr, shared):
        acc_g = _moving(s, slots["accumulated_grad"], s.square(g), self.rho)
        rms_d = s.sqrt(s.add(slots["accumulated_delta_var"], self.epsilon))
        delta = s.mul(s.div(s.mul(rms_d, g), s.sqrt(s.add(acc_g, self.epsilon))), -1.0)
        acc_d = _moving(s, slots["accumulated_delta_var"], s.square(delta), self.rho)
        return s.add(p, s.mul(delta, lr)), {"accumulated_grad": acc_g, "accumulated_delta_var": acc_d}
