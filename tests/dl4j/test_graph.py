"""graphc.dl4j.graph: the vertices against numpy references and through gradcheck, the GraphBuilder's
checks and JSON, ComputationGraph training (listing 4 of issue 10) against the same network built
with graphc.nn's functional API."""
import numpy as np
import pytest

from graphc import nn
from graphc.dl4j import BackpropType, ConfigError, InputType
from graphc.dl4j.graph.vertices import (DuplicateToTimeSeriesVertex, ElementWiseVertex, GraphVertex, L2NormalizeVertex,
                                        L2Vertex, LastTimeStepVertex, MergeVertex, PreprocessorVertex, ScaleVertex,
                                        ShiftVertex, StackVertex, SubsetVertex, UnstackVertex)
from graphc.dl4j.input_type import CnnToFeedForwardPreProcessor
from graphc.gradcheck import check_gradients

RNG = np.random.default_rng(0)


def _shape(t):
    return tuple(d for d in t.array_shape())


def _vertex_model(vertex, types, extra=()):
    """A graphc.nn model of one vertex: an Input per input type (DL4J layout), then the vertex;
    `extra`: shapes of the network-input tensors it reads (masks, time references)."""
    ins = [nn.Input(_shape(t)) for t in types] + [nn.Input(s) for s in extra]
    seen = list(types) + [None] * len(extra)
    if isinstance(vertex, DuplicateToTimeSeriesVertex):
        seen = list(types) + [InputType.recurrent(extra[0][0], extra[0][1])]
    out = vertex.apply("v", ins, seen)
    return nn.Model(ins, out), vertex.output_type("v", seen)


def _gradcheck(model, xs, skip=()):
    g = model.graph
    y = g.outputs[0][1]
    loss = (g.add_node("ReduceSumSquare", [y], {"keepdims": 0}, name="loss"), 0)
    wrt = [n for i, n in enumerate(g.inputs) if i not in skip]
    result = check_gradients(g, loss, feeds=dict(zip(g.inputs, xs)), wrt=wrt, max_per_param=16)
    assert result.passed, result.report()


def _x(*shape):
    return RNG.standard_normal(shape)


FF3, FF4 = InputType.feed_forward(3), InputType.feed_forward(4)
RNN = InputType.recurrent(2, 5)
CNN = InputType.convolutional(3, 2, 2)

a, b, c = _x(4, 3), _x(4, 3), _x(4, 4)
seq = _x(4, 2, 5)
img, img2 = _x(4, 2, 3, 2), _x(4, 3, 3, 2)
mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], np.float64)

