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


# ---- the DL4J layers and networks ---------------------------------------------------------------
from graphc import dl4j  # noqa: E402
from graphc.dl4j import (BackpropType, ConfigError, DataSet, DenseLayer, GravesBidirectionalLSTM,  # noqa: E402
                         GravesLSTM as DL4JGravesLSTM, InputType, LossFunction, LSTM, MultiLayerConfiguration,
                         MultiLayerNetwork, NeuralNetConfiguration, OutputLayer, RnnOutputLayer, SimpleRnn,
                         Updater, WeightInit)
from graphc.errors import InputError  # noqa: E402


def _net(first, n_in=3, n_out=3, tbptt=None, updater=Updater.SGD, lr=0.1, steps=None, l2=0.0, seed=42, iterations=1):
    b = (NeuralNetConfiguration.Builder().seed(seed).iterations(iterations).learning_rate(lr).updater(updater)
         .regularization(l2 > 0).l2(l2).weight_init(WeightInit.XAVIER).list())
    hidden = list(first) if isinstance(first, (list, tuple)) else [first]
    for i, layer in enumerate(hidden):
        b = b.layer(i, layer)
    b = (b.layer(len(hidden), RnnOutputLayer.Builder(LossFunction.MCXENT).activation("softmax").n_out(n_out).build())
         .set_input_type(InputType.recurrent(n_in, steps)))
    if tbptt:
        b = b.backprop_type(BackpropType.TRUNCATED_BPTT).tbptt_forward_length(tbptt).tbptt_backward_length(tbptt)
    return MultiLayerNetwork(b.pretrain(False).backprop(True).build()).init()


def _lstm(n_out=4):
    return DL4JGravesLSTM.Builder().n_out(n_out).activation("tanh").build()


def _sequences(batch, steps, n=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n, steps)).astype(np.float32)
    y = np.eye(n, dtype=np.float32)[rng.integers(0, n, (batch, steps))].transpose(0, 2, 1)
    return x, y


def test_recurrent_confs_both_front_doors_and_json():
    a = DL4JGravesLSTM(n_in=3, n_out=4, activation="tanh", forget_gate_bias_init=0.5)
    b = DL4JGravesLSTM.Builder().n_in(3).n_out(4).activation("tanh").forget_gate_bias_init(0.5).build()
    assert a == b and a.is_recurrent and RnnOutputLayer.Builder(LossFunction.MCXENT).build().is_output
    with pytest.raises(ConfigError, match="GravesLSTM.*peephole"):
        DL4JGravesLSTM.Builder().peephole(True)
    net = _net(_lstm(), tbptt=4)
    conf = MultiLayerConfiguration.from_json(net.conf.to_json())
    assert conf == net.conf and conf.tbptt_fwd_length == 4
    # DL4J's sizes: input weights [3, 16], recurrent [4, 19] (3 peephole columns), bias 16; output 4*3+3
    assert net.num_params() == 3 * 16 + 4 * 19 + 16 + 4 * 3 + 3 == len(net.params())


def test_lstm_without_peepholes_bidirectional_and_simple_rnn_match_numpy():
    x, _ = _sequences(2, 5)
    xt = x.transpose(0, 2, 1).astype(np.float64)
    for first in (LSTM(n_out=4, activation="tanh"), GravesBidirectionalLSTM(n_out=4, activation="tanh"),
                  SimpleRnn(n_out=4, activation="tanh")):
        net = _net(first)
        block = net.get_nn_layers(0)[0]
        cells = [block.rnn.forward_layer.cell, block.rnn.backward_layer.cell] if hasattr(block.rnn, "forward_layer") \
            else [block.rnn.cell]
        for cell in cells:
            for w in cell.weights:
                w.assign(RNG.normal(0, 0.5, w.shape))
        net.model.weights_changed()
        hidden = net.get_nn_layers(1)[-1]
        got = net.output(x)
        if isinstance(first, SimpleRnn):
            w, r, b = (c.value for c in cells[0].weights)
            h, outs = np.zeros((2, 4)), []
            for t in range(5):
                h = np.tanh(xt[:, t] @ w + h @ r + b)
                outs.append(h)
            seq = np.stack(outs, 1)
        elif isinstance(first, GravesBidirectionalLSTM):
            fw = graves_reference(xt, *(c.value for c in cells[0].weights))[0]
            bw = graves_reference(xt[:, ::-1], *(c.value for c in cells[1].weights))[0][:, ::-1]
            seq = fw + bw  # DL4J adds the two directions
        else:
            w, r, b = (c.value for c in cells[0].weights)
            assert r.shape == (4, 16)
            seq = graves_reference(xt, w, np.concatenate([r, np.zeros((4, 3))], 1), b)[0]
        logits = seq @ hidden.kernel.value + hidden.bias.value
        p = np.exp(logits - logits.max(-1, keepdims=True))
        np.testing.assert_allclose(got, (p / p.sum(-1, keepdims=True)).transpose(0, 2, 1), atol=2e-5,
                                   err_msg=type(first).__name__)


