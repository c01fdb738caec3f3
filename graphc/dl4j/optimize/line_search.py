"""Line searches along a descent direction d from x: find a step a with f(x + a d) low enough.

- `backtrack`: DL4J's `BackTrackLineSearch` (Numerical Recipes' `lnsrch`): the step is capped so that
  |a d| <= step_max, then shrunk until the Armijo condition f(x + a d) <= f(x) + c1 a g.d holds, the
  first shrink by the minimiser of a quadratic, later ones of a cubic through the last two trials,
  each kept within [0.1 a, 0.5 a]. A step that reaches no decrease gives a = 0 (x stays): the caller
  never moves uphill.
- `strong_wolfe`: the strong Wolfe conditions (Armijo and |g(x + a d).d| <= c2 |g.d|) by Nocedal &
  Wright's bracketing (Algorithm 3.5) and zoom (3.6) with cubic interpolation of both ends' values
  and slopes, as `scipy.optimize.line_search` (`scalar_search_wolfe2`) does; c2 = 0.9 for L-BFGS,
  0.4 for conjugate gradient (scipy's defaults for its minimizers).

Both take `fun(x) -> (f, grad)` and return a `Step` carrying the new point's value and gradient, so
the caller evaluates nothing twice.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Step:
    alpha: float          # 0.0: no acceptable step was found
    f: float
    grad: np.ndarray
    evaluations: int
    ok: bool


def dot(a, b) -> float:
    """a.b without BLAS: a threaded BLAS dot waits for its threads on a busy machine (50 ms for 3e4
    values on two shared cores), far longer than the sum takes."""
    return float(np.multiply(a, b).sum())


def norm(a) -> float:
    return float(np.sqrt(dot(a, a)))


def initial_step(f, f_prev, slope, cap=1.0) -> float:
    """Nocedal & Wright's (3.60) first trial, as scipy's minimizers start their line searches: the step
    at which a quadratic with this slope would gain what the last iteration gained."""
    if f_prev is None or not np.isfinite(f_prev) or slope >= 0:
        return cap
    a = 1.01 * 2 * (f - f_prev) / slope
    return float(min(cap, a)) if a > 0 and np.isfinite(a) else cap


def backtrack(fun, x, f0, g0, d, alpha=1.0, c1=1e-4, step_max=100.0, max_evaluations=20) -> Step:
    """DL4J's backtracking line search (Armijo with quadratic/cubic step shrinking)."""
    slope = dot(g0, d)
    if slope >= 0:
        return Step(0.0, f0, g0, 0, False)
    length = norm(d)
    if length * alpha > step_max:  # DL4J scales a step that would go further than step_max
        alpha = step_max / length
    a_prev = f_prev = None
    for i in range(1, max_evaluations + 1):
        f, g = fun(x + alpha * d)
        if np.isfinite(f) and f <= f0 + c1 * alpha * slope:
            return Step(alpha, f, g, i, True)
        if not np.isfinite(f):
            nxt = 0.1 * alpha
        elif a_prev is None:  # quadratic through f0, slope, f(alpha)
            nxt = -slope * alpha ** 2 / (2 * (f - f0 - slope * alpha))
        else:  # cubic through f0, slope and the last two trials
            r1, r2 = f - f0 - alpha * slope, f_prev - f0 - a_prev * slope
            a = (r1 / alpha ** 2 - r2 / a_prev ** 2) / (alpha - a_prev)
            b = (-a_prev * r1 / alpha ** 2 + alpha * r2 / a_prev ** 2) / (alpha - a_prev)
            if a == 0:
                nxt = -slope / (2 * b) if b else 0.5 * alpha
            else:
                disc = b * b - 3 * a * slope
                nxt = (-b + np.sqrt(disc)) / (3 * a) if disc >= 0 else 0.5 * alpha
        a_prev, f_prev = alpha, f
        alpha = float(np.clip(nxt, 0.1 * alpha, 0.5 * alpha)) if np.isfinite(nxt) else 0.5 * alpha
    return Step(0.0, f0, g0, max_evaluations, False)


def _cubic_min(a, fa, da, b, fb, db):
    """The minimiser of the cubic with values and slopes (fa, da) at a and (fb, db) at b, or None."""
    d1 = da + db - 3 * (fa - fb) / (a - b)
    rad = d1 * d1 - da * db
    if rad < 0:
        return None
    d2 = np.sign(b - a) * np.sqrt(rad)
    den = db - da + 2 * d2
    if den == 0:
        return None
    return b - (b - a) * (db + d2 - d1) / den


def strong_wolfe(fun, x, f0, g0, d, alpha=1.0, c1=1e-4, c2=0.9, alpha_max=1e10, max_evaluations=25) -> Step:
    """A step satisfying the strong Wolfe conditions (bracketing, then zoom)."""
    slope0 = dot(g0, d)
    if slope0 >= 0:
        return Step(0.0, f0, g0, 0, False)
    evals = 0

    def phi(a):
        nonlocal evals
        evals += 1
        f, g = fun(x + a * d)
        return f, g, dot(g, d)

    def zoom(lo, hi):
        # lo, hi: (alpha, f, grad, slope); lo satisfies Armijo and has the lower value
        while evals < max_evaluations:
            if abs(hi[0] - lo[0]) <= 1e-8 * max(abs(hi[0]), abs(lo[0])):  # the bracket has closed: rounding noise
                break
            a = _cubic_min(lo[0], lo[1], lo[3], hi[0], hi[1], hi[3])
            left, right = min(lo[0], hi[0]), max(lo[0], hi[0])
            margin = 0.1 * (right - left)
            if a is None or not np.isfinite(a) or a < left + margin or a > right - margin:
                a = 0.5 * (lo[0] + hi[0])
            f, g, s = phi(a)
            if not np.isfinite(f) or f > f0 + c1 * a * slope0 or f >= lo[1]:
                hi = (a, f, g, s)
            else:
                if abs(s) <= -c2 * slope0:
                    return Step(a, f, g, evals, True)
                if s * (hi[0] - lo[0]) >= 0:
                    hi = lo
                lo = (a, f, g, s)
        # out of evaluations (or bracket): the best Armijo point seen, if it moved at all
        return Step(lo[0], lo[1], lo[2], evals, False) if lo[0] > 0 else Step(0.0, f0, g0, evals, False)

    prev = (0.0, f0, g0, slope0)
    a = min(alpha, alpha_max)
    while evals < max_evaluations:
        f, g, s = phi(a)
        cur = (a, f, g, s)
        if not np.isfinite(f) or f > f0 + c1 * a * slope0 or (prev[0] > 0 and f >= prev[1]):
            return zoom(prev, cur)
        if abs(s) <= -c2 * slope0:
            return Step(a, f, g, evals, True)
        if s >= 0:
            return zoom(cur, prev)
        # still downhill: extrapolate to the cubic's minimiser, kept within [1.1 a, 4 a] (MINPACK's range)
        nxt = _cubic_min(prev[0], prev[1], prev[3], a, f, s)
        nxt = 4 * a if nxt is None or not np.isfinite(nxt) or nxt > 4 * a else max(nxt, 1.1 * a)
        prev, a = cur, min(nxt, alpha_max)
        if prev[0] >= alpha_max:
            return Step(prev[0], prev[1], prev[2], evals, False)
    return Step(prev[0], prev[1], prev[2], evals, False) if prev[0] > 0 else Step(0.0, f0, g0, evals, False)