CASES = {  # name: (vertex, input types, arrays, numpy reference, output type)
    "merge-one": (MergeVertex(), [FF3], [a], a, FF3),
    "add-one": (ElementWiseVertex("Add"), [FF3], [a], a, FF3),
    "stack-one": (StackVertex(), [FF3], [a], a, FF3),
    "merge-ff": (MergeVertex(), [FF3, FF4], [a, c], np.concatenate([a, c], 1), InputType.feed_forward(7)),
    "merge-rnn": (MergeVertex(), [RNN, RNN], [seq, seq * 2], np.concatenate([seq, seq * 2], 1),
                  InputType.recurrent(4, 5)),
    "merge-cnn": (MergeVertex(), [CNN, InputType.convolutional(3, 2, 3)], [img, img2],
                  np.concatenate([img, img2], 1), InputType.convolutional(3, 2, 5)),
    "add": (ElementWiseVertex(ElementWiseVertex.Op.Add), [FF3] * 3, [a, b, a * b], a + b + a * b, FF3),
    "subtract": (ElementWiseVertex("Subtract"), [FF3] * 2, [a, b], a - b, FF3),
    "product": (ElementWiseVertex("Product"), [FF3] * 3, [a, b, a + 1], a * b * (a + 1), FF3),
    "average": (ElementWiseVertex("Average"), [FF3] * 2, [a, b], (a + b) / 2, FF3),
    "max": (ElementWiseVertex("Max"), [FF3] * 3, [a, b, -a], np.maximum(np.maximum(a, b), -a), FF3),
    "subset": (SubsetVertex(1, 2), [FF4], [c], c[:, 1:3], InputType.feed_forward(2)),
    "subset-rnn": (SubsetVertex(0, 0), [RNN], [seq], seq[:, 0:1], InputType.recurrent(1, 5)),
    "stack": (StackVertex(), [FF3] * 2, [a, b], np.concatenate([a, b], 0), FF3),
    "unstack": (UnstackVertex(1, 2), [FF3], [a], a[2:4], FF3),
    "unstack-rnn": (UnstackVertex(0, 4), [RNN], [seq], seq[0:1], RNN),
    "l2": (L2Vertex(), [FF3] * 2, [a, b], np.linalg.norm(a - b, axis=1, keepdims=True), InputType.feed_forward(1)),
    "l2-cnn": (L2Vertex(), [CNN] * 2, [img, img * 0.5], np.linalg.norm((img * 0.5).reshape(4, -1), axis=1)[:, None],
               InputType.feed_forward(1)),
    "l2normalize": (L2NormalizeVertex(), [FF3], [a], a / np.linalg.norm(a, axis=1, keepdims=True), FF3),
    "l2normalize-dim": (L2NormalizeVertex([1]), [RNN], [seq], seq / np.linalg.norm(seq, axis=1, keepdims=True), RNN),
    "scale": (ScaleVertex(2.5), [FF3], [a], a * 2.5, FF3),
    "shift": (ShiftVertex(-1.5), [FF3], [a], a - 1.5, FF3),
    "preprocessor": (PreprocessorVertex(CnnToFeedForwardPreProcessor(3, 2, 2)), [CNN], [img], img.reshape(4, -1),
                     InputType.feed_forward(12)),
    "last-time-step": (LastTimeStepVertex(), [RNN], [seq], seq[:, :, -1], InputType.feed_forward(2)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vertex_against_numpy_and_gradcheck(name):
    vertex, types, xs, want, out_type = CASES[name]
    vertex.check_inputs(name, len(types))
    model, t = _vertex_model(vertex, types)
    assert t == out_type
    got = model.predict([x.astype(np.float32) for x in xs] if len(xs) > 1 else xs[0].astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert tuple(got.shape[1:]) == tuple(d for d in out_type.array_shape() if d is not None) or name == "stack"
    _gradcheck(model, xs)


def test_last_time_step_with_mask_picks_each_examples_last_unmasked_step():
    v = LastTimeStepVertex("in")
    assert v.network_reads() == [("in", "mask")]
    model, t = _vertex_model(v, [RNN], extra=[(5,)])
    got = model.predict([seq.astype(np.float32), mask.astype(np.float32)])
    np.testing.assert_allclose(got, seq[np.arange(4), :, [2, 4, 0, 1]], rtol=1e-6)
    assert t == InputType.feed_forward(2)
    _gradcheck(model, [seq, mask], skip=(1,))


@pytest.mark.parametrize("steps", [5, None])
def test_duplicate_to_time_series_takes_the_named_inputs_length(steps):
    v = DuplicateToTimeSeriesVertex("seq")
    model, t = _vertex_model(v, [FF3], extra=[(2, steps)])
    got = model.predict([a.astype(np.float32), seq.astype(np.float32)])
    np.testing.assert_allclose(got, np.repeat(a[:, :, None], 5, 2), rtol=1e-6)
    assert t == InputType.recurrent(3, steps) and model.outputs[0].shape[1] == 3
    _gradcheck(model, [a, seq], skip=(1,))


def test_l2_vertex_gradient_is_finite_at_distance_zero():
    model, _ = _vertex_model(L2Vertex(), [FF3] * 2)
    g = model.graph
    from graphc.autodiff import gradient_graph
    from graphc.lower.onnx import to_onnx
    import onnxruntime as ort

    loss = (g.add_node("ReduceSum", [g.outputs[0][1]], {"keepdims": 0}, name="loss"), 0)
    gg = gradient_graph(g, loss, list(g.inputs))
    sess = ort.InferenceSession(to_onnx(gg).SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {g.inputs[0]: a.astype(np.float32), g.inputs[1]: a.astype(np.float32)})
    # the distance is floored at eps per example; DL4J's backward divides by max(distance, eps): 0 / eps
    np.testing.assert_allclose(outs[0], 4e-8, rtol=1e-3)
    assert all(np.array_equal(o, np.zeros_like(o)) for o in outs[1:])


def test_vertex_input_counts_and_settings_are_checked():
    with pytest.raises(ConfigError, match=r"vertex 'd' \(L2Vertex\) has 3 input\(s\); it takes exactly 2"):
        L2Vertex().check_inputs("d", 3)
    with pytest.raises(ConfigError, match=r"'s' \(ElementWiseVertex Subtract\) has 3 input\(s\); it takes exactly 2"):
        ElementWiseVertex("Subtract").check_inputs("s", 3)
    with pytest.raises(ConfigError, match="has 2 input"):
        ScaleVertex(2.0).check_inputs("sc", 2)
    with pytest.raises(ConfigError, match="not a Op"):
        ElementWiseVertex("Divide")
    with pytest.raises(ConfigError, match=r"range 2..5 \(inclusive\) does not fit an input of size 4"):
        SubsetVertex(2, 5).output_type("sub", [FF4])
    with pytest.raises(ConfigError, match="cannot join inputs of types"):
        MergeVertex().output_type("m", [FF3, RNN])
    with pytest.raises(ConfigError, match="input 1 is InputType.feed_forward\\(4\\)"):
        ElementWiseVertex("Add").output_type("e", [FF3, FF4])


def test_vertices_round_trip_through_dicts():
    for vertex, *_ in CASES.values():
        assert GraphVertex.from_dict(vertex.to_dict()) == vertex
    assert SubsetVertex.Builder(1, 3).build() == SubsetVertex(from_idx=1, to_idx=3)
    assert ElementWiseVertex("product").op is ElementWiseVertex.Op.Product


# ---- GraphBuilder: checks at build() and JSON ------------------------------------------------------
from graphc.dl4j import DenseLayer, LossFunction, OutputLayer  # noqa: E402
from graphc.dl4j.graph.builder import ComputationGraphConfiguration, GraphBuilder  # noqa: E402


def _out(n_in=None, n_out=3, loss=LossFunction.MCXENT, act="softmax"):
    return OutputLayer(loss, n_in=n_in, n_out=n_out, activation=act)


def _merge_graph(builder=None):
    return ((builder or GraphBuilder()).add_inputs("in1", "in2")
            .add_layer("L1", DenseLayer(n_in=3, n_out=4, activation="tanh"), "in1")
            .add_layer("L2", DenseLayer(n_in=3, n_out=4, activation="tanh"), "in2")
            .add_vertex("merge", MergeVertex(), "L1", "L2")
            .add_layer("out", _out(n_in=4 + 4), "merge")
            .set_outputs("out"))


def test_build_infers_input_types_and_round_trips_json():
    conf = _merge_graph().build()
    assert conf.input_types == (FF3, FF3)
    assert conf.topological_order() == ["L1", "L2", "merge", "out"]
    assert conf.types()["merge"] == InputType.feed_forward(8)
    back = ComputationGraphConfiguration.from_json(conf.to_json())
    assert back == conf and back.to_json() == conf.to_json()
    assert isinstance(back.vertices["merge"], MergeVertex) and back.vertices["out"].layer.n_in == 8


def test_build_infers_every_n_in_from_set_input_types():
    conf = (GraphBuilder().add_inputs("a", "b")
            .add_layer("d1", DenseLayer(n_out=5), "a")
            .add_vertex("sub", SubsetVertex(0, 1), "b")
            .add_layer("out", _out(), "d1", "sub")
            .set_outputs("out").set_input_types(FF4, FF3).build())
    assert conf.vertices["d1"].layer.n_in == 4 and conf.vertices["out"].layer.n_in == 5 + 2


def test_build_adds_the_preprocessor_a_dense_layer_needs_after_an_image():
    conf = (GraphBuilder().add_inputs("img").add_layer("out", _out(), "img")
            .set_outputs("out").set_input_types(CNN).build())
    v = conf.vertices["out"]
    assert isinstance(v.preprocessor, CnnToFeedForwardPreProcessor) and v.layer.n_in == 12


@pytest.mark.parametrize("make, message", [
    (lambda: _merge_graph().add_layer("L1", DenseLayer(n_out=2), "in1"),
     r"add_layer\('L1', ...\): the name 'L1' is already taken by a vertex"),
    (lambda: _merge_graph().add_vertex("x", MergeVertex(), "L1", "nowhere").set_outputs("out"),
     r"vertex 'x' takes input 'nowhere', which is neither a network input \['in1', 'in2'\] nor a vertex"),
    (lambda: _merge_graph().add_vertex("d", L2Vertex(), "L1", "L2", "in1"),
     r"vertex 'd' \(L2Vertex\) has 3 input\(s\); it takes exactly 2"),
    (lambda: _merge_graph().set_outputs("merge"),
     r"set_outputs: 'merge' \(MergeVertex\) is not an output layer"),
    (lambda: _merge_graph().set_outputs("L1"), r"'L1' \(DenseLayer\) is not an output layer"),
    (lambda: _merge_graph().set_outputs("gone"), r"set_outputs: 'gone' is not a vertex of the graph"),
    (lambda: (GraphBuilder().add_inputs("in").add_layer("a", DenseLayer(n_in=3, n_out=3), "in", "c")
              .add_layer("b", DenseLayer(n_out=3), "a").add_layer("c", DenseLayer(n_out=3), "b")
              .add_layer("out", _out(), "c").set_outputs("out")),
     r"the graph has a cycle: (a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)"),
    (lambda: (GraphBuilder().add_inputs("in1", "in2")
              .add_layer("L1", DenseLayer(n_in=3, n_out=4), "in1")
              .add_layer("L2", DenseLayer(n_in=3, n_out=4), "in2")
              .add_vertex("merge", MergeVertex(), "L1", "L2")
              .add_layer("out", _out(n_in=4), "merge").set_outputs("out")),
     r"layer 2 'out' \(OutputLayer\): n_in is 4 but its input has 8"),
    (lambda: (GraphBuilder().add_inputs("in").add_vertex("m", MergeVertex(), "in")
              .add_layer("out", _out(), "m").set_outputs("out")),
     r"the type of network input 'in' cannot be inferred: call set_input_types"),
    (lambda: _merge_graph().set_input_types(FF3), r"set_input_types gave 1 types for the 2 inputs"),
    (lambda: _merge_graph().add_layer("none", DenseLayer(n_out=2)), r"add_layer\('none', ...\) names no input"),
    (lambda: _merge_graph().add_vertex("v", DenseLayer, "L1"), r"is not a graph vertex"),
    (lambda: GraphBuilder().add_inputs("in").set_outputs("in"), r"'in' is not a vertex of the graph .* network input"),
    (lambda: _merge_graph().add_vertex("t", LastTimeStepVertex("nope"), "L1"),
     r"vertex 't' takes input 'nope', which is neither"),
    (lambda: _merge_graph().add_vertex("last", LastTimeStepVertex(), "L1"),
     r"vertex 'last' \(LastTimeStepVertex\) needs a recurrent input \[batch, size, time\], got "
     r"InputType.feed_forward\(4\)"),
    (lambda: _merge_graph().add_vertex("sum", ElementWiseVertex("Add"), "L1", "in1"),
     r"vertex 'sum' \(ElementWiseVertex\): input 1 is InputType.feed_forward\(3\), input 0 is "
     r"InputType.feed_forward\(4\)"),
    (lambda: _merge_graph().backprop_type(BackpropType.TRUNCATED_BPTT).tbptt_forward_length(5),
     r"backprop_type\(TRUNCATED_BPTT\) needs a recurrent layer"),
])
def test_build_refuses_graphs_that_do_not_fit(make, message):
    with pytest.raises(ConfigError, match=message):
        make().build()


# ---- ComputationGraph: the three graphs of listing 4 ------------------------------------------------
from graphc.dl4j import DataSet, NeuralNetConfiguration, Updater  # noqa: E402
from graphc.dl4j.graph.computation_graph import ComputationGraph, MultiDataSet  # noqa: E402
from graphc.dl4j.listeners import ScoreIterationListener  # noqa: E402
from graphc.errors import InputError  # noqa: E402
from graphc.optimizers.dl4j_updaters import dl4j as dl4j_updater  # noqa: E402


def _global(updater=Updater.ADAM, lr=0.01):
    return NeuralNetConfiguration.Builder().seed(7).updater(updater).learning_rate(lr)


def _two_inputs_data(n=32, seed=1):
    r = np.random.default_rng(seed)
    x1, x2 = r.standard_normal((n, 3)).astype(np.float32), r.standard_normal((n, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x1[:, 0] + x2[:, 1] > 0).astype(int) + (x1[:, 1] > 1)]
    return x1, x2, y


def test_merge_graph_trains_exactly_as_the_same_functional_model():
    """Listing 4, two inputs merged into an output layer: the same losses step for step as a
    graphc.nn functional model with the same weights, the same DL4J updater and Keras's loss."""
    cg = ComputationGraph(_merge_graph(_global().graph_builder()).build()).init()
    in1, in2 = nn.Input((3,)), nn.Input((3,))
    d1, d2, out = nn.Dense(4, activation="tanh"), nn.Dense(4, activation="tanh"), nn.Dense(3, activation="softmax")
    ref = nn.Model([in1, in2], out(nn.Concatenate(axis=1)([d1(in1), d2(in2)])))
    for mine, theirs in zip((d1, d2, out), ("L1", "L2", "out")):
        mine.set_weights(cg.get_nn_layers(theirs)[0].get_weights())
    ref.compile(optimizer=dl4j_updater(Updater.ADAM, learning_rate=0.01), loss="categorical_crossentropy")
    x1, x2, y = _two_inputs_data()
    listener = ScoreIterationListener(1, print_fn=None)
    cg.set_listeners(listener)
    ours, theirs = [], []
    for i in range(0, 32, 8):
        cg.fit(MultiDataSet([x1[i:i + 8], x2[i:i + 8]], [y[i:i + 8]]))
        ours.append(cg.score())
        theirs.append(float(ref.train_on_batch([x1[i:i + 8], x2[i:i + 8]], y[i:i + 8])))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cg.output(x1, x2)[0], ref.predict([x1, x2]), rtol=1e-5, atol=1e-6)
    assert len(listener.lines) == 4 and cg.iteration_count == 4
    first = cg.score(MultiDataSet([x1, x2], [y]))
    for _ in range(30):
        cg.fit([x1, x2], [y])
    assert cg.score(MultiDataSet([x1, x2], [y])) < 0.8 * first
    assert cg.evaluate(MultiDataSet([x1, x2], [y])).accuracy() > 0.7


def test_multi_task_graph_sums_its_nll_and_mse_losses():
    """Listing 4, one hidden layer feeding two outputs with their own losses: the step's loss is
    NLL + MSE, equal to a functional model compiled with Keras's two losses, and both fall."""
    conf = (_global(Updater.NESTEROVS, 0.05).graph_builder().add_inputs("input")
            .add_layer("L1", DenseLayer.Builder().n_in(3).n_out(8).activation("tanh").build(), "input")
            .add_layer("out1", OutputLayer.Builder(LossFunction.NEGATIVELOGLIKELIHOOD).n_in(8).n_out(3)
                       .activation("softmax").build(), "L1")
            .add_layer("out2", OutputLayer.Builder(LossFunction.MSE).n_in(8).n_out(2).activation("identity").build(),
                       "L1")
            .set_outputs("out1", "out2").build())
    cg = ComputationGraph(conf).init()
    x, _, y1 = _two_inputs_data(48, seed=3)
    y2 = np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2])], 1).astype(np.float32)
    inp = nn.Input((3,))
    h, o1, o2 = nn.Dense(8, activation="tanh"), nn.Dense(3, activation="softmax"), nn.Dense(2)
    hidden = h(inp)
    ref = nn.Model(inp, [o1(hidden), o2(hidden)])
    for mine, theirs in zip((h, o1, o2), ("L1", "out1", "out2")):
        mine.set_weights(cg.get_nn_layers(theirs)[0].get_weights())
    ref.compile(optimizer=dl4j_updater(Updater.NESTEROVS, learning_rate=0.05),
                loss=["categorical_crossentropy", "mse"])
    ours, theirs = [], []
    for _ in range(25):
        cg.fit(MultiDataSet([x], [y1, y2]))
        ours.append(cg.score())
        theirs.append(float(ref.train_on_batch(x, [y1, y2])))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert ours[-1] < 0.7 * ours[0]
    p1, p2 = cg.output(x)
    assert p1.shape == (48, 3) and p2.shape == (48, 2)
    np.testing.assert_allclose(p1.sum(1), 1, rtol=1e-5)
    # score(data): NLL + MSE of the outputs, recomputed here in float64
    p1, p2 = p1.astype(np.float64), p2.astype(np.float64)
    want = -np.mean(np.sum(y1 * np.log(p1), 1)) + np.mean((p2 - y2) ** 2)
    np.testing.assert_allclose(cg.score(MultiDataSet([x], [y1, y2])), want, rtol=1e-6)