def test_tbptt_over_the_whole_sequence_equals_full_bptt():
    """A segment covering the sequence is one ordinary train step: the same parameters as the plain
    model trained by train_on_batch (no carried states, graphc's Keras-style path), L2 on every layer."""
    x, y = _sequences(4, 6)
    tb = _net([_lstm(), _lstm(3)], tbptt=6, updater=Updater.RMSPROP, lr=0.05, steps=6, l2=1e-2)
    full = _net([_lstm(), _lstm(3)], updater=Updater.RMSPROP, lr=0.05, steps=6, l2=1e-2)
    np.testing.assert_array_equal(tb.params(), full.params())
    labels = full.layers[-1].labels_to_nn(y)
    for _ in range(3):
        tb.fit(DataSet(x, y))
        full.model.train_on_batch(x, labels)
    assert tb.iteration_count == 3
    np.testing.assert_allclose(tb.params(), full.params(), atol=1e-6)


def _torch_segments(net, x, y, segment, lr, minibatches, iterations=1):
    """A hand-run reference in PyTorch: Graves' LSTM and the softmax output written out, SGD,
    `iterations` updates per segment from the same state, the states carried as detached tensors
    (no gradient across segments)."""
    torch = pytest.importorskip("torch")
    block, dense = net.get_nn_layers(0)[0], net.get_nn_layers(1)[-1]
    params = [torch.tensor(w.value, dtype=torch.float64, requires_grad=True)
              for w in block.rnn.cell.weights + dense.weights]
    w, r, b, k, kb = params
    u = r.shape[0]
    opt = torch.optim.SGD(params, lr=lr)
    xt = torch.tensor(x.transpose(0, 2, 1), dtype=torch.float64)
    yt = torch.tensor(y.transpose(0, 2, 1), dtype=torch.float64)
    for _ in range(minibatches):
        h0 = c0 = torch.zeros(x.shape[0], u, dtype=torch.float64)
        for start in range(0, x.shape[2], segment):
            for _ in range(iterations):
                h, c, loss = h0, c0, 0
                for t in range(start, min(start + segment, x.shape[2])):
                    z = xt[:, t] @ w + h @ r[:, :4 * u] + b
                    f = torch.sigmoid(z[:, u:2 * u] + c * r[:, 4 * u])
                    g = torch.sigmoid(z[:, 3 * u:] + c * r[:, 4 * u + 2])
                    c = f * c + g * torch.tanh(z[:, :u])
                    h = torch.sigmoid(z[:, 2 * u:3 * u] + c * r[:, 4 * u + 1]) * torch.tanh(c)
                    p = torch.softmax(h @ k + kb, -1)
                    loss = loss - (yt[:, t] * torch.log(p)).sum()
                opt.zero_grad()
                (loss / x.shape[0]).backward()
                opt.step()
            h0, c0 = h.detach(), c.detach()
    return np.concatenate([p.detach().numpy().ravel() for p in params])


