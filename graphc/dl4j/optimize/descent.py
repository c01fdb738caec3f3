"""The iteration every line-search algorithm shares (DL4J's `BaseOptimizer.optimize`): pick a search
direction from the gradient (and the algorithm's memory), pick a first trial step, search the line,
move, tell the direction rule what the step was.

A direction that is not a descent direction (g.d >= 0, or for conjugate gradient too shallow to trust)
is replaced by steepest descent and the rule's memory dropped; a line search that finds no lower point
along a remembered direction is retried once along -g before the run stops. A run stops after
`max_iterations`, when max|g| <= gtol, or when an iteration gains less than
ftol * max(|f|, |f_prev|, 1) (0 turns that test off). The value never rises: every accepted step
satisfies Armijo's sufficient decrease.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.optimize.line_search import backtrack, dot, initial_step, norm, strong_wolfe
from graphc.dl4j.optimize.objective import OptimizeError, OptimizeResult

SEARCHES = {"backtrack": backtrack, "strong_wolfe": strong_wolfe}


class Direction:
    """Steepest descent; subclasses remember past steps. `cap`: the largest first trial step."""

    cap: float | None = None
    search = "backtrack"
    search_options: dict = {}

    def reset(self) -> None:
        pass

    @property
    def remembers(self) -> bool:
        return False

    def direction(self, g) -> np.ndarray:
        return -g

    def first_step(self, f, f_prev, g, d) -> float:
        if f_prev is None:  # scipy's start: as if the previous iteration had gained |g| / 2
            f_prev = f + norm(g) / 2
        return initial_step(f, f_prev, dot(g, d), np.inf if self.cap is None else self.cap)

    def update(self, d, s, y, g_new) -> None:
        """The step taken: direction d, s = alpha d, y = g_new - g."""

    def step_hint(self, alpha) -> float | None:
        """A good first trial step along -g for a next run: the step just accepted."""
        return alpha

    def descent_ok(self, g, d) -> bool:
        return dot(g, d) < 0


def run(rule: Direction, fun, x0, max_iterations=100, gtol=1e-5, ftol=0.0, callback=None,
        max_evaluations=25, initial_step=None) -> OptimizeResult:
    """Minimise `fun(x) -> (f, grad)` from `x0` along the directions of `rule`. `initial_step`: the first
    trial step along -g (a previous run's `step_hint`, when a network's fit runs one per mini-batch:
    each batch restarts the algorithm, and without it every batch would first grope for the scale)."""
    if int(max_iterations) < 0:
        raise OptimizeError(f"max_iterations must be >= 0, got {max_iterations!r}")
    search = SEARCHES[rule.search]
    x = np.array(x0, np.float64)
    f, g = fun(x)
    if not np.isfinite(f):
        raise OptimizeError(f"the objective is {f} at the starting point; check the data and the initial weights")
    evals, losses, f_prev, hint = 1, [float(f)], None, initial_step
    it, converged, message = 0, False, "reached max_iterations"
    while it < max_iterations:
        if float(np.max(np.abs(g), initial=0.0)) <= gtol:
            converged, message = True, "max|gradient| <= gtol"
            break
        d = rule.direction(g)
        if not rule.descent_ok(g, d):
            rule.reset()
            d = -g
        first = initial_step if it == 0 and initial_step else rule.first_step(f, f_prev, g, d)
        step = search(fun, x, f, g, d, first, max_evaluations=max_evaluations, **rule.search_options)
        evals += step.evaluations
        if step.alpha == 0.0 and rule.remembers:  # the memory misled: once more along -g
            rule.reset()
            d = -g
            step = search(fun, x, f, g, d, rule.first_step(f, f_prev, g, d), max_evaluations=max_evaluations,
                          **rule.search_options)
            evals += step.evaluations
        if step.alpha == 0.0:
            message = "the line search found no lower point"
            break
        s = step.alpha * d
        rule.update(d, s, step.grad - g, step.grad)
        hint = rule.step_hint(step.alpha)
        x, f_prev, f, g = x + s, f, step.f, step.grad
        it += 1
        losses.append(float(f))
        if callback is not None:
            callback(it, x, f)
        if ftol and f_prev - f <= ftol * max(abs(f), abs(f_prev), 1.0):
            converged, message = True, "relative gain <= ftol"
            break
    return OptimizeResult(x, float(f), g, it, evals, converged, message, losses, hint)