def _lstm_skip_conf(time_steps=None, seed=7):
    b = (NeuralNetConfiguration.Builder().seed(seed).updater(Updater.RMSPROP).learning_rate(0.05).graph_builder()
         .add_inputs("input")
         .add_layer("L1", GravesLSTM.Builder().n_in(5).n_out(5).activation("tanh").build(), "input")
         .add_layer("L2", RnnOutputLayer.Builder(LossFunction.MCXENT).n_in(5 + 5).n_out(5)
                    .activation("softmax").build(), "input", "L1")
         .set_outputs("L2"))
    if time_steps:
        b.set_input_types(InputType.recurrent(5, time_steps))
    return b.build()


def _seq_data(n=12, steps=8, seed=0):
    idx = np.random.default_rng(seed).integers(0, 5, (n, steps))
    x = np.eye(5, dtype=np.float32)[idx].transpose(0, 2, 1)          # [batch, 5, time]
    y = np.eye(5, dtype=np.float32)[np.roll(idx, 1, axis=1)].transpose(0, 2, 1)  # the previous symbol
    return x, y


from graphc.dl4j.layers.recurrent import GravesBidirectionalLSTM, GravesLSTM, RnnOutputLayer  # noqa: E402


def test_lstm_with_skip_connection_trains_over_any_sequence_length():
    """Listing 4, an LSTM with a skip connection (input and L1 both feed L2, n_in 5+5). Its input
    type leaves the length open: training runs the Scan over the batch's length and equals a graph
    declared with that length (unrolled) step for step; inference on other lengths runs and agrees
    with it."""
    cg, fixed = ComputationGraph(_lstm_skip_conf()).init(), ComputationGraph(_lstm_skip_conf(8)).init()
    assert cg.get_layer("L2").n_in == 10
    np.testing.assert_array_equal(cg.params(), fixed.params())
    x, y = _seq_data()
    ours, theirs = [], []
    for _ in range(12):
        cg.fit(DataSet(x, y))
        fixed.fit(DataSet(x, y))
        ours.append(cg.score())
        theirs.append(fixed.score())
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert ours[-1] < 0.6 * ours[0]
    x6, y6 = _seq_data(4, 6, seed=5)
    cg.fit(DataSet(x6, y6))  # another length trains too, from the same weights and updater state
    out = cg.output(x)[0]
    assert out.shape == (12, 5, 8)
    fixed.set_params(cg.params())
    np.testing.assert_allclose(out, fixed.output(x)[0], rtol=1e-5, atol=1e-6)
    assert cg.evaluate(DataSet(x, y)).accuracy() > 0.5