@pytest.mark.parametrize("iterations", [1, 2])
def test_tbptt_short_segments_equal_a_hand_run_segment_by_segment_reference(iterations):
    """10 steps in segments of 4 (the last one 2 steps, padded), two minibatches, against PyTorch;
    with .iterations(2) each segment takes two steps from the same carried state, as DL4J's solver."""
    x, y = _sequences(3, 10, seed=1)
    net = _net(_lstm(), tbptt=4, lr=0.1, iterations=iterations)
    want = _torch_segments(net, x, y, 4, 0.1, minibatches=2, iterations=iterations)
    for _ in range(2):
        net.fit(DataSet(x, y))
    assert net.iteration_count == 6 * iterations
    np.testing.assert_allclose(net.params(), want, atol=1e-6)


def test_labels_mask_drops_steps():
    x, y = _sequences(2, 6, seed=2)
    mask = np.ones((2, 6), np.float32)
    mask[:, 4:] = 0
    y_other = y.copy()
    y_other[:, :, 4:] = y[:, ::-1, 4:]  # different labels on the masked steps only
    a, b = _net(_lstm(), tbptt=3), _net(_lstm(), tbptt=3)
    a.fit(DataSet(x, y, labels_mask=mask))
    b.fit(DataSet(x, y_other, labels_mask=mask))
    np.testing.assert_array_equal(a.params(), b.params())
    c = _net(_lstm(), tbptt=3)
    c.fit(DataSet(x, y_other))
    assert np.abs(c.params() - a.params()).max() > 1e-4


def test_rnn_time_step_equals_output_and_keeps_state():
    x, y = _sequences(2, 7, seed=3)
    net = _net(_lstm(), tbptt=3, updater=Updater.RMSPROP, lr=0.01)
    net.fit(DataSet(x, y))  # trained weights, written back to the layers
    want = net.output(x)
    one = np.stack([net.rnn_time_step(x[:, :, t]) for t in range(7)], -1)
    np.testing.assert_allclose(one, want, atol=1e-5)
    net.rnn_clear_previous_state()
    chunks = np.concatenate([net.rnn_time_step(x[:, :, :3]), net.rnn_time_step(x[:, :, 3:])], -1)
    np.testing.assert_allclose(chunks, want, atol=1e-5)
    with pytest.raises(InputError, match="rnn_clear_previous_state"):
        net.rnn_time_step(x[:1, :, 0])
    net.rnn_clear_previous_state()
    np.testing.assert_allclose(net.rnn_time_step(x[:1, :, 0]), want[:1, :, 0], atol=1e-5)


def test_bad_minibatches_are_refused_before_any_step():
    x, y = _sequences(3, 8, seed=4)
    net = _net(_lstm(), tbptt=4)
    before = net.params()
    for ds, match in ((DataSet(x, np.zeros((3, 4, 8), np.float32)), r"RnnOutputLayer\) with n_out 3"),
                      (DataSet(x[:, :2], y), r"features \[batch, 3, time\]"),
                      (DataSet(x, y[..., :5]), "same batch and time"),
                      (DataSet(x, y, labels_mask=np.ones((3, 5))), r"labels mask has shape \[3, 5\]")):
        with pytest.raises(InputError, match=match):
            net.fit(ds)
    np.testing.assert_array_equal(net.params(), before)
    assert net.iteration_count == 0


def test_tbptt_refusals_at_build():
    def build(first, fwd=4, back=4, last=None):
        return (NeuralNetConfiguration.Builder().list().layer(0, first)
                .layer(1, last or RnnOutputLayer(LossFunction.MCXENT, n_out=2, activation="softmax"))
                .set_input_type(InputType.recurrent(3) if last is None else InputType.feed_forward(3))
                .backprop_type(BackpropType.TRUNCATED_BPTT).tbptt_forward_length(fwd).tbptt_backward_length(back)
                .build())

    with pytest.raises(ConfigError, match=r"TRUNCATED_BPTT\) needs a recurrent layer"):
        build(DenseLayer(n_out=4, activation="relu"),
              last=OutputLayer(LossFunction.MCXENT, n_out=2, activation="softmax"))
    with pytest.raises(ConfigError, match="GravesBidirectionalLSTM.*bidirectional"):
        build(GravesBidirectionalLSTM(n_out=4, activation="tanh"))
    with pytest.raises(ConfigError, match="tbptt_backward_length 2 differs"):
        build(_lstm(), back=2)
    assert build(_lstm()).backprop_type is BackpropType.TRUNCATED_BPTT
    assert dl4j.GravesLSTM is DL4JGravesLSTM


