"""Line gradient descent (DL4J's `LineGradientDescent`): along -g with DL4J's backtracking line search.

Every step satisfies Armijo's condition, so the loss falls at every iteration (or the run stops)."""
from __future__ import annotations

from graphc.dl4j.optimize.descent import Direction, run


class SteepestDescent(Direction):
    search = "backtrack"


def line_gradient_descent(fun, x0, max_iterations=100, gtol=1e-5, ftol=0.0, callback=None, step_max=100.0,
                          initial_step=None, max_evaluations=25):
    """Minimise `fun(x) -> (f, grad)` by steepest descent with a backtracking line search."""
    rule = SteepestDescent()
    rule.search_options = {"step_max": step_max}
    return run(rule, fun, x0, max_iterations, gtol, ftol, callback, initial_step=initial_step,
               max_evaluations=max_evaluations)