def test_last_time_step_vertex_reads_the_inputs_features_mask():
    """A sequence classifier: LSTM -> LastTimeStepVertex('input') -> output. A padded example with
    its mask gives what the same example cut to its length gives without one."""
    conf = (_global().graph_builder().add_inputs("input")
            .add_layer("lstm", GravesLSTM(n_in=5, n_out=4, activation="tanh"), "input")
            .add_vertex("last", LastTimeStepVertex("input"), "lstm")
            .add_layer("out", _out(n_in=4, n_out=2), "last")
            .set_outputs("out").build())
    cg = ComputationGraph(conf).init()
    assert cg.mask_inputs == ["input"]
    x, _ = _seq_data(6, 7)
    lengths = np.array([7, 3, 5, 1, 7, 2])
    m = (np.arange(7)[None, :] < lengths[:, None]).astype(np.float32)
    got = cg.model.predict([x, m])
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(got[i], cg.output(x[i:i + 1, :, :n])[0][0], rtol=1e-5, atol=1e-6)
    y = np.eye(2, dtype=np.float32)[(x[np.arange(6), 0, lengths - 1] > 0).astype(int)]
    first = None
    for _ in range(15):
        cg.fit(MultiDataSet([x], [y], features_masks=[m]))
        first = cg.score() if first is None else first
    assert cg.score() < first