def test_char_model_example_shortened(tmp_path, capsys, load_example):
    import json

    example = load_example("char_model")
    result = example.main(["--minibatches", "3", "--lstm-size", "16", "--length", "20", "--tbptt", "10",
                           "--sample-every", "3", "--sample-length", "10", "--samples", "2", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "Score at iteration 5 is" in printed and "sampling from 'The '" in printed
    assert result["iterations"] == 6 and result["minibatches"] == 3  # 20 characters in 2 segments each
    # the first score is a uniform guess over the characters, 10 steps of ln(n_chars); then it falls
    n_chars = len(example.minimal_character_set())
    assert abs(result["first_score"] - 10 * np.log(n_chars)) < 0.5
    assert result["last_score"] < result["first_score"] - 2
    assert result["sample"].startswith("The ") and len(result["sample"]) == 14
    assert json.loads((tmp_path / "char_model_result.json").read_text())["iterations"] == 6
    assert (tmp_path / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_serializer_resumes_tbptt_training_with_its_updater_state(tmp_path):
    from graphc.dl4j import ModelSerializer

    x, y = _sequences(3, 8, seed=4)
    net = _net(_lstm(), tbptt=4, updater=Updater.RMSPROP, lr=0.02)
    net.fit(DataSet(x, y))
    ModelSerializer.write_model(net, tmp_path / "net.zip")
    back = ModelSerializer.restore_multi_layer_network(tmp_path / "net.zip")
    np.testing.assert_array_equal(back.params(), net.params())
    for n in (net, back):
        n.fit(DataSet(x, y))
    np.testing.assert_array_equal(back.params(), net.params())
    # without the updater state RMSProp starts over: a different step
    fresh = ModelSerializer.restore_multi_layer_network(tmp_path / "net.zip", load_updater=False)
    fresh.fit(DataSet(x, y))
    assert np.abs(fresh.params() - net.params()).max() > 1e-4


def test_features_mask_equals_training_on_the_unpadded_sequences():
    """Sequences padded at the end (DL4J's align-start) and at the start (align-end), masked, train
    exactly as the shorter sequences alone; the features mask is the labels mask."""
    x, y = _sequences(3, 5, seed=5)
    short = _net(_lstm(), tbptt=3)
    short.fit(DataSet(x, y))
    for pad_front in (False, True):
        noise = RNG.standard_normal((3, 3, 2)).astype(np.float32)
        fill = np.zeros((3, 3, 2), np.float32)
        xp = np.concatenate([noise, x] if pad_front else [x, noise], -1)
        yp = np.concatenate([fill, y] if pad_front else [y, fill], -1)
        mask = np.ones((3, 7), np.float32)
        mask[:, slice(0, 2) if pad_front else slice(5, 7)] = 0
        net = _net(_lstm(), tbptt=3 if not pad_front else 7)
        if pad_front:  # align-end: one segment over the whole padded sequence against full BPTT on the rest
            short_full = _net(_lstm(), tbptt=5)
            short_full.fit(DataSet(x, y))
            want = short_full.params()
        else:
            want = short.params()
        net.fit(DataSet(xp, yp, features_mask=mask))
        np.testing.assert_allclose(net.params(), want, atol=1e-6, err_msg=f"pad_front={pad_front}")


def test_score_of_a_dataset_weighs_the_steps_by_its_masks():
    x, y = _sequences(3, 8, seed=6)
    net = _net(_lstm(), tbptt=4)
    mask = np.ones((3, 8), np.float32)
    mask[:, 6:] = 0
    whole, short = net.score(DataSet(x, y)), net.score(DataSet(x[..., :6], y[..., :6]))
    assert abs(whole - 8 * np.log(3)) < 1.5 and short < whole  # a sum over the steps, per sequence
    assert net.score(DataSet(x, y, labels_mask=mask)) == pytest.approx(short, rel=1e-6)
    assert net.score(DataSet(x, y, features_mask=mask)) == pytest.approx(short, rel=1e-6)
    # the score fit reports is the one score(ds) computes, before that step's update
    full = _net(_lstm(), tbptt=8)
    before = full.score(DataSet(x, y))
    full.fit(DataSet(x, y))
    assert full.score() == pytest.approx(before, rel=1e-6) and full.score(DataSet(x, y)) < before


def test_graves_lstm_initialization_uses_dl4j_fans():
    """GravesLSTMParamInitializer: input and recurrent weights both with fan_in = n_out, fan_out =
    n_in + n_out (XAVIER: variance 2 / (n_in + 2 n_out)); the bias zero but the forget gate's."""
    net = _net(DL4JGravesLSTM(n_out=100, activation="tanh", weight_init=WeightInit.XAVIER), n_in=50)
    w, r, b = net.get_nn_layers(0)[0].rnn.cell.weights
    want = 2.0 / (50 + 2 * 100)
    for a in (w.value, r.value):
        assert abs(a.var() / want - 1) < 0.05, (a.shape, a.var(), want)
    np.testing.assert_array_equal(b.value, np.r_[np.zeros(100), np.ones(100), np.zeros(200)].astype(np.float32))
    rec = _net(DL4JGravesLSTM(n_out=100, activation="tanh", weight_init_recurrent=WeightInit.UNIFORM), n_in=50)
    r = rec.get_nn_layers(0)[0].rnn.cell.recurrent_kernel.value
    assert abs(r.var() / (1.0 / 3.0 / 100) - 1) < 0.05  # UNIFORM: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = n_out


def test_rnn_get_and_set_previous_state():
    x, _ = _sequences(2, 6, seed=7)
    net = _net([_lstm(), SimpleRnn(n_out=5, activation="tanh")])
    want = net.output(x)
    assert net.rnn_get_previous_state(0) == {}
    net.rnn_time_step(x[:, :, :4])
    kept = {i: net.rnn_get_previous_state(i) for i in (0, 1)}
    assert sorted(kept[0]) == ["prevAct", "prevMem"] and kept[0]["prevMem"].shape == (2, 4)
    assert sorted(kept[1]) == ["prevAct"] and kept[1]["prevAct"].shape == (2, 5)
    net.rnn_clear_previous_state()
    net.rnn_time_step(x[:, :, :1])  # some other state, then the kept one put back
    for i in (0, 1):
        net.rnn_set_previous_state(i, kept[i])
    np.testing.assert_allclose(net.rnn_time_step(x[:, :, 4:]), want[:, :, 4:], atol=1e-5)
    with pytest.raises(InputError, match=r"keys \['prevAct', 'prevMem'\]"):
        net.rnn_set_previous_state(0, {"prevAct": kept[0]["prevAct"]})
    with pytest.raises(ConfigError, match="layer 2 is not a recurrent layer"):
        net.rnn_get_previous_state(2)
    bi = _net(GravesBidirectionalLSTM(n_out=4, activation="tanh"))
    with pytest.raises(ConfigError, match="bidirectional layer cannot be stepped"):
        bi.rnn_time_step(x[:, :, 0])


def test_sequences_of_many_lengths_keep_the_trainers_of_the_last_four():
    """Without TBPTT every sequence length trains on a trainer of its own (over the Scan of an open
    length: its labels are typed by their shape); only the trainers of the last four lengths are
    kept, and one rebuilt for a length met again continues from the same weights and updater state:
    the scores and parameters equal those of a network keeping all."""
    bounded = _net(_lstm(), updater=Updater.RMSPROP, lr=0.05)
    keeps_all = _net(_lstm(), updater=Updater.RMSPROP, lr=0.05)
    for i, steps in enumerate((2, 3, 4, 5, 6, 2, 3)):
        x, y = _sequences(3, steps, seed=i)
        bounded.fit(DataSet(x, y))
        keeps_all.fit(DataSet(x, y))
        keeps_all._sequence_trainer[1].trainers.keep = 10
        assert bounded.score() == keeps_all.score()
    assert len(bounded._sequence_trainer[1].trainers) == 4 and len(keeps_all._sequence_trainer[1].trainers) == 5
    np.testing.assert_array_equal(bounded.params(), keeps_all.params())
