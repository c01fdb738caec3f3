"""SparkTrainer in gradient-accumulation mode on a real local[2] Spark: equal to single-process
training on the concatenated batch (divide mode vs the mean loss, sum mode vs a sum-reduction loss;
SGD and Adam; full-batch and mini-batch iterations), timings recorded, bad input refused before any
job.

Why not bit-identical: the partitions sum their samples' gradients in float32 inside ONNX Runtime's
kernels over THEIR rows, and the driver then adds the partition sums; the single process sums all
rows in one kernel in another order (and through the fused train-step graph rather than the gradient
and update graphs apart). Float addition is not associative, so the parameters agree to rounding
(measured ~1e-7 relative), not to the bit; the tests hold them to 1e-6 relative."""
import numpy as np
import pytest

from graphc import losses, nn, optimizers
from graphc.errors import GraphcError
from graphc.runtime.spark import SparkTrainer
from graphc.runtime.spark.timing import IterationRecord
from tests.spark.helpers import batches, reference
from tests.spark.helpers import close as _close
from tests.spark.helpers import mlp as _model
from tests.spark.helpers import rdd as _rdd

SIZES = (24, 16, 24)  # unequal partitions: the sample count, not the partition count, divides


def _parts(seed=0):
    return batches(SIZES, seed)


def _reference(start, optimizer, loss, parts, batch, iterations):
    return reference(start, optimizer, loss, parts, batch, iterations).get_weights()


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("divide", [True, False])
def test_full_batch_accumulation_equals_one_process_on_the_concatenated_batch(spark, opt, divide):
    # a summed gradient is 64x the mean one: SGD's step is scaled down to stay out of a chaotic regime
    # where float rounding grows step by step
    lr = 0.1 if divide else 0.1 / sum(SIZES)
    make = (lambda: optimizers.SGD(learning_rate=lr)) if opt == "sgd" else \
        (lambda: optimizers.Adam(learning_rate=0.01))
    parts = _parts()
    start = _model().get_weights()
    m = _model(start)
    m.compile(optimizer=make(), loss="categorical_crossentropy")
    h = SparkTrainer(m, spark=spark, divide=divide).fit(_rdd(spark, parts), epochs=20)
    ref_loss = "categorical_crossentropy" if divide else losses.CategoricalCrossentropy(reduction="sum")
    want = _reference(start, make(), ref_loss, parts, max(SIZES), 20)
    got = m.get_weights()
    assert any(not np.allclose(g, s) for g, s in zip(got, start))  # it trained
    _close(got, want)
    assert len(h.history["loss"]) == 20 and len(h.records) == 20  # 20 iterations, 3 partitions
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_mini_batches_per_worker_equal_one_process_and_record_the_time(spark):
    parts = _parts(1)
    start = _model().get_weights()
    m = _model(start)
    m.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    h = SparkTrainer(m, spark=spark, batch_size_per_worker=8, iterations_per_epoch=5).fit(_rdd(spark, parts),
                                                                                          epochs=4)
    # a pass over the largest partition is 3 iterations (24 = 3 x 8); the 16-sample one sits out the third
    assert len(h.records) == 20 and len(h.history["loss"]) == 4
    _close(m.get_weights(), _reference(start, optimizers.Adam(learning_rate=0.01), "categorical_crossentropy",
                                       parts, 8, 20))
    r = h.records[0]
    assert isinstance(r, IterationRecord) and len(r.compute) == 3 and len(h.records[2].compute) == 2
    # the socket loop (2 tasks on local[2], one holding two partitions): the parameters once to each
    # task, plus a frame header; one gradient back per partition
    params = 4 * (5 * 8 + 8 + 8 * 3 + 3)
    assert 2 * params < r.bytes_out < 2 * params + 2 * 400 and r.bytes_in == 3 * params
    assert set(r.phases) == {"serialize", "broadcast", "aggregate", "update"} and r.wall > 0
    assert "20 iterations" in h.summary() and "Amdahl" in h.summary()


