"""What MultiLayerNetwork and ComputationGraph report alike: `evaluate` over mini-batches (a
time-series output's steps are samples, its labels mask drops steps, as in DL4J) and the text
table of `summary`."""
from __future__ import annotations

import numpy as np


def evaluate(batches) -> "Evaluation":
    """A `graphc.evaluation.Evaluation` over (output, labels, labels mask or None) triples in DL4J's
    layout: [batch, n] rows (a mask there weighs the loss only), or [batch, n, time] sequences whose
    every step the [batch, time] mask keeps is a sample."""
    from graphc.evaluation import Evaluation

    ev = Evaluation()
    for out, labels, mask in batches:
        out, labels = np.asarray(out), np.asarray(labels)
        if out.ndim == 3:  # to (batch, time, n), the layout Evaluation flattens under a [batch, time] mask
            ev.eval(labels.transpose(0, 2, 1), out.transpose(0, 2, 1), mask)
        else:
            ev.eval(labels, out)
    return ev


def table(rows: list, footer: str) -> str:
    """`rows` (the first the header) as left-aligned columns under a rule, then `footer`."""
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(len(rows[0]))]
    lines = ["".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "-" * sum(widths))
    lines.append(footer)
    return "\n".join(lines)
