"""Batch inference and training on a real standalone Spark cluster on loopback: a master and a
worker started by `StandaloneCluster` (spark-class), used through a `spark://` session and through
spark-submit of examples/spark_predict.py and examples/spark_train.py, then stopped by the PIDs it
started.

The worker offers 2 cores and each application takes 1 (`spark.cores.max`) with a small executor,
so the session and the spark-submit application can run side by side on the 2-core machine."""
import importlib.util
import os
import shutil
import uuid
from types import SimpleNamespace

import numpy as np
import pytest

from tests.spark.conftest import FIXTURES, ROOT, needs_spark

needs_spark()
from pyspark.sql import types as T  # noqa: E402

import graphc  # noqa: E402
from graphc.runtime.spark.columns import input_plans  # noqa: E402

pytestmark = pytest.mark.slow
MLP = os.path.join(FIXTURES, "onnx", "torch_mlp.onnx")
TWO = os.path.join(FIXTURES, "keras", "struct_two_in_two_out.keras")
EXAMPLE = os.path.join(ROOT, "examples", "spark_predict.py")
TRAIN = os.path.join(ROOT, "examples", "spark_train.py")
APP = {"spark.cores.max": "1", "spark.executor.memory": "512m"}
TOL = dict(rtol=1e-5, atol=1e-6)  # batches of another row count than the reference's (test_inference.py)


@pytest.fixture(scope="module")
def cluster():
    c = graphc.spark.StandaloneCluster(workers=1, cores=2, memory="1g", timeout=180).start()
    pids = c.pids
    assert len(pids) == 2 and c.url.startswith("spark://127.0.0.1:")
    yield c
    c.stop()
    for pid in pids:  # each daemon ended and was waited for
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.fixture(scope="module")
def spark(cluster):
    session = graphc.spark.session(master=cluster.url, app_name="graphc-cluster-test", conf=APP)
    yield session
    session.stop()


def test_a_spark_session_on_the_cluster_runs_batch_inference(spark, cluster, tmp_path):
    sc = spark.sparkContext
    assert sc.master == cluster.url
    rng = np.random.default_rng(0)
    vec = rng.standard_normal((30, 5)).astype(np.float32)
    seq = rng.standard_normal((30, 3, 4)).astype(np.float32)
    schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("vec", T.ArrayType(T.FloatType())),
                           T.StructField("seq", T.ArrayType(T.FloatType()))])
    df = spark.createDataFrame([(i, vec[i].tolist(), seq[i].ravel().tolist()) for i in range(30)], schema)
    rows = graphc.spark.predict(df.repartition(3), TWO, batch_size=8).orderBy("id").collect()
    want = graphc.compile(graphc.load(TWO)).run(vec=vec, seq=seq)
    np.testing.assert_allclose(np.array([r.prediction.cls for r in rows]), want["cls"], **TOL)
    np.testing.assert_allclose(np.array([r.prediction.per_step for r in rows]), want["per_step"].reshape(30, 3), **TOL)
    assert sc._jsc.sc().getExecutorIds().size() == 1  # the tasks ran in one executor, on the worker
    # a model file shipped with addFile, named by its file name alone
    name = f"cluster_{uuid.uuid4().hex}.onnx"
    shutil.copy(MLP, tmp_path / name)
    sc.addFile(str(tmp_path / name))
    x = rng.standard_normal((12, 784)).astype(np.float32)
    xdf = spark.createDataFrame([(i, x[i].tolist()) for i in range(12)], "id long, input_0 array<float>")
    got = np.array([r.prediction for r in graphc.spark.predict(xdf.repartition(2), name, batch_size=5)
                    .orderBy("id").collect()])
    np.testing.assert_allclose(got, graphc.compile(graphc.load(MLP))(x), **TOL)


def test_fit_through_the_cluster_session_equals_one_process(spark):
    from graphc import nn, optimizers

    def model(weights=None):
        m = nn.Sequential([nn.Input((5,)), nn.Dense(8, activation="tanh"), nn.Dense(3, activation="softmax")])
        if weights is not None:
            m.set_weights(weights)
        m.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
        return m

    rng = np.random.default_rng(4)
    parts = [(rng.normal(size=(8, 5)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)])
             for _ in range(2)]
    start = model().get_weights()
    m = model(start)
    trainer = graphc.spark.SparkTrainer(m, spark=spark, batch_size_per_worker=4)
    trainer.fit(spark.sparkContext.parallelize(parts, 2), epochs=3)
    # the executor's one core: one loop task holding both partitions, connected from the worker's JVM
    assert [h["partitions"] for h in trainer.loop.hellos] == [[0, 1]]
    ref = model(start)
    for i in range(6):
        s = (i % 2) * 4
        ref.train_on_batch(np.concatenate([x[s:s + 4] for x, _ in parts]),
                           np.concatenate([y[s:s + 4] for _, y in parts]))
    for g, w in zip(m.get_weights(), ref.get_weights()):  # summation order differs: see test_trainer.py
        assert np.max(np.abs(g - w)) <= 1e-6 * np.max(np.abs(w))


def _example():
    spec = importlib.util.spec_from_file_location("spark_predict_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spark_submit_of_the_example_on_the_cluster(cluster, tmp_path):
    out = tmp_path / "pred.npy"
    run = cluster.submit(EXAMPLE, "--model", MLP, "--ship", "--rows", 40, "--seed", 3, "--batch-size", 16,
                         "--output", out, conf=APP, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"40 rows through torch_mlp.onnx (['input_0'] -> ['output_0']) on {cluster.url}" in run.stdout
    model = graphc.load(MLP)
    plans = SimpleNamespace(inputs=input_plans(model.input_types()))
    x = _example().random_rows(plans, 40, 3)["input_0"]  # the rows the example made from its seed
    np.testing.assert_allclose(np.load(out), graphc.compile(model)(x), **TOL)


def test_spark_submit_of_the_training_example_on_the_cluster(cluster, tmp_path):
    # its one core (spark.cores.max) is one task slot: the socket loop runs one task holding both partitions
    out = tmp_path / "weights.npz"
    run = cluster.submit(TRAIN, "--epochs", 1, "--batch-size", 48, "--output", out, conf=APP, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("test accuracy"))
    assert line.endswith(f"on {cluster.url}") and float(line.split()[2]) > 0.5, line
    with np.load(out) as z:
        assert len(z.files) == 10 and all(np.all(np.isfinite(z[k])) for k in z.files)  # 5 layers' kernels and biases