def test_samples_as_elements_train_like_batches(spark):
    parts = _parts(2)
    start = _model().get_weights()
    m = _model(start)
    m.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    samples = [[(x[i], y[i]) for i in range(len(x))] for x, y in parts]
    rdd = spark.sparkContext.parallelize([s for p in samples for s in p], 1).coalesce(1)
    SparkTrainer(m, spark=spark).fit(rdd, epochs=3)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    _close(m.get_weights(), _reference(start, optimizers.SGD(learning_rate=0.1), "categorical_crossentropy",
                                       [(x, y)], len(x), 3))


def test_bad_input_is_refused_before_training(spark):
    m = _model()
    with pytest.raises(GraphcError, match="not compiled for training: call model.compile"):
        SparkTrainer(m, spark=spark)
    m.compile(optimizer="sgd", loss="mse")
    before = m.get_weights()
    with pytest.raises(GraphcError, match="mode 'median'"):
        SparkTrainer(m, mode="median", spark=spark)
    with pytest.raises(GraphcError, match="averaging_frequency=0"):
        SparkTrainer(m, mode="average", averaging_frequency=0, spark=spark)
    with pytest.raises(GraphcError, match="checkpoint_every needs checkpoint"):
        SparkTrainer(m, spark=spark, checkpoint_every=2)
    sc = spark.sparkContext
    with pytest.raises(GraphcError, match="the data set is empty"):
        SparkTrainer(m, spark=spark).fit(sc.parallelize([], 2))
    x, y = _parts()[0]
    with pytest.raises(GraphcError, match=r"partition\(s\) \[0\] of 2 hold no data; repartition"):
        SparkTrainer(m, spark=spark).fit(sc.parallelize([(x, y)], 2))
    with pytest.raises(GraphcError, match="give an RDD"):
        SparkTrainer(m, spark=spark).fit((x, y))
    for a, b in zip(m.get_weights(), before):  # nothing was applied
        np.testing.assert_array_equal(a, b)


def test_a_dataframe_of_array_or_vector_features_trains_like_its_rows(spark):
    from pyspark.ml.linalg import Vectors

    x, y = _parts(3)[0]
    start = _model().get_weights()
    m = _model(start)
    m.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    labels = np.argmax(y, -1)
    rows = [(Vectors.dense(x[i].tolist()), x[i].tolist(), int(labels[i])) for i in range(len(x))]
    df = spark.createDataFrame(rows, ["vec", "arr", "cls"]).coalesce(1)
    SparkTrainer(m, spark=spark, features_col="vec", label_col="cls").fit(df, epochs=3)
    ref = _model(start)
    ref.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    for _ in range(3):
        ref.train_on_batch(x, labels)
    _close(m.get_weights(), ref.get_weights())
    m2 = _model(start)
    m2.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    SparkTrainer(m2, spark=spark, features_col="arr", label_col="cls").fit(df, epochs=3)
    _close(m2.get_weights(), ref.get_weights())
    with pytest.raises(GraphcError, match=r"missing \['pixels'\]"):
        SparkTrainer(m2, spark=spark, features_col="pixels", label_col="cls").fit(df)
    # one-hot labels as ML vectors
    onehot = spark.createDataFrame([(x[i].tolist(), Vectors.dense(y[i].tolist())) for i in range(len(x))],
                                   ["arr", "y"]).coalesce(1)
    m3 = _model(start)
    m3.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    SparkTrainer(m3, spark=spark, features_col="arr", label_col="y").fit(onehot, epochs=3)
    _close(m3.get_weights(), _reference(start, optimizers.SGD(learning_rate=0.1), "categorical_crossentropy",
                                        [(x, y)], len(x), 3))