def test_configuration_json_round_trip_builds_the_same_network():
    conf = _merge_graph(_global().graph_builder()).build()
    back = ComputationGraphConfiguration.from_json(conf.to_json())
    a, b = ComputationGraph(conf).init(), ComputationGraph(back.to_json()).init()
    np.testing.assert_array_equal(a.params(), b.params())
    x1, x2, _ = _two_inputs_data(5)
    np.testing.assert_array_equal(a.output(x1, x2)[0], b.output(x1, x2)[0])
    assert "merge (MergeVertex)" in a.summary() and f"Total parameters: {a.num_params()}" in a.summary()


def test_params_round_trip_and_bad_data_are_refused_before_training():
    cg = ComputationGraph(_merge_graph(_global().graph_builder()).build()).init()
    p = cg.params()
    assert p.dtype == np.float32 and p.size == cg.num_params() == 3 * 4 + 4 + 3 * 4 + 4 + 8 * 3 + 3
    cg.set_params(np.arange(p.size, dtype=np.float32) / p.size)
    np.testing.assert_array_equal(cg.params(), np.arange(p.size, dtype=np.float32) / p.size)
    x1, x2, y = _two_inputs_data(4)
    with pytest.raises(InputError, match=r"1 feature arrays for the inputs \['in1', 'in2'\]"):
        cg.fit(MultiDataSet([x1], [y]))
    with pytest.raises(InputError, match=r"2 label arrays for the outputs \['out'\]"):
        cg.fit(MultiDataSet([x1, x2], [y, y]))
    with pytest.raises(InputError, match="features of shape \\[4, 5\\] do not fit the input type"):
        cg.fit(MultiDataSet([x1, np.zeros((4, 5), np.float32)], [y]))
    with pytest.raises(InputError, match="label masks are taken by graphs of one recurrent input"):
        cg.fit(MultiDataSet([x1, x2], [y], labels_masks=[np.ones(4, np.float32)]))
    with pytest.raises(InputError, match="set_params: 3 values for a network of"):
        cg.set_params(np.zeros(3))
    assert cg.iteration_count == 0
    with pytest.raises(ConfigError, match="ComputationGraph takes a ComputationGraphConfiguration"):
        ComputationGraph(object())


