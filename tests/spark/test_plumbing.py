"""The trainer-independent plumbing the Spark trainer will use (runtime/spark/params.py,
shipping.py, timing.py): flat float32 parameter buffers, a graph shipped once with its session
built once per executor process (on a real local[2] Spark), and the time-breakdown summary."""
import os
import re

import numpy as np
import pytest

from graphc import InputError
from graphc.runtime.spark.params import Layout, flatten, unflatten
from graphc.runtime.spark.timing import IterationRecord, Stopwatch, summary
from tests.spark.conftest import FIXTURES


def _params():
    rng = np.random.default_rng(0)
    return {"dense/kernel": rng.standard_normal((4, 3)).astype(np.float32),
            "dense/bias": rng.standard_normal(3).astype(np.float32),
            "scale": np.float32(2.5) * np.ones((), np.float32)}


def test_named_arrays_round_trip_through_one_float32_buffer():
    params = _params()
    buf, layout = flatten(params)
    assert buf.dtype == np.float32 and buf.shape == (16,) and layout.nbytes == 64
    assert layout.names == ["dense/kernel", "dense/bias", "scale"]
    np.testing.assert_array_equal(buf[:12], params["dense/kernel"].ravel())
    back = unflatten(buf, layout)
    for name, a in params.items():
        assert back[name].shape == a.shape
        np.testing.assert_array_equal(back[name], a)
    back["dense/bias"][:] = 7  # views: writes land in the buffer
    np.testing.assert_array_equal(buf[12:15], [7, 7, 7])
    out = np.zeros(16, np.float32)
    assert layout.flatten(params, out=out) is out and out[15] == np.float32(2.5)


def test_the_buffer_refuses_what_it_cannot_hold_exactly():
    params = _params()
    layout = Layout.of(params)
    with pytest.raises(InputError, match="parameter 'w' is float64; the flat buffer holds float32 only"):
        Layout.of({"w": np.zeros(3)})
    with pytest.raises(InputError, match="do not match the layout's"):
        layout.flatten({"dense/kernel": params["dense/kernel"]})
    with pytest.raises(InputError, match=r"parameter 'dense/bias' is float32 \[4\]; the layout has float32 \[3\]"):
        layout.flatten({**params, "dense/bias": np.zeros(4, np.float32)})
    with pytest.raises(InputError, match=r"float32 of shape \[16\]"):
        layout.unflatten(np.zeros(15, np.float32))


def test_the_summary_splits_the_wall_time_and_names_the_limit():
    records = [IterationRecord(i, wall=1.0, compute=[0.4, 0.5], phases={"broadcast": 0.1, "aggregate": 0.25},
                               bytes_out=1000, bytes_in=2000) for i in range(2)]
    assert records[0].critical_compute == 0.5 and records[0].other == pytest.approx(0.15)
    text = summary(records)
    assert "2 iterations, 2.000 s wall (1000.00 ms each), 2 workers" in text
    assert re.search(r"compute \(slowest worker\) +1\.000 s +50\.0 %", text)
    assert re.search(r"broadcast +0\.200 s +10\.0 %", text) and re.search(r"aggregate +0\.500 s +25\.0 %", text)
    assert re.search(r"other \(scheduling, waiting\) +0\.300 s +15\.0 %", text)
    assert "bytes a iteration: 1,000 out, 2,000 in" in text
    assert "speed-up against one process doing the same compute: 0.90x of 2" in text  # 1.8 s / 2.0 s
    # serial 1.0 s; bound = 1.8 / (1.0 + 1.8 / 2)
    assert "with 1.000 s serial (50.0 % of the wall) the bound on 2 workers is 0.95x; the largest serial part " \
           "is aggregate" in text
    assert summary([]) == "no iterations recorded"


def test_a_stopwatch_adds_up_a_phase():
    record = IterationRecord(0)
    watch = Stopwatch(record)
    for _ in range(2):
        with watch.phase("update"):
            sum(range(1000))
    assert set(record.phases) == {"update"} and record.phases["update"] >= 0.0


def test_a_shipped_graph_builds_one_session_per_executor_process(spark):
    import graphc
    from graphc.runtime.spark.shipping import session_info, ship_graph

    model = graphc.load(os.path.join(FIXTURES, "onnx", "torch_mlp.onnx"))
    shipped = ship_graph(spark, model)
    assert shipped.nbytes > 100_000 and len(shipped.sha256) == 64
    x = np.random.default_rng(1).standard_normal((40, 784)).astype(np.float32)
    want = graphc.compile(model)(x)

    def run(index, rows):
        rows = list(rows)
        out = shipped.executable()(x[rows]) if rows else np.zeros((0, 10), np.float32)
        info = session_info()
        yield index, rows, out, info["pid"], info["builds"][shipped.sha256]

    rdd = spark.sparkContext.parallelize(range(40), 4)
    results = [r for _ in range(3) for r in rdd.mapPartitionsWithIndex(run).collect()]  # three jobs
    for _, rows, out, _, _ in results:
        np.testing.assert_allclose(out, want[rows], rtol=1e-5, atol=1e-6)
    assert {builds for *_, builds in results} == {1}  # every process built it once, reused after
    shipped.unpersist()
