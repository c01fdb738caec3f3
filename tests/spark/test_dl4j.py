"""DL4J networks (graphc.dl4j MultiLayerNetwork and ComputationGraph) train on a real local[2]
Spark through the graphc model they hold: gradient accumulation over 3 partitions equals the
network's own single-process fit on the concatenated batch (≤ 1e-6 relative: the partitions' sums
and the driver's sum add in another order than one kernel over all rows), and the network itself
(params(), output(), iteration_count) holds the trained weights afterwards."""
import numpy as np

from graphc.dl4j import DataSet, DenseLayer, LossFunction, MultiLayerNetwork, NeuralNetConfiguration, OutputLayer, \
    Updater
from graphc.dl4j.graph.computation_graph import ComputationGraph
from graphc.runtime.spark import SparkTrainer
from tests.spark.helpers import batches, close, rdd


def _builder():
    return NeuralNetConfiguration.Builder().seed(3).learning_rate(0.05).updater(Updater.ADAM)


def _mlp():
    conf = (_builder().list().layer(0, DenseLayer.Builder().n_in(5).n_out(8).activation("tanh").build())
            .layer(1, OutputLayer.Builder(LossFunction.MCXENT).n_out(3).activation("softmax").build()).build())
    return MultiLayerNetwork(conf).init()


def _graph():
    conf = (_builder().graph_builder().add_inputs("in")
            .add_layer("hidden", DenseLayer(n_in=5, n_out=8, activation="tanh"), "in")
            .add_layer("out", OutputLayer(LossFunction.MCXENT, n_in=8, n_out=3, activation="softmax"), "hidden")
            .set_outputs("out").build())
    return ComputationGraph(conf).init()


def _check(spark, make):
    parts = batches((24, 16, 24), 6)
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    net, ref = make(), make()
    np.testing.assert_array_equal(net.params(), ref.params())  # the same seed: the same start
    start = net.params()
    SparkTrainer(net, spark=spark, mode="accumulate").fit(rdd(spark, parts), epochs=5)
    for _ in range(5):
        ref.fit(DataSet(x, y))
    assert not np.allclose(net.params(), start)  # it trained, and the network holds it
    close([net.params()], [ref.params()])
    close(np.atleast_1d(net.output(x)), np.atleast_1d(ref.output(x)))  # a graph gives a list of outputs
    assert net.iteration_count == 5


def test_a_multilayer_network_trains_like_its_own_fit_on_the_concatenated_batch(spark):
    _check(spark, _mlp)


def test_a_computation_graph_trains_like_its_own_fit_on_the_concatenated_batch(spark):
    _check(spark, _graph)
