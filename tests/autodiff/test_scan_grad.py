"""The gradient of ONNX Scan (the recurrent layers over a time axis of unknown length): gradcheck on
SimpleRNN, LSTM, GRU, backwards with states, masked, and on an imported ONNX Scan with mixed axes and
directions; a variable-length LSTM trained by `fit` gets the gradients of the same LSTM unrolled over
a known length (1e-5), at two lengths, and learns."""
from __future__ import annotations

import numpy as np
import pytest

from graphc import nn, optimizers
from graphc.autodiff import gradient_graph
from graphc.gradcheck import check_gradients

RNG = np.random.default_rng(0)


def _model(layers, shape):
    x = nn.Input(shape)
    y = x
    for layer in layers:
        y = layer(y)
    return nn.Model(x, y[0] if isinstance(y, list) else y)


CASES = {
    "SimpleRNN": lambda: [nn.SimpleRNN(3)],
    "LSTM-sequences": lambda: [nn.LSTM(3, return_sequences=True)],
    "GRU-reset-before": lambda: [nn.GRU(2, reset_after=False, return_sequences=True)],
    "GRU-backwards-state": lambda: [nn.GRU(3, go_backwards=True, return_state=True)],
    "LSTM-masked": lambda: [nn.Masking(0.0), nn.LSTM(3, return_sequences=True)],
    "LSTM-stacked": lambda: [nn.LSTM(3, return_sequences=True), nn.SimpleRNN(2)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_unknown_length(name):
    model = _model(CASES[name](), (None, 2))
    g = model.graph
    assert g.op_counts().get("Scan")
    y = g.outputs[0][1]
    loss = (g.add_node("ReduceSumSquare", [y], {"keepdims": 0}, name="loss"), 0)
    x = RNG.standard_normal((2, 4, 2))
    if name == "LSTM-masked":
        x[0, 2:] = 0.0  # the first sequence ends after two steps
    gradient_graph(g, loss).verify()
    # (a masked input is not differentiable where it is 0: moving it unmasks the step)
    wrt = list(g.variables()) + ([] if name == "LSTM-masked" else list(g.inputs))
    result = check_gradients(g, loss, feeds={g.inputs[0]: x}, wrt=wrt, max_per_param=12)
    assert {p.name for p in result.params} == set(wrt)
    assert result.passed, result.report()


def _seeded(cls, seed):
    return {"class_name": cls, "config": {"seed": seed}}


def _lstm(steps, **kwargs):  # seeded initial weights: the runs below are the same every time
    return nn.Sequential([nn.Input((steps, 3)),
                          nn.LSTM(6, kernel_initializer=_seeded("GlorotUniform", 1),
                                  recurrent_initializer=_seeded("Orthogonal", 2), **kwargs),
                          nn.Dense(2, activation="softmax", kernel_initializer=_seeded("GlorotUniform", 3))])


def _data(n, steps, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, 3)).astype(np.float32)
    return x, np.eye(2, dtype=np.float32)[(x[:, :, 0].sum(1) > 0).astype(int)]


def test_variable_length_step_matches_unrolled():
    """One SGD step with learning rate 1 moves each weight by minus its gradient."""
    varlen = _lstm(None)
    varlen.compile(optimizer=optimizers.SGD(learning_rate=1.0), loss="categorical_crossentropy")
    for steps in (5, 8):  # one Scan model, any length
        unrolled = _lstm(steps)
        unrolled.set_weights(varlen.get_weights())
        unrolled.compile(optimizer=optimizers.SGD(learning_rate=1.0), loss="categorical_crossentropy")
        x, y = _data(16, steps)
        before = varlen.get_weights()
        assert varlen.train_on_batch(x, y) == pytest.approx(unrolled.train_on_batch(x, y), rel=1e-6)
        for w0, a, b in zip(before, varlen.get_weights(), unrolled.get_weights()):
            np.testing.assert_allclose(w0 - a, w0 - b, rtol=1e-5, atol=1e-7)


def test_variable_length_fit_learns_as_unrolled():
    x, y = _data(64, 5)
    varlen, unrolled = _lstm(None), _lstm(5)
    unrolled.set_weights(varlen.get_weights())
    hist = []
    for m in (varlen, unrolled):
        m.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="categorical_crossentropy")
        hist.append(m.fit(x, y, batch_size=16, epochs=6, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(hist[0], hist[1], rtol=1e-5)
    assert hist[0][-1] < 0.7 * hist[0][0]


def test_variable_length_with_dropout_trains():
    """Dropout masks drawn once per sequence and captured by the Scan body carry no gradient."""
    x, y = _data(64, 5)
    model = _lstm(None, dropout=0.2, recurrent_dropout=0.2, seed=3)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="categorical_crossentropy")
    losses = model.fit(x, y, batch_size=16, epochs=6, verbose=0, seed=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_imported_onnx_scan_axes_directions_and_outer_scope():
    """A Scan written with onnx.helper: scan inputs along axes 0 and 1, one read backwards, scan
    outputs stacked on axes 1 and 0, one prepended, the body reading an outer value by name."""
    import onnx
    from onnx import TensorProto, helper as h

    from graphc.importers.onnx import load

    f = TensorProto.FLOAT

    def vi(name, shape):
        return h.make_tensor_value_info(name, f, shape)

    body = h.make_graph([h.make_node("Mul", ["s_in", "w"], ["sw"]), h.make_node("Tanh", ["a_t"], ["ta"]),
                         h.make_node("Add", ["sw", "ta"], ["s1"]), h.make_node("Mul", ["s1", "b_t"], ["s_out"]),
                         h.make_node("Sigmoid", ["s_out"], ["y_t"]), h.make_node("Mul", ["y_t", "a_t"], ["z_t"])],
                        "body", [vi("s_in", [2]), vi("a_t", [2]), vi("b_t", [2])],
                        [vi("s_out", [2]), vi("y_t", [2]), vi("z_t", [2])])
    nodes = [h.make_node("Scan", ["s0", "A", "B"], ["sT", "Y", "Z"], body=body, num_scan_inputs=2,
                         scan_input_axes=[0, 1], scan_input_directions=[1, 0], scan_output_axes=[1, 0],
                         scan_output_directions=[0, 1]),
             h.make_node("ReduceSumSquare", ["Y"], ["ly"], keepdims=0),
             h.make_node("ReduceSum", ["Z"], ["lz"], keepdims=0),
             h.make_node("ReduceSum", ["sT"], ["ls"], keepdims=0), h.make_node("Sum", ["ly", "lz", "ls"], ["loss"])]
    graph = h.make_graph(nodes, "m", [vi("s0", [2]), vi("A", [4, 2]), vi("B", [2, 4]), vi("w", [2])], [vi("loss", [])])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    g = load(model)
    feeds = {"s0": RNG.normal(size=2), "A": RNG.normal(size=(4, 2)), "B": RNG.normal(size=(2, 4)),
             "w": RNG.normal(size=2)}
    loss = [v for name, v in g.outputs if name == "loss"][0]
    result = check_gradients(g, loss, feeds=feeds, wrt=list(feeds), max_per_param=None)
    assert {p.name for p in result.params} == set(feeds) and all(p.checked for p in result.params)
    assert result.passed, result.report()
