"""Build an optimizer's update graph over Inputs, run it step by step on ONNX Runtime, and the same
steps through real Keras 3 (torch backend)."""
from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort

from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.nn.base import Emitter
from graphc.types import TensorType

os.environ.setdefault("KERAS_BACKEND", "torch")


class UpdateRunner:
    """The update graph of `opt` for parameters {name: array}; `step(grads)` applies one update."""

    def __init__(self, opt, params: dict, lr_input=False, epoch_input=False, constraints=None):
        self.opt = opt
        self.params = {n: np.asarray(v, np.float32).copy() for n, v in params.items()}
        self.state = opt.init_state(self.params)
        self.iterations = 0
        g = Graph("update")
        em = Emitter(g)
        f32 = np.float32

        def inp(name, shape, dtype=f32):
            return g.add_input(name, TensorType(np.dtype(dtype), tuple(shape)))

        pv = {n: inp(f"p:{n}", v.shape) for n, v in self.params.items()}
        gv = {n: inp(f"g:{n}", v.shape) for n, v in self.params.items()}
        sv = {n: inp(f"s:{n}", v.shape) for n, v in self.state.items()}
        step = inp("step", (), np.int64)
        lr = inp("lr", ()) if lr_input else None
        epoch = inp("epoch", (), np.int64) if epoch_input else None
        new_p, new_s = opt.build_update(em, pv, gv, sv, step, learning_rate=lr, epoch=epoch,
                                        constraints=constraints)
        self.names = [("p", n) for n in new_p] + [("s", n) for n in new_s]
        for kind, n in self.names:
            g.add_output(f"new_{kind}:{n}", (new_p if kind == "p" else new_s)[n])
        g.verify()
        self.graph = g
        self.model = to_onnx(g)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(self.model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.sess.get_inputs()}

    def step(self, grads: dict, lr=None, epoch=0):
        feeds = {f"p:{n}": v for n, v in self.params.items()}
        feeds.update({f"g:{n}": np.asarray(v, np.float32) for n, v in grads.items()})
        feeds.update({f"s:{n}": v for n, v in self.state.items()})
        feeds["step"] = np.asarray(self.iterations, np.int64)
        if lr is not None:
            feeds["lr"] = np.asarray(lr, np.float32)
        feeds["epoch"] = np.asarray(epoch, np.int64)
        feeds = {k: v for k, v in feeds.items() if k in self.input_names}
        outs = self.sess.run(None, feeds)
        for (kind, n), v in zip(self.names, outs):
            (self.params if kind == "p" else self.state)[n] = v
        self.iterations += 1
        return self.params


def random_case(seed, shapes=None, steps=20):
    rng = np.random.default_rng(seed)
    shapes = shapes or {"dense/kernel": (3, 4), "dense/bias": (4,), "conv/kernel": (2, 3, 2)}
    params = {n: rng.normal(size=s).astype(np.float32) for n, s in shapes.items()}
    grads = [{n: rng.normal(size=s).astype(np.float32) for n, s in shapes.items()} for _ in range(steps)]
    return params, grads


def keras_run(keras_opt, params: dict, grads: list, exclude_names=None):
    """Every step's parameters under a real Keras optimizer; Keras variables are named by the last
    segment of the graphc name (what `exclude_from_weight_decay(var_names=...)` searches)."""
    import keras

    variables = [keras.Variable(v.copy(), name=n.rsplit("/", 1)[-1]) for n, v in params.items()]
    if exclude_names:
        keras_opt.exclude_from_weight_decay(var_names=exclude_names)
    history = []
    for g in grads:
        keras_opt.apply([keras.ops.convert_to_tensor(g[n]) for n in params], variables)
        history.append({n: keras.ops.convert_to_numpy(v.value).copy() for n, v in zip(params, variables)})
    return history


def assert_close(a: dict, b: dict, rtol=1e-5, atol=1e-6, what=""):
    for n in a:
        np.testing.assert_allclose(a[n], b[n], rtol=rtol, atol=atol, err_msg=f"{what} {n}")
