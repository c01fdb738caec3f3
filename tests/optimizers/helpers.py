"""Build an optimizer's update graph over Inputs, run it step by step on ONNX Runtime, and the same
steps through real Keras 3 (torch backend)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from graphc.lower.onnx import to_onnx
from graphc.optimizers.update_graph import update_graph


class UpdateRunner:
    """The update graph of `opt` for parameters {name: array}; `step(grads)` applies one update."""

    def __init__(self, opt, params: dict, lr_input=False, epoch_input=False, constraints=None):
        self.params = {n: np.asarray(v, np.float32).copy() for n, v in params.items()}
        self.state = opt.init_state(self.params)
        self.iterations = 0
        self.graph = update_graph(opt, self.params, lr_input, epoch_input, constraints)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(to_onnx(self.graph).SerializeToString(), options,
                                         providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.sess.get_inputs()}
        self.names = [tuple(o.name.split(":", 1)) for o in self.sess.get_outputs()]

    def feeds(self, grads: dict, lr=None, epoch=0):
        feeds = {f"param:{n}": v for n, v in self.params.items()}
        feeds.update({f"grad:{n}": np.asarray(v, np.float32) for n, v in grads.items()})
        feeds.update({f"state:{n}": v for n, v in self.state.items()})
        feeds["step"] = np.asarray(self.iterations, np.int64)
        if lr is not None:
            feeds["learning_rate"] = np.asarray(lr, np.float32)
        feeds["epoch"] = np.asarray(epoch, np.int64)
        return {k: v for k, v in feeds.items() if k in self.input_names}

    def step(self, grads: dict, lr=None, epoch=0):
        outs = self.sess.run(None, self.feeds(grads, lr, epoch))
        for (kind, n), v in zip(self.names, outs):
            (self.params if kind == "new_param" else self.state)[n] = v
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
