"""What MultiLayerNetwork and ComputationGraph do alike: the `fit` loop over epochs, `evaluate` over
mini-batches (a time-series output's steps are samples, its labels mask drops steps, as in DL4J)
and the text table of `summary`."""
from __future__ import annotations

import numpy as np


def init_bookkeeping(net) -> None:
    """The state both networks start with before `init()`: no model yet, no listeners, the counters
    at zero, and the per-layer tables `init()` fills (`_nn`: the graphc.nn layers of each DL4J layer,
    its preprocessor's first; `owners`: Variable name -> index of the DL4J layer that owns it)."""
    net.model = None
    net.listeners = []
    net.iteration_count = 0
    net.epoch_count = 0
    net.last_batch_size = 0
    net._score = float("nan")
    net._nn = []
    net.owners = {}


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


def fit_epochs(net, one_batch: bool, batches, num_epochs: int):
    """DL4J's fit loop, for both networks: one (Multi)DataSet is `iterations` steps and no epoch;
    an iterator is one epoch per pass, between the listeners' epoch events. `batches()` gives a
    fresh iterator of the mini-batches."""
    for _ in range(int(num_epochs)):
        if one_batch:
            net._fit_batch(next(batches()))
            continue
        net._notify("on_epoch_start")
        for batch in batches():
            net._fit_batch(batch)
        net.epoch_count += 1
        net._notify("on_epoch_end")
    return net
