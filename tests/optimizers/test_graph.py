"""The update graph itself: standard ONNX ops only, per-step scalars built once whatever the number
of parameters, and the O2 passes keep its outputs (it is fused into train steps that run them)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import graphc.optimizers as O
from graphc import optimize
from graphc.lower.onnx import to_onnx
from tests.optimizers.helpers import UpdateRunner, random_case

OPTS = [O.Adam(amsgrad=True, clipnorm=1.0, weight_decay=0.1), O.Nadam(global_clipnorm=1.0),
        O.RMSprop(centered=True, momentum=0.5, clipvalue=0.3),
        O.SGD(learning_rate=O.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=3), momentum=0.9,
              gradient_normalization="ClipL2PerLayer", regularization=O.Regularization(l1=1e-3, l2=1e-3))]


@pytest.mark.parametrize("opt", OPTS, ids=lambda o: type(o).__name__)
def test_o2_keeps_the_update(opt):
    params, grads = random_case(31, steps=4)
    runner = UpdateRunner(opt, params)
    assert all(n.get("domain", "") == "" for _, n in runner.graph.node_items())
    fused = optimize(runner.graph, "O2")
    fused.verify()
    sess = ort.InferenceSession(to_onnx(fused).SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in runner.sess.get_outputs()]
    assert [o.name for o in sess.get_outputs()] == names
    inputs = {i.name for i in sess.get_inputs()}
    for g in grads:
        feeds = {f"p:{n}": v for n, v in runner.params.items()}
        feeds.update({f"g:{n}": v for n, v in g.items()})
        feeds.update({f"s:{n}": v for n, v in runner.state.items()})
        feeds["step"] = np.asarray(runner.iterations, np.int64)
        got = sess.run(None, {k: v for k, v in feeds.items() if k in inputs})
        runner.step(g)
        want = [(runner.params if kind == "p" else runner.state)[n] for kind, n in runner.names]
        for a, b, name in zip(got, want, names):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=name)


def _ops(g):
    return len(g) - g.op_counts().get("Input", 0)


def test_shared_scalars_are_built_once():
    few = UpdateRunner(O.Nadam(), random_case(1, {"a/k": (2, 2)}, steps=1)[0]).graph
    many = UpdateRunner(O.Nadam(), random_case(1, {f"l{i}/k": (2, 2) for i in range(10)}, steps=1)[0]).graph
    per_param = (_ops(many) - _ops(few)) / 9
    pows = many.op_counts().get("Pow", 0)
    assert pows == few.op_counts().get("Pow", 0) == 4  # b2^t, 0.96^t, 0.96^(t+1) and b1^t, not per parameter
    assert per_param == 18, per_param  # m 3, v 4, m_hat 5, v_hat 1, the step 5
