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
    for g in grads:
        got = sess.run(None, runner.feeds(g))
        runner.step(g)
        want = [(runner.params if kind == "new_param" else runner.state)[n] for kind, n in runner.names]
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


def test_standalone_update_graph_names():
    g = O.update_graph(O.Adam(), {"d/kernel": (2, 3), "d/bias": (3,)}, learning_rate_input=True)
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [
        "param:d/kernel", "param:d/bias", "grad:d/kernel", "grad:d/bias", "state:d/kernel/momentum",
        "state:d/kernel/velocity", "state:d/bias/momentum", "state:d/bias/velocity", "step", "learning_rate"]
    assert [o.name for o in sess.get_outputs()] == [
        "new_param:d/kernel", "new_param:d/bias", "new_state:d/kernel/momentum", "new_state:d/kernel/velocity",
        "new_state:d/bias/momentum", "new_state:d/bias/velocity"]
    # a zero learning rate leaves the parameters and moves the moments
    w, b = np.ones((2, 3), np.float32), np.ones(3, np.float32)
    feeds = {"param:d/kernel": w, "param:d/bias": b, "grad:d/kernel": w, "grad:d/bias": b,
             "step": np.asarray(0, np.int64), "learning_rate": np.asarray(0, np.float32)}
    feeds.update({f"state:{k}": v for k, v in O.Adam().init_state({"d/kernel": w, "d/bias": b}).items()})
    out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    np.testing.assert_array_equal(out["new_param:d/kernel"], w)
    np.testing.assert_allclose(out["new_state:d/bias/momentum"], 0.1 * b, rtol=1e-6)
