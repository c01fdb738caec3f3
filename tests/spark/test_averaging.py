"""SparkTrainer's parameter averaging and its two transports on a real local[2] Spark.

- Averaging every step (frequency 1) with plain SGD equals single-process training on the
  concatenated large batch (DL4J's TestCompareParameterAveragingSparkVsSingleMachine), 20
  iterations on 2 equal partitions. Not bit-identical, by ≤ 1e-6 relative: Spark computes
  mean_p(w - lr * g_p), one process w - lr * mean(g) with g summed over all rows in one kernel;
  float addition is not associative.
- One partition with Adam and frequency 4: the worker runs the same fused, optimized train step on
  the same batches from the same parameters, updater state and step count as one process, and the
  average of one partition is itself (weight n/N = 1), so the parameters AND the updater state are
  bit-identical.
- The socket loop (one job for all iterations) and a job per iteration give the same bits, in
  both modes: the same work per partition, added in the same (partition) order.
"""
import numpy as np
import pytest

from graphc import optimizers
from graphc.runtime.spark import SparkTrainer
from tests.spark.helpers import batches as _parts
from tests.spark.helpers import mlp as _model
from tests.spark.helpers import rdd as _rdd
from tests.spark.helpers import reference
from tests.spark.helpers import same as _same


def _train(spark, start, make, parts, epochs=10, **options):
    m = _model(start)
    m.compile(optimizer=make(), loss="categorical_crossentropy")
    t = SparkTrainer(m, spark=spark, **options)
    return m, t, t.fit(_rdd(spark, parts), epochs=epochs)


def _reference(start, make, parts, batch, iterations):
    return reference(start, make(), "categorical_crossentropy", parts, batch, iterations)


def test_averaging_every_step_with_sgd_equals_one_process_on_the_large_batch(spark):
    parts = _parts((16, 16))
    start = _model().get_weights()
    sgd = lambda: optimizers.SGD(learning_rate=0.2)  # noqa: E731
    m, t, h = _train(spark, start, sgd, parts, mode="average", averaging_frequency=1, batch_size_per_worker=8)
    assert len(h.records) == 20 and t.transport == "socket"  # 2 iterations an epoch, 10 epochs
    want = _reference(start, sgd, parts, 8, 20).get_weights()
    got = m.get_weights()
    assert any(not np.allclose(g, s) for g, s in zip(got, start))  # it trained
    for g, w in zip(got, want):
        assert np.max(np.abs(g - w)) <= 1e-6 * np.max(np.abs(w))
    assert h.history["loss"][-1] < h.history["loss"][0]
    r = h.records[0]
    assert len(r.compute) == 2 and r.bytes_in == 2 * 4 * (5 * 8 + 8 + 8 * 3 + 3)  # parameters; SGD has no state


def test_one_partition_with_adam_is_one_process_bit_for_bit_state_included(spark):
    parts = _parts((24,), seed=1)
    start = _model().get_weights()
    adam = lambda: optimizers.Adam(learning_rate=0.01)  # noqa: E731
    m, t, h = _train(spark, start, adam, parts, mode="average", averaging_frequency=4, batch_size_per_worker=6,
                     iterations_per_epoch=1)
    ref = _reference(start, adam, parts, 6, 40)  # 10 rounds of 4 local steps
    _same(m.get_weights(), ref.get_weights())
    mine, theirs = m._training.trainer, ref._training.trainer
    assert mine.step_count == theirs.step_count == 40
    assert len(mine.state) == len(theirs.state) == 8  # Adam's two slots per weight (layer names differ)
    for a, b in zip(mine.state.values(), theirs.state.values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("mode", ["accumulate", "average"])
def test_the_socket_loop_and_a_job_per_iteration_give_the_same_bits(spark, mode):
    parts = _parts((12, 10, 12), seed=2)  # 3 partitions on 2 task slots: one task holds two
    start = _model().get_weights()
    adam = lambda: optimizers.Adam(learning_rate=0.02)  # noqa: E731
    opts = dict(mode=mode, batch_size_per_worker=4, averaging_frequency=2, iterations_per_epoch=2)
    a, ta, ha = _train(spark, start, adam, parts, transport="socket", **opts)
    b, tb, hb = _train(spark, start, adam, parts, transport="jobs", **opts)
    _same(a.get_weights(), b.get_weights())
    assert ha.history["loss"] == hb.history["loss"]
    assert len(ta.loop.hellos) == 2 and sorted(p for h in ta.loop.hellos for p in h["partitions"]) == [0, 1, 2]
    assert all(h["attempt"] == 0 for h in ta.loop.hellos)
    # the tasks connect to the address the conf names for the driver (loopback here)
    host = spark.sparkContext.getConf().get("spark.driver.host")
    assert host == "127.0.0.1" and ta.loop.address[0] == host
    assert all(h["address"] == [host, ta.loop.address[1]] for h in ta.loop.hellos)


def test_the_loop_listens_where_the_conf_puts_the_driver():
    """A cluster's executors reach the driver at spark.driver.host (bound on bindAddress when set),
    as Spark's own driver services; a local master stays on loopback."""
    from pyspark import SparkConf

    from graphc.runtime.spark.loop import driver_address

    conf = SparkConf(loadDefaults=False).set("spark.driver.host", "10.1.2.3")
    assert driver_address(conf, "spark://10.1.2.1:7077") == ("10.1.2.3", "10.1.2.3")
    assert driver_address(conf.set("spark.driver.bindAddress", "0.0.0.0"), "yarn") == ("0.0.0.0", "10.1.2.3")
    assert driver_address(conf, "local[2]") == ("127.0.0.1", "127.0.0.1")
    assert driver_address(SparkConf(loadDefaults=False), "spark://h:7077") == ("127.0.0.1", "127.0.0.1")
