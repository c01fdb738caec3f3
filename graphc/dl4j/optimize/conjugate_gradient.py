"""Nonlinear conjugate gradient (DL4J's `ConjugateGradient`): Polak-Ribière with restarts.

d_0 = -g_0;  d_k = -g_k + beta_k d_{k-1},  beta_k = max(0, g_k.(g_k - g_{k-1}) / g_{k-1}.g_{k-1})
(PR+, which restarts by itself where beta would turn negative, as scipy's `minimize(method="CG")`), with
a restart to -g every `restart` iterations (default: the number of parameters) and whenever d_k is not
clearly downhill (g.d > -0.01 g.g, scipy's `sigma_3` test). The line search is strong Wolfe with
c2 = 0.4 and a first trial step of min(1, 1.01 * 2 (f_k - f_{k-1}) / g.d), scipy's settings.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.optimize.descent import Direction, run
from graphc.dl4j.optimize.line_search import dot, norm


class PolakRibiere(Direction):
    search = "strong_wolfe"
    search_options = {"c1": 1e-4, "c2": 0.4}
    cap = 1.0

    def __init__(self, restart=None):
        self.restart = restart
        self.reset()

    def reset(self):
        self.g_prev = self.d_prev = None
        self.since_restart = 0

    @property
    def remembers(self):
        return self.d_prev is not None

    def direction(self, g):
        if self.d_prev is None or (self.restart and self.since_restart >= self.restart):
            self.reset()
            return -g
        beta = max(0.0, dot(g, g - self.g_prev) / dot(self.g_prev, self.g_prev))
        return -g + beta * self.d_prev

    def descent_ok(self, g, d):
        return dot(g, d) <= -0.01 * dot(g, g)

    def update(self, d, s, y, g_new):
        self.g_prev, self.d_prev = g_new - y, d  # the gradient where the step started, its direction
        self.since_restart += 1


def conjugate_gradient(fun, x0, max_iterations=100, gtol=1e-5, ftol=0.0, callback=None, restart=None,
                       initial_step=None, max_evaluations=25):
    """Minimise `fun(x) -> (f, grad)` by Polak-Ribière conjugate gradient."""
    rule = PolakRibiere(restart if restart is not None else int(np.size(x0)))
    return run(rule, fun, x0, max_iterations, gtol, ftol, callback, initial_step=initial_step,
               max_evaluations=max_evaluations)