def test_moving_statistics_are_the_sample_weighted_mean_of_the_partitions(spark):
    def bn_model(weights=None):
        m = nn.Sequential([nn.Input((5,)), nn.Dense(6), nn.BatchNormalization(momentum=0.5),
                           nn.Dense(3, activation="softmax")])
        if weights is not None:
            m.set_weights(weights)
        m.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
        return m

    parts = _parts(4)
    start = bn_model().get_weights()
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    ref = bn_model(start)
    ref.train_on_batch(x, y)
    def stats(m):
        m.get_weights()  # written back from the trainer
        layer = next(layer for layer in m.layers if isinstance(layer, nn.BatchNormalization))
        return layer.moving_mean.value, layer.moving_variance.value

    # one partition: the same step as one process, moving variance included
    one = bn_model(start)
    SparkTrainer(one, spark=spark).fit(_rdd(spark, [(x, y)]), epochs=1)
    _close(one.get_weights(), ref.get_weights())
    # three partitions: each normalizes by its own batch statistics (so the other weights differ, as
    # in DL4J); the moving mean after the first step is still the whole batch's
    three = bn_model(start)
    SparkTrainer(three, spark=spark).fit(_rdd(spark, parts), epochs=1)
    _close([stats(three)[0]], [stats(ref)[0]])
    assert not np.allclose(stats(three)[0], 0) and not np.allclose(stats(three)[1], 1)  # both moved


def test_weights_set_after_training_are_the_ones_spark_starts_from(spark):
    parts = _parts(5)
    m = _model()
    m.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    m.train_on_batch(*parts[0])  # the model's trainer now holds other parameters
    start = _model().get_weights()
    m.set_weights(start)
    SparkTrainer(m, spark=spark).fit(_rdd(spark, parts), epochs=2)
    _close(m.get_weights(), _reference(start, optimizers.SGD(learning_rate=0.1), "categorical_crossentropy",
                                       parts, max(SIZES), 2))


def test_the_spark_train_example_learns_the_digits(spark, capsys):
    import importlib.util
    import os

    from tests.spark.conftest import ROOT

    path = os.path.join(ROOT, "examples", "spark_train.py")
    spec = importlib.util.spec_from_file_location("spark_train_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    accuracy = example.main(["--epochs", "1", "--batch-size", "48"])  # the README's run: 10 epochs, ~0.99
    out = capsys.readouterr().out
    assert 0.5 < accuracy <= 1.0 and f"test accuracy {accuracy:.4f} after 1 epochs" in out
    assert "on local[2]" in out and "Amdahl" in out
    assert not spark.sparkContext._jsc.sc().isStopped()  # the example leaves the caller's session up


def test_data_that_does_not_fit_the_model_inputs_is_refused_before_a_training_job(spark):
    from pyspark.ml.linalg import Vectors

    from graphc.runtime.spark.errors import ColumnError

    m = _model()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    before = m.get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 7)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    t = SparkTrainer(m, spark=spark)
    with pytest.raises(ColumnError, match=r"input 0 comes as samples of shape \[7\]; the model .*input .* takes "
                                          r"samples of shape \[5\]: give \(x, y\) batches of shape \(n, 5\)"):
        t.fit(_rdd(spark, [(x, y), (x, y)]))
    with pytest.raises(ColumnError, match=r"samples of shape \[7\]"):  # samples as elements likewise
        t.fit(spark.sparkContext.parallelize([(x[i], y[i]) for i in range(6)], 2))
    df = spark.createDataFrame([(Vectors.dense(r.tolist()), r.tolist(), 1) for r in x], ["vec", "arr", "cls"])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for col in ("vec", "arr"):
        with pytest.raises(ColumnError, match=rf"column '{col}' holds 7 elements in the DataFrame's first row, but "
                                              rf"a row of input .* = 5 elements\); reshape or select"):
            SparkTrainer(m, spark=spark, features_col=col, label_col="cls").fit(df)
    # the driver reads the first row; a later row of another length is seen on its executor, in the same words
    ragged = spark.createDataFrame([(r.tolist()[:5 if i < 3 else 7], 1) for i, r in enumerate(x)], ["arr", "cls"])
    with pytest.raises(GraphcError, match=r"reading the data \(before any training\) failed .*column 'arr' holds 36 "
                                          r"values over 6 rows"):
        SparkTrainer(m, spark=spark, features_col="arr", label_col="cls").fit(ragged.coalesce(1))
    assert t.records == [] and spark.sparkContext.statusTracker().getActiveJobsIds() == []
    for a, b in zip(m.get_weights(), before):  # nothing was applied
        np.testing.assert_array_equal(a, b)


