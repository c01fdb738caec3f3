"""Gradients of graphc.nn training graphs (`Model.build_graph(training=True)`): BatchNormalization on
batch statistics through gradcheck, and Dropout's gradient is its own mask, scaled."""
from __future__ import annotations

import numpy as np

from graphc import nn
from graphc.autodiff import gradient_graph
from graphc.gradcheck import check_gradients
from graphc.lower.onnx import to_onnx

RNG = np.random.default_rng(0)


def _loss_on_first_output(g):
    return (g.add_node("ReduceSumSquare", [g.outputs[0][1]], {"keepdims": 0}, name="loss"), 0)


def test_batch_normalization_training_graph():
    x = nn.Input((4,))
    m = nn.Model(x, nn.Dense(3)(nn.BatchNormalization()(nn.Dense(4)(x))))
    g = m.build_graph(training=True)
    loss = _loss_on_first_output(g)
    variables = g.variables()
    result = check_gradients(g, loss, feeds={g.inputs[0]: RNG.standard_normal((5, 4))}, max_per_param=8)
    names = {p.name for p in result.params}
    assert any("gamma" in n for n in names) and any("beta" in n for n in names)
    # the moving statistics only feed the update outputs: no gradient for them
    assert not any("moving" in n for n in names) and any("moving" in n for n in variables)
    assert result.passed, result.report()


def test_dropout_training_gradient_is_the_scaled_mask():
    import onnxruntime as ort

    x = nn.Input((50,))
    m = nn.Model(x, nn.Dropout(0.4, seed=1)(x))
    g = m.build_graph(training=True)
    loss = (g.add_node("ReduceSumSquare", [g.outputs[0][1]], {"keepdims": 0}), 0)
    gg = gradient_graph(g, loss, wrt=[g.inputs[0]])
    gg.add_output("y", g.outputs[0][1])
    xs = RNG.uniform(1, 2, (4, 50)).astype(np.float32)
    sess = ort.InferenceSession(to_onnx(gg).SerializeToString(), providers=["CPUExecutionProvider"])
    _, dx, y = sess.run(None, {g.inputs[0]: xs})
    kept = y != 0
    assert 0.3 < 1 - kept.mean() < 0.5
    # y = x m / 0.6, so d(sum y^2)/dx = 2 y m / 0.6: zero where dropped
    np.testing.assert_allclose(dx, 2 * y * kept / 0.6, rtol=1e-5)
