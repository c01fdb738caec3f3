"""Adam (amsgrad), AdamW, Adamax and Nadam with Keras's rules (t = step + 1):

- Adam: m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2 (amsgrad: v_hat = max(v_hat, v));
  w -= m * lr sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + epsilon)  (epsilon is Keras's "epsilon hat";
  PyTorch adds its epsilon to sqrt(v / (1 - b2^t)) instead: the two agree for epsilon = 0);
- AdamW: Adam with decoupled weight_decay (0.004 by default), w *= 1 - lr * weight_decay first;
- Adamax: m as Adam;  u = max(b2 u, |g|);  w -= lr m / ((u + epsilon)(1 - b1^t));
- Nadam (Keras's, with the 0.96 momentum schedule): mu_t = b1 (1 - 0.5 * 0.96^t), the product of
  the mu's kept as state `optimizer/u_product`;
  w -= lr (mu_{t+1} m / (1 - prod_{t+1}) + (1 - mu_t) g / (1 - prod_t)) / (sqrt(v / (1 - b2^t)) + eps).
"""
from __future__ import annotations

import numpy as np

from graphc.optimizers.adaptive import _moving
from graphc.optimizers.base import GLOBAL, Optimizer, OptimizerError


class _Moments(Optimizer):
    hyper_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _powers(self, s, t):
        local = s.add(t, 1.0)
        return local, s.pow(self.beta_1, local), s.pow(self.beta_2, local)


class Adam(_Moments):
    hyper_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)
        self.amsgrad = bool(amsgrad)

    def slots(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def slot_groups(self):
        return (("momentum", "velocity"),) + ((("velocity_hat",),) if self.amsgrad else ())

    def _prepare(self, s, state, t, lr, epoch=None):
        _, b1p, b2p = self._powers(s, t)
        return {"alpha": s.div(s.mul(lr, s.sqrt(s.sub(1.0, b2p))), s.sub(1.0, b1p))}, {}

    def _update(self, s, p, g, slots, lr, shared):
        new = {"momentum": _moving(s, slots["momentum"], g, self.beta_1),
               "velocity": _moving(s, slots["velocity"], s.square(g), self.beta_2)}
        v = new["velocity"]
        if self.amsgrad:
            v = new["velocity_hat"] = s.max(slots["velocity_hat"], v)
        step = s.div(s.mul(new["momentum"], shared["alpha"]), s.add(s.sqrt(v), self.epsilon))
        return s.sub(p, step), new


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if weight_decay is None:
            raise OptimizerError("optimizer AdamW: weight_decay must be a float, got None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class Adamax(_Moments):
    slot_names = ("momentum", "norm")

    def _prepare(self, s, state, t, lr, epoch=None):
        _, b1p, _ = self._powers(s, t)
        return {"correction": s.sub(1.0, b1p)}, {}

    def _update(self, s, p, g, slots, lr, shared):
        m = _moving(s, slots["momentum"], g, self.beta_1)
        u = s.max(s.mul(slots["norm"], self.beta_2), s.unary("Abs", g))
        step = s.div(s.mul(m, lr), s.mul(s.add(u, self.epsilon), shared["correction"]))
        return s.sub(p, step), {"momentum": m, "norm": u}


class Nadam(_Moments):
    slot_names = ("momentum", "velocity")
    U_PRODUCT = f"{GLOBAL}/u_product"

    def global_state(self):
        return {self.U_PRODUCT: np.asarray(1.0, np.float32)}

    def _prepare(self, s, state, t, lr, epoch=None):
        local, _, b2p = self._powers(s, t)
        u_t = s.mul(self.beta_1, s.sub(1.0, s.mul(0.5, s.pow(0.96, local))))
        u_t_1 = s.mul(self.beta_1, s.sub(1.0, s.mul(0.5, s.pow(0.96, s.add(t, 2.0)))))
        prod_t = s.mul(state[self.U_PRODUCT], u_t)
        prod_t_1 = s.mul(prod_t, u_t_1)
        shared = {"one_minus_u_t": s.sub(1.0, u_t), "u_t_1": u_t_1, "one_minus_prod_t": s.sub(1.0, prod_t),
                  "one_minus_prod_t_1": s.sub(1.0, prod_t_1), "one_minus_b2p": s.sub(1.0, b2p)}
        return shared, {self.U_PRODUCT: prod_t}

    def _update(self, s, p, g, slots, lr, shared):
        m = _moving(s, slots["momentum"], g, self.beta_1)
        v = _moving(s, slots["velocity"], s.square(g), self.beta_2)
        m_hat = s.add(s.div(s.mul(m, shared["u_t_1"]), shared["one_minus_prod_t_1"]),
                      s.div(s.mul(g, shared["one_minus_u_t"]), shared["one_minus_prod_t"]))
        v_hat = s.div(v, shared["one_minus_b2p"])
        step = s.div(s.mul(m_hat, lr), s.add(s.sqrt(v_hat), self.epsilon))
        return s.sub(p, step), {"momentum": m, "velocity": v}