def test_a_partition_of_20k_samples_or_dataframe_rows_stacks_into_one_block(spark):
    """Samples are listed and stacked once per partition (no growing list copied per sample), a
    DataFrame's rows arrive as Arrow blocks (no Python call per row); the blocks equal numpy's."""
    import pandas as pd

    from graphc.runtime.spark.trainer import _stack

    rng = np.random.default_rng(8)
    x = rng.normal(size=(20000, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 20000)
    y = np.eye(3, dtype=np.float32)[labels]
    [(index, xs, ys)] = list(_stack([2], [2])(0, iter(list(zip(x, y)))))
    assert index == 0
    np.testing.assert_array_equal(xs[0], x)
    np.testing.assert_array_equal(ys[0], y)
    m = _model()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    df = spark.createDataFrame(pd.DataFrame({"features": list(x), "label": labels})).coalesce(2)
    blocks = SparkTrainer(m, spark=spark)._rows(df).mapPartitionsWithIndex(_stack([2], [1])).collect()
    assert [i for i, _, _ in blocks] == [0, 1]
    np.testing.assert_array_equal(np.concatenate([b[1][0] for b in blocks]), x)
    got = np.concatenate([b[2][0] for b in blocks])
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, labels)


def test_a_job_per_iteration_adds_the_partitions_in_a_fixed_pairwise_tree(spark):
    from graphc.runtime.spark.jobs import tree_sum

    rng = np.random.default_rng(9)
    bufs = [rng.normal(size=1000).astype(np.float32) * 10.0 ** i for i in range(5)]
    results = [(i, {"n": i + 1, "loss": float(i), "compute": 0.1 * i}, b) for i, b in enumerate(bufs)]
    [(low, meta, total)] = tree_sum(spark.sparkContext.parallelize(results, 5), 5)
    np.testing.assert_array_equal(total, ((bufs[0] + bufs[1]) + (bufs[2] + bufs[3])) + bufs[4])
    assert low == 0 and meta["n"] == 15 and meta["compute"] == [0.1 * i for i in range(5)]
    assert tree_sum(spark.sparkContext.parallelize(results[:1], 1), 1)[0][2] is not None


@pytest.mark.parametrize("divide", ["samples", "contributions"])
def test_divide_by_the_samples_or_by_the_contributions_as_dl4j(spark, divide):
    """"contributions" is DL4J's DIVIDE_ACCUM_GRADIENT: the summed gradient over the 4 partitions,
    which for SGD at rate lr is one process's sum-loss step at rate lr / 4; "samples" (= True) is the
    mean loss's. 4 partitions: the job's tree adds (g0 + g1) + (g2 + g3), one process all rows at once."""
    parts = _parts(10) + _parts(11)[:1]
    # "contributions" steps by the sum over 88 samples / 4: the rate is kept small, out of the chaotic
    # regime where float rounding grows step by step (as in the full-batch test above)
    lr = 0.1 if divide == "samples" else 0.005
    start = _model().get_weights()
    m = _model(start)
    m.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="categorical_crossentropy")
    h = SparkTrainer(m, spark=spark, divide=divide).fit(_rdd(spark, parts), epochs=5)
    assert len(h.records[0].compute) == 4 and h.records[0].bytes_in == 4 * (5 * 8 + 8 + 8 * 3 + 3)  # one sum back
    span = max(len(p[0]) for p in parts)
    if divide == "samples":
        want = _reference(start, optimizers.SGD(learning_rate=0.1), "categorical_crossentropy", parts, span, 5)
    else:
        want = _reference(start, optimizers.SGD(learning_rate=lr / 4), losses.CategoricalCrossentropy(
            reduction="sum"), parts, span, 5)
    _close(m.get_weights(), want)
    with pytest.raises(GraphcError, match="divide='mean'"):
        SparkTrainer(m, spark=spark, divide="mean")
