"""Limited-memory BFGS (DL4J's `LBFGS`): the two-loop recursion over the last `m` steps.

d = -H g, H the inverse-Hessian estimate from the pairs (s_i, y_i) kept (a pair with s.y <= 1e-10 y.y
is skipped: it would break H's positive definiteness), scaled by gamma = s.y / y.y of the newest pair
(Nocedal & Wright, Algorithm 7.4). The line search is strong Wolfe with c1 = 1e-4, c2 = 0.9 and a first
trial step of 1, except for the first iteration (and after a reset), where it is min(1, 1 / ||g||), as
scipy's L-BFGS-B starts. m = 10 is scipy's `maxcor` default (DL4J's is 4).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from graphc.dl4j.optimize.descent import Direction, run
from graphc.dl4j.optimize.line_search import dot, norm


class TwoLoop(Direction):
    search = "strong_wolfe"
    search_options = {"c1": 1e-4, "c2": 0.9}

    def __init__(self, m=10):
        self.m = int(m)
        self.reset()

    def reset(self):
        self.pairs = deque(maxlen=self.m)

    @property
    def remembers(self):
        return bool(self.pairs)

    def direction(self, g):
        q = np.array(g, np.float64)
        alphas = []
        for s, y, rho in reversed(self.pairs):
            a = rho * dot(s, q)
            q -= a * y
            alphas.append(a)
        if self.pairs:
            s, y, _ = self.pairs[-1]
            q *= dot(s, y) / dot(y, y)
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            b = rho * dot(y, q)
            q += (a - b) * s
        return -q

    def first_step(self, f, f_prev, g, d):
        return 1.0 if self.pairs else float(min(1.0, 1.0 / max(norm(d), 1e-300)))

    def step_hint(self, alpha):
        # along -g the newest pair's scale gamma = s.y / y.y is what a unit step of H would take
        if not self.pairs:
            return None
        s, y, _ = self.pairs[-1]
        return dot(s, y) / dot(y, y)

    def update(self, d, s, y, g_new):
        sy = dot(s, y)
        if sy > 1e-10 * dot(y, y):
            self.pairs.append((s, y, 1.0 / sy))


def lbfgs(fun, x0, max_iterations=100, gtol=1e-5, ftol=0.0, callback=None, m=10, initial_step=None,
          max_evaluations=25):
    """Minimise `fun(x) -> (f, grad)` by L-BFGS with memory `m`."""
    return run(TwoLoop(m), fun, x0, max_iterations, gtol, ftol, callback, initial_step=initial_step,
               max_evaluations=max_evaluations)
