"""Recurrent part of the DL4J front door: Graves' peephole LSTM (against a numpy transcription of DL4J's
recurrence and by gradient check), the DL4J recurrent layers, truncated BPTT and stateful rnn_time_step."""
from __future__ import annotations

import numpy as np
import pytest

from graphc import nn
from graphc.gradcheck import check_gradients
from graphc.nn.graves_lstm import GravesLSTM

RNG = np.random.default_rng(7)


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def graves_reference(x, w, r, b, h=None, c=None):
    """DL4J's GravesLSTM forward pass written out in numpy: x (batch, time, n_in); blocks a, f, o, g;
    peephole columns 4u (forget), 4u+1 (output), 4u+2 (input gate)."""
    u = r.shape[0]
    h = np.zeros((x.shape[0], u)) if h is None else h
    c = np.zeros((x.shape[0], u)) if c is None else c
    out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ w + h @ r[:, :4 * u] + b
        a = np.tanh(z[:, :u])
        f = sigmoid(z[:, u:2 * u] + c * r[:, 4 * u])
        g = sigmoid(z[:, 3 * u:] + c * r[:, 4 * u + 2])
        c = f * c + g * a
        o = sigmoid(z[:, 2 * u:3 * u] + c * r[:, 4 * u + 1])
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, 1), h, c


def _graves_model(steps, n_in, units, **kwargs):
    x = nn.Input((steps, n_in))
    layer = GravesLSTM(units, return_sequences=True, **kwargs)
    return nn.Model(x, layer(x)), layer


def test_graves_lstm_layout_and_forget_gate_bias():
    m, layer = _graves_model(4, 3, 5, forget_gate_bias_init=0.7)
    assert [w.shape for w in m.weights] == [(3, 20), (5, 23), (20,)]
    bias = layer.cell.bias.value
    np.testing.assert_array_equal(bias[5:10], np.float32(0.7))
    assert not bias[:5].any() and not bias[10:].any()


def test_graves_lstm_matches_numpy_recurrence_with_peepholes():
    m, layer = _graves_model(6, 3, 4)
    w, r, b = (RNG.normal(0, 0.5, wt.shape).astype(np.float32) for wt in m.weights)
    m.set_weights([w, r, b])
    x = RNG.standard_normal((2, 6, 3)).astype(np.float32)
    ref, _, _ = graves_reference(x, w, r, b)
    np.testing.assert_allclose(m.predict(x), ref, atol=2e-6)
    # the peepholes matter: zeroing them changes the result
    r0 = r.copy()
    r0[:, 16:] = 0
    assert np.abs(graves_reference(x, w, r0, b)[0] - ref).max() > 1e-3


def test_graves_lstm_states_in_and_out_match_numpy():
    x = nn.Input((3, 2))
    h0, c0 = nn.Input((4,)), nn.Input((4,))
    layer = GravesLSTM(4, return_sequences=True, return_state=True)
    m = nn.Model([x, h0, c0], layer(x, initial_state=[h0, c0]))
    w, r, b = (RNG.normal(0, 0.5, wt.shape).astype(np.float32) for wt in m.weights)
    m.set_weights([w, r, b])
    xs, hs, cs = (RNG.standard_normal(s).astype(np.float32) for s in ((2, 3, 2), (2, 4), (2, 4)))
    y, h, c = m.predict([xs, hs, cs])
    ry, rh, rc = graves_reference(xs, w, r, b, hs, cs)
    for got, want in ((y, ry), (h, rh), (c, rc)):
        np.testing.assert_allclose(got, want, atol=2e-6)


def test_graves_lstm_gradient_check_includes_peepholes():
    m, layer = _graves_model(5, 3, 4)
    m.set_weights([RNG.normal(0, 0.5, w.shape) for w in m.weights])
    g = m.build_graph(training=True)
    loss = (g.add_node("ReduceSumSquare", [g.outputs[0][1]], {"keepdims": 0}, name="loss"), 0)
    x = RNG.standard_normal((2, 5, 3))
    result = check_gradients(g, loss, feeds={g.inputs[0]: x}, wrt=[*g.variables(), g.inputs[0]],
                             max_per_param=None, min_abs_error=1e-9)
    assert result.passed, result.report()
    assert {p.name.split("/")[-1] for p in result.params} >= {"kernel", "recurrent_kernel", "bias"}
    # every peephole column got a real (non-zero) gradient, checked element by element above
    from graphc.autodiff import gradient_graph
    from graphc.gradcheck import as_float64
    import onnxruntime as ort
    from graphc.lower.onnx import to_onnx

    g64 = as_float64(g)
    gg = gradient_graph(g64, loss)
    sess = ort.InferenceSession(to_onnx(gg).SerializeToString(), providers=["CPUExecutionProvider"])
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {g.inputs[0]: x})))
    rec = next(v for k, v in outs.items() if k.endswith("recurrent_kernel"))
    assert rec.shape == (4, 19) and np.all(np.abs(rec[:, 16:]).sum(0) > 1e-6)


def test_trainer_returns_carried_states_without_labels():
    """Carried outputs (final states) need no label, add no loss and come back from each step."""
    from graphc import losses, optimizers
    from graphc.runtime.train import Trainer

    x, h0, c0 = nn.Input((4, 2)), nn.Input((3,)), nn.Input((3,))
    y, h, c = GravesLSTM(3, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    m = nn.Model([x, h0, c0], [nn.Dense(2)(y), h, c])
    names = m.output_names
    xs, hs, cs = (RNG.standard_normal(s).astype(np.float32) for s in ((5, 4, 2), (5, 3), (5, 3)))
    labels = RNG.standard_normal((5, 4, 2)).astype(np.float32)
    _, want_h, want_c = m.predict([xs, hs, cs])  # the states at the weights before the step
    t = Trainer(m, [losses.get("mse")], optimizers.get("sgd"), [labels], carried=names[1:])
    loss, preds = t.train_step([xs, hs, cs], [labels], [np.ones(5, np.float32)])
    assert np.isfinite(loss) and len(preds) == 1 and preds[0].shape == (5, 4, 2)
    np.testing.assert_allclose(t.last_carried[names[1]], want_h, atol=1e-6)
    np.testing.assert_allclose(t.last_carried[names[2]], want_c, atol=1e-6)
