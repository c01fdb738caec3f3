"""`update_graph`: an optimizer's update as a graph of its own, to run apart from the gradient graph
(a Spark driver applies it to accumulated gradients) on any backend.

Inputs: `param:<name>`, `grad:<name>`, `state:<name>` (the names `init_state` gives), `step` (int64,
updates applied so far), and optionally `learning_rate` (float32) and `epoch` (int64).
Outputs: `new_param:<name>` and `new_state:<name>`, in that order; feed them back as the next step's
`param:`/`state:` inputs (the trainer advances `step`).
"""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.nn.base import Emitter
from graphc.types import TensorType

F32 = np.dtype(np.float32)
I64 = np.dtype(np.int64)


def update_graph(opt, params: dict, learning_rate_input=False, epoch_input=False, constraints=None,
                 name="update") -> Graph:
    """The update graph of `opt` for parameters {name: array or shape}."""
    g = Graph(name)
    em = Emitter(g)
    shapes = {n: tuple(p) if isinstance(p, tuple) else tuple(np.shape(p)) for n, p in params.items()}
    state = opt.init_state(shapes)
    pv = {n: g.add_input(f"param:{n}", TensorType(F32, s)) for n, s in shapes.items()}
    gv = {n: g.add_input(f"grad:{n}", TensorType(F32, s)) for n, s in shapes.items()}
    sv = {n: g.add_input(f"state:{n}", TensorType(np.dtype(a.dtype), a.shape)) for n, a in state.items()}
    step = g.add_input("step", TensorType(I64, ()))
    lr = g.add_input("learning_rate", TensorType(F32, ())) if learning_rate_input else None
    epoch = g.add_input("epoch", TensorType(I64, ())) if epoch_input else None
    new_p, new_s = opt.build_update(em, pv, gv, sv, step, learning_rate=lr, epoch=epoch, constraints=constraints)
    for n, v in new_p.items():
        g.add_output(f"new_param:{n}", v)
    for n, v in new_s.items():
        g.add_output(f"new_state:{n}", v)
    g.verify()
    return g