# ---- the listing-4 example ---------------------------------------------------------------------------
def test_computation_graph_example_shortened(tmp_path, capsys, load_example):
    import json

    mod = load_example("computation_graph")
    result = mod.main(["--steps", "25", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert json.loads((tmp_path / "computation_graph_result.json").read_text()) == result
    assert set(result) == {"lstm_skip", "merge", "multi_task"} and len(lines) == 3 and "score" in lines[0]
    for r in result.values():
        assert r["last_score"] < 0.8 * r["first_score"]
    assert result["merge"]["test_accuracy"] > 0.3 and result["multi_task"]["test_accuracy"] > 0.3


def test_model_serializer_restores_a_graph_that_trains_on_as_if_never_stopped(tmp_path):
    from graphc.dl4j import ModelSerializer

    x1, x2, y = _two_inputs_data(16)
    batch = MultiDataSet([x1, x2], [y])
    straight = ComputationGraph(_merge_graph(_global().graph_builder()).build()).init()
    saved = ComputationGraph(_merge_graph(_global().graph_builder()).build()).init()
    for _ in range(3):
        straight.fit(batch)
        saved.fit(batch)
    ModelSerializer.write_model(saved, tmp_path / "graph.zip", save_updater=True)
    restored = ModelSerializer.restore_computation_graph(tmp_path / "graph.zip")
    assert restored.iteration_count == 3 and restored.score() == saved.score()
    np.testing.assert_array_equal(restored.params(), saved.params())
    for _ in range(2):
        straight.fit(batch)
        restored.fit(batch)
        assert restored.score() == straight.score()
    np.testing.assert_array_equal(restored.params(), straight.params())
    from graphc.dl4j import MultiLayerNetwork

    mln = MultiLayerNetwork(_global().list().layer(0, _out(n_in=3)).build()).init()
    ModelSerializer.write_model(mln, tmp_path / "mln.zip")
    with pytest.raises(ConfigError, match="the JSON holds a MultiLayerConfiguration"):  # a list network's file
        ModelSerializer.restore_computation_graph(tmp_path / "mln.zip")


def test_rnn_time_step_carries_state_between_calls():
    """Step by step through the LSTM-with-skip graph equals one pass over the whole sequence."""
    cg = ComputationGraph(_lstm_skip_conf()).init()
    x, y = _seq_data(3, 6)
    cg.fit(DataSet(x, y))
    whole = cg.output(x)[0]
    steps = [cg.rnn_time_step(x[:, :, t])[0] for t in range(4)]
    assert steps[0].shape == (3, 5)
    rest = cg.rnn_time_step(x[:, :, 4:])[0]
    np.testing.assert_allclose(np.stack(steps, 2), whole[:, :, :4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rest, whole[:, :, 4:], rtol=1e-5, atol=1e-6)
    cg.rnn_clear_previous_state()
    np.testing.assert_allclose(cg.rnn_time_step(x[:, :, 0])[0], whole[:, :, 0], rtol=1e-5, atol=1e-6)


def test_cnn_branches_merged_on_channels_compute_what_torch_computes():
    """Two convolutions of one NCHW image joined by a MergeVertex on the channel axis, then an
    output layer behind the CNN-to-dense preprocessor (given in DL4J's add_layer(name, layer,
    preprocessor, input) form): the graph's output equals PyTorch's conv2d/cat/flatten/linear with
    the same weights, and the graph trains."""
    import torch

    from graphc.dl4j import ConvolutionLayer
    from graphc.dl4j.enums import ConvolutionMode

    conf = (_global().graph_builder().add_inputs("img")
            .add_layer("c3", ConvolutionLayer.Builder(3, 3).n_out(3).activation("relu")
                       .convolution_mode(ConvolutionMode.SAME).build(), "img")
            .add_layer("c5", ConvolutionLayer.Builder(5, 5).n_out(2).activation("tanh")
                       .convolution_mode(ConvolutionMode.SAME).build(), "img")
            .add_vertex("merge", MergeVertex(), "c3", "c5")
            .add_layer("out", _out(n_out=4), CnnToFeedForwardPreProcessor(6, 5, 5), "merge")
            .set_outputs("out").set_input_types(InputType.convolutional(6, 5, 2)).build())
    assert conf.types()["merge"] == InputType.convolutional(6, 5, 5) and conf.vertices["out"].layer.n_in == 150
    cg = ComputationGraph(conf).init()
    r = np.random.default_rng(4)
    x = r.standard_normal((6, 2, 6, 5)).astype(np.float32)

    def conv(name, act):
        k, b = cg.get_nn_layers(name)[-1].get_weights()
        y = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(k).permute(3, 2, 0, 1),
                                       torch.from_numpy(b), padding="same")
        return act(y)

    joined = torch.cat([conv("c3", torch.relu), conv("c5", torch.tanh)], dim=1)
    w, b = cg.get_nn_layers("out")[-1].get_weights()
    want = torch.softmax(joined.flatten(1) @ torch.from_numpy(w) + torch.from_numpy(b), dim=1).numpy()
    np.testing.assert_allclose(cg.output(x)[0], want, rtol=1e-5, atol=1e-6)
    y = np.eye(4, dtype=np.float32)[r.integers(0, 4, 6)]
    first = cg.score(DataSet(x, y))
    for _ in range(10):
        cg.fit(DataSet(x, y))
    assert cg.score(DataSet(x, y)) < 0.5 * first


def test_encoder_decoder_graph_with_last_step_and_duplicate_to_time_series():
    """DL4J's sequence-to-sequence pattern: an encoder's last step repeated over the decoder
    input's time axis (its own length) and joined with it; every n_in inferred; both lengths open."""
    conf = (_global(lr=0.05).graph_builder().add_inputs("enc", "dec")
            .add_layer("enc_lstm", GravesLSTM(n_out=4, activation="tanh"), "enc")
            .add_vertex("last", LastTimeStepVertex(), "enc_lstm")
            .add_vertex("dup", DuplicateToTimeSeriesVertex("dec"), "last")
            .add_layer("dec_lstm", GravesLSTM(n_out=4, activation="tanh"), "dec", "dup")
            .add_layer("out", RnnOutputLayer(LossFunction.MCXENT, n_out=2, activation="softmax"), "dec_lstm")
            .set_outputs("out").set_input_types(InputType.recurrent(3), InputType.recurrent(2)).build())
    assert conf.vertices["dec_lstm"].layer.n_in == 2 + 4 and conf.types()["dup"] == InputType.recurrent(4)
    cg = ComputationGraph(conf).init()
    r = np.random.default_rng(2)
    enc, dec = r.standard_normal((8, 3, 5)).astype(np.float32), r.standard_normal((8, 2, 4)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(enc[:, 0, :].sum(1) > 0).astype(int)][:, :, None].repeat(4, 2)
    scores = []
    for _ in range(20):
        cg.fit(MultiDataSet([enc, dec], [y]))
        scores.append(cg.score())
    assert scores[-1] < 0.7 * scores[0]
    assert cg.output(enc, dec[:, :, :3])[0].shape == (8, 2, 3)  # another decoder length infers too


def test_output_in_training_mode_applies_dropout_and_params_follow_topological_layer_order():
    conf = (_global().graph_builder().add_inputs("in")
            .add_layer("hidden", DenseLayer(n_in=3, n_out=16, activation="relu", dropout=0.5), "in")
            .add_layer("out", _out(), "hidden").set_outputs("out").build())
    cg = ComputationGraph(conf).init()
    x, _, _ = _two_inputs_data(64)
    plain, again = cg.output(x)[0], cg.output(x)[0]
    np.testing.assert_array_equal(plain, again)
    noisy = cg.output(x, train=True)[0]
    assert noisy.shape == plain.shape and not np.allclose(noisy, plain)
    kernel = cg.get_nn_layers("hidden")[-1].get_weights()[0]
    np.testing.assert_array_equal(cg.params()[:kernel.size], kernel.ravel())


def test_truncated_bptt_on_the_lstm_skip_graph(tmp_path):
    """TBPTT over segments as long as the sequence is full BPTT (the same scores step for step);
    shorter segments make one iteration each, carry the state across, and train."""
    def conf(backprop, length=8):
        b = (NeuralNetConfiguration.Builder().seed(7).updater(Updater.RMSPROP).learning_rate(0.05).graph_builder()
             .add_inputs("input")
             .add_layer("L1", GravesLSTM(n_in=5, n_out=5, activation="tanh"), "input")
             .add_layer("L2", RnnOutputLayer(LossFunction.MCXENT, n_in=10, n_out=5, activation="softmax"),
                        "input", "L1")
             .set_outputs("L2").backprop_type(backprop))
        return b.tbptt_forward_length(length).tbptt_backward_length(length).build()

    x, y = _seq_data(8, 8)
    full = ComputationGraph(conf(BackpropType.STANDARD)).init()
    whole = ComputationGraph(conf(BackpropType.TRUNCATED_BPTT)).init()
    for _ in range(4):
        full.fit(DataSet(x, y))
        whole.fit(DataSet(x, y))
        assert whole.score() == pytest.approx(full.score(), rel=1e-5)
    np.testing.assert_allclose(whole.params(), full.params(), rtol=1e-4, atol=1e-6)
    cut = ComputationGraph(conf(BackpropType.TRUNCATED_BPTT, 3)).init()
    scores = []
    for _ in range(10):
        cut.fit(DataSet(x, y))
        scores.append(cut.score())
    assert cut.iteration_count == 10 * 3  # segments of 3, 3 and 2 (padded, masked) steps
    assert scores[-1] < 0.7 * scores[0]
    from graphc.dl4j import ModelSerializer

    ModelSerializer.write_model(cut, tmp_path / "tbptt.zip", save_updater=True)
    back = ModelSerializer.restore_computation_graph(tmp_path / "tbptt.zip")
    cut.fit(DataSet(x, y))
    back.fit(DataSet(x, y))  # the segments' updater state came back with it
    assert back.score() == cut.score() and back.iteration_count == cut.iteration_count
    two_inputs = (_global().graph_builder().add_inputs("a", "b")
                  .add_layer("L1", GravesLSTM(n_in=5, n_out=5), "a")
                  .add_layer("out", RnnOutputLayer(LossFunction.MCXENT, n_out=5, activation="softmax"), "L1", "b")
                  .set_outputs("out").backprop_type(BackpropType.TRUNCATED_BPTT)
                  .set_input_types(InputType.recurrent(5), InputType.recurrent(5)).build())
    with pytest.raises(ConfigError, match="truncated BPTT on a ComputationGraph takes one recurrent input"):
        ComputationGraph(two_inputs).init()


@pytest.mark.parametrize("which", ["features_mask", "labels_mask"])
def test_sequence_graph_masks_padded_steps_out_of_training(which):
    """Sequences of 5 steps padded to 8 with a mask train the LSTM-with-skip graph exactly as the
    5-step sequences do (the padded steps add nothing to the loss or the gradient)."""
    padded, short = ComputationGraph(_lstm_skip_conf()).init(), ComputationGraph(_lstm_skip_conf()).init()
    assert padded.trains_by_sequence()
    x, y = _seq_data(6, 8)
    m = np.zeros((6, 8), np.float32)
    m[:, :5] = 1
    for _ in range(3):
        padded.fit(DataSet(x, y, **{which: m}))
        short.fit(DataSet(x[:, :, :5], y[:, :, :5]))
        assert padded.score() == pytest.approx(short.score(), rel=1e-5)
    np.testing.assert_allclose(padded.params(), short.params(), rtol=1e-4, atol=1e-6)


# ---- review fixes: one stateful path with MultiLayerNetwork, bounded trainers, masked evaluation -------
def test_rnn_time_step_refuses_what_multi_layer_network_refuses():
    """The graph steps through tbptt.py's Stepper: no recurrent layer, a bidirectional layer and a
    batch of another size than the kept state are refused as MultiLayerNetwork refuses them, and a
    refused call loses the kept state of none."""
    plain = ComputationGraph(_merge_graph(_global().graph_builder()).build()).init()
    x1, x2, _ = _two_inputs_data(4)
    for _ in range(2):
        with pytest.raises(ConfigError, match="rnn_time_step needs a recurrent layer"):
            plain.rnn_time_step(x1, x2)
    bi = (_global().graph_builder().add_inputs("in")
          .add_layer("bi", GravesBidirectionalLSTM(n_in=5, n_out=4, activation="tanh"), "in")
          .add_layer("out", RnnOutputLayer(LossFunction.MCXENT, n_out=5, activation="softmax"), "bi")
          .set_outputs("out").set_input_types(InputType.recurrent(5)).build())
    with pytest.raises(ConfigError, match="GravesBidirectionalLSTM.*cannot be stepped"):
        ComputationGraph(bi).init().rnn_time_step(np.zeros((2, 5), np.float32))
    cg = ComputationGraph(_lstm_skip_conf()).init()
    x, _ = _seq_data(3, 4)
    whole = cg.output(x)[0]
    np.testing.assert_allclose(cg.rnn_time_step(x[:, :, 0])[0], whole[:, :, 0], rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="batch of 2 but the kept state is for 3; call rnn_clear_previous_state"):
        cg.rnn_time_step(x[:2, :, 1])
    np.testing.assert_allclose(cg.rnn_time_step(x[:, :, 1])[0], whole[:, :, 1], rtol=1e-5, atol=1e-6)
    cg.rnn_clear_previous_state()
    np.testing.assert_allclose(cg.rnn_time_step(x[:2, :, 0])[0], whole[:2, :, 0], rtol=1e-5, atol=1e-6)


def _last_step_classifier():
    conf = (_global(Updater.RMSPROP, 0.05).graph_builder().add_inputs("in")
            .add_layer("lstm", GravesLSTM(n_in=3, n_out=4, activation="tanh"), "in")
            .add_vertex("last", LastTimeStepVertex(), "lstm")
            .add_layer("out", _out(n_in=4, n_out=2), "last")
            .set_outputs("out").set_input_types(InputType.recurrent(3)).build())
    return ComputationGraph(conf).init()


def test_open_length_graph_trains_every_length_through_one_scan_trainer():
    """An open time length trains through the ONNX Scan (graphc differentiates it): with labels
    without a time axis one trainer serves every length. Its scores and parameters equal those of
    the same graph unrolled over each batch's length (the path of a layer whose Scan has no
    gradient), which keeps the trainers of its last four lengths only."""
    scan, unrolled = _last_step_classifier(), _last_step_classifier()
    unrolled._unroll = True
    r = np.random.default_rng(3)
    for steps in (2, 3, 4, 5, 6, 2, 3):
        x = r.standard_normal((6, 3, steps)).astype(np.float32)
        y = np.eye(2, dtype=np.float32)[(x[:, 0, -1] > 0).astype(int)]
        scan.fit(MultiDataSet([x], [y]))
        unrolled.fit(MultiDataSet([x], [y]))
        assert scan.score() == pytest.approx(unrolled.score(), rel=1e-6)
    assert len(scan._trainers) == 1 and scan._active is scan.model and len(unrolled._trainers) == 4
    np.testing.assert_allclose(scan.params(), unrolled.params(), rtol=1e-6, atol=1e-7)


def test_evaluate_drops_the_steps_a_labels_mask_drops():
    """As MultiLayerNetwork.evaluate: each step a time-series output's labels mask keeps is one
    sample; the accuracy is that of those steps, recomputed here from output()."""
    cg = ComputationGraph(_lstm_skip_conf()).init()
    x, y = _seq_data(6, 8)
    m = np.zeros((6, 8), np.float32)
    m[:, :5] = 1
    m[2, :] = 1
    ev = cg.evaluate(DataSet(x, y, labels_mask=m))
    hits = cg.output(x)[0].argmax(1) == y.argmax(1)
    assert ev.n_samples == int(m.sum()) == 33
    assert ev.accuracy() == pytest.approx(hits[m > 0].mean(), rel=1e-12)
    assert cg.evaluate(DataSet(x, y)).n_samples == 48
