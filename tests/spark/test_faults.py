"""Faults on a real Spark: `local[2,4]` (2 task slots, up to 4 attempts of a task, as
`spark.task.maxFailures=4` on a cluster). An injected failure of one task attempt mid-training (an
exception in the task, or its Python worker killed with SIGKILL) is retried by Spark and the final
parameters are bit-identical to the fault-free run, in the socket loop (the retried attempt rejoins
the current round) and with a job per iteration; a task that fails for good ends `fit` with a
SparkError, without a hang and without a partial update; a driver checkpoint every N iterations
resumes, in a fresh model object, to the same final parameters bit for bit."""
import os
import time

import pytest

import graphc
from graphc import optimizers
from graphc.runtime.spark import SparkError, SparkTrainer
from graphc.runtime.spark.faults import FailOnce
from tests.spark.conftest import needs_spark
from tests.spark.helpers import batches, mlp
from tests.spark.helpers import same as _same

SIZES = (12, 12, 8)
CONFIGS = {  # name -> SparkTrainer options (10 iterations in 2 epochs of 5)
    "socket-accumulate": dict(batch_size_per_worker=4, iterations_per_epoch=5),
    "jobs-full-batch": dict(iterations_per_epoch=5),
    "socket-average": dict(mode="average", averaging_frequency=2, batch_size_per_worker=4, iterations_per_epoch=5),
}


@pytest.fixture(scope="module")
def spark():
    needs_spark()
    session = graphc.spark.session(master="local[2,4]", app_name="graphc-faults")
    yield session
    session.stop()


def _parts():
    return batches(SIZES, 7)


START = mlp().get_weights()


def _model():
    m = mlp(START)
    m.compile(optimizer=optimizers.Adam(learning_rate=0.02), loss="categorical_crossentropy")
    return m


def _fit(spark, config, epochs=2, resume=False, **options):
    m = _model()
    t = SparkTrainer(m, spark=spark, **{**CONFIGS[config], **options})
    t.fit(spark.sparkContext.parallelize(_parts(), len(SIZES)), epochs=epochs, resume=resume)
    return m, t


_clean = {}


def _fault_free(spark, config):
    if config not in _clean:
        _clean[config] = _fit(spark, config)[0].get_weights()
    return _clean[config]


@pytest.mark.slow
@pytest.mark.parametrize("config,kind", [("socket-accumulate", "raise"), ("socket-accumulate", "kill"),
                                         ("jobs-full-batch", "raise"), ("socket-average", "kill")])
def test_a_failed_task_attempt_is_retried_and_changes_nothing(spark, tmp_path, config, kind):
    log = tmp_path / "faults.txt"
    m, t = _fit(spark, config, fault=FailOnce(iteration=7, partition=1, kind=kind, record=str(log)))
    assert log.read_text().splitlines() == [f"{kind} iteration 7 partition 1 attempt 0"]  # it did fail, once
    _same(m.get_weights(), _fault_free(spark, config))
    if config.startswith("socket"):  # the retried attempt of the task holding partition 1 joined the loop
        retried = [h for h in t.loop.hellos if h["attempt"] > 0]
        assert len(retried) == 1 and 1 in retried[0]["partitions"]


@pytest.mark.slow
@pytest.mark.parametrize("config", ["socket-accumulate", "jobs-full-batch"])
def test_a_task_that_fails_for_good_ends_fit_without_a_partial_update(spark, config):
    failed = _model()
    trainer = SparkTrainer(failed, spark=spark, fault=FailOnce(iteration=3, partition=2, always=True),
                           **CONFIGS[config])
    t0 = time.monotonic()
    with pytest.raises(SparkError, match="failed .*InjectedFault.*last complete iteration"):
        trainer.fit(spark.sparkContext.parallelize(_parts(), len(SIZES)), epochs=2)
    assert time.monotonic() - t0 < 120  # no hang: 4 attempts, then the job ends
    m, _ = _fit(spark, config, epochs=1, iterations_per_epoch=3)  # the 3 complete iterations
    _same(failed.get_weights(), m.get_weights())


@pytest.mark.parametrize("config", ["socket-accumulate", "socket-average"])
def test_a_driver_checkpoint_resumes_to_the_same_final_parameters(spark, tmp_path, config):
    path = str(tmp_path / "spark.ckpt.npz")
    _fit(spark, config, epochs=1, checkpoint=path, checkpoint_every=3)  # 5 iterations; the file holds 3
    assert os.path.exists(path)
    assert graphc.training.load_checkpoint(_model(), path)["extra"]["spark_iteration"] == 3
    m, t = _fit(spark, config, epochs=2, resume=True, checkpoint=path, checkpoint_every=3)
    assert len(t.records) == 7  # iterations 3..9
    _same(m.get_weights(), _fault_free(spark, config))
    other = "socket-average" if config == "socket-accumulate" else "socket-accumulate"
    untouched = _model()
    with pytest.raises(SparkError, match="resume with the mode it was written with"):
        SparkTrainer(untouched, spark=spark, checkpoint=path, **CONFIGS[other]).fit(
            spark.sparkContext.parallelize(_parts(), len(SIZES)), resume=True)
    _same(untouched.get_weights(), START)  # refused before the checkpoint was loaded
