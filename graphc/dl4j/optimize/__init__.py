"""DL4J's optimization algorithms on a full-batch objective given by graphc's gradient graph.

    from graphc.dl4j.optimize import Objective, minimize

    obj = Objective(model, "categorical_crossentropy", y).bind(x, y)   # f(theta), grad f(theta)
    result = minimize(obj, obj.initial(), "LBFGS", max_iterations=50)  # or CONJUGATE_GRADIENT, ...
    obj.write(result.x)                                                # into the model's weights

`algorithm` is a DL4J `OptimizationAlgorithm` member or its name: LINE_GRADIENT_DESCENT (line_gd.py),
CONJUGATE_GRADIENT (conjugate_gradient.py), LBFGS (lbfgs.py); the line searches are in line_search.py,
the loop they share in descent.py. STOCHASTIC_GRADIENT_DESCENT is not here: it is the trainer's
compiled step with the configured updater (`model.fit`).
"""
from __future__ import annotations

from graphc.dl4j.optimize.conjugate_gradient import conjugate_gradient
from graphc.dl4j.optimize.lbfgs import lbfgs
from graphc.dl4j.optimize.line_gd import line_gradient_descent
from graphc.dl4j.optimize.line_search import backtrack, strong_wolfe
from graphc.dl4j.optimize.objective import Objective, OptimizeError, OptimizeResult

ALGORITHMS = {"LINE_GRADIENT_DESCENT": line_gradient_descent, "CONJUGATE_GRADIENT": conjugate_gradient,
              "LBFGS": lbfgs}


def algorithm_name(algorithm) -> str:
    return str(getattr(algorithm, "name", algorithm)).split(".")[-1].upper()


def minimize(fun, x0, algorithm="LBFGS", max_iterations=100, **options) -> OptimizeResult:
    """Minimise `fun(x) -> (f, grad)` (an `Objective` or any such function) from `x0`."""
    name = algorithm_name(algorithm)
    if name not in ALGORITHMS:
        raise OptimizeError(f"optimization algorithm {algorithm!r} is not a line-search algorithm; choose one of "
                            f"{sorted(ALGORITHMS)} (STOCHASTIC_GRADIENT_DESCENT trains through model.fit)")
    return ALGORITHMS[name](fun, x0, max_iterations=max_iterations, **options)


def optimize_model(model, loss, x, y, algorithm="LBFGS", max_iterations=1, regularization=None,
                   objective=None, **options) -> tuple[OptimizeResult, Objective]:
    """Run `algorithm` for `max_iterations` on the batch (x, y) and write the result into `model`'s
    weights (DL4J's `fit` of one minibatch with `iterations(n)`). Pass back the returned `Objective` to
    reuse its compiled graph on the next batch."""
    if objective is None:
        objective = Objective(model, loss, y, regularization=regularization)
    objective.bind(x, y)
    options.setdefault("initial_step", objective.step_hint)
    result = minimize(objective, objective.initial(), algorithm, max_iterations, **options)
    objective.write(result.x)
    objective.step_hint = result.step_hint
    return result, objective


__all__ = ["ALGORITHMS", "Objective", "OptimizeError", "OptimizeResult", "backtrack", "conjugate_gradient",
           "lbfgs", "line_gradient_descent", "minimize", "optimize_model", "strong_wolfe"]
