"""Schedules evaluated in the graph from the step counter equal Keras's own schedule objects at every
step (long enough to pass warmups, cycles and restarts); config round trips through Keras's form."""
from __future__ import annotations

import copy

import numpy as np
import onnxruntime as ort
import pytest

import graphc.optimizers as O
from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.nn.base import Emitter
from graphc.optimizers.math import Scalars
from graphc.types import TensorType
from tests.optimizers.test_keras_parity import SCHEDULES

keras = pytest.importorskip("keras")


def evaluate(schedule, steps, step_dtype=np.int64):
    g = Graph("schedule")
    em = Emitter(g)
    step = g.add_input("step", TensorType(np.dtype(step_dtype), ()))
    s = Scalars(em)
    g.add_output("lr", schedule(s, s.to_float(step)))
    g.verify()
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    return np.array([sess.run(None, {"step": np.asarray(i, step_dtype)})[0] for i in steps])


@pytest.mark.parametrize("config", SCHEDULES, ids=[f"{c['class_name']}{i}" for i, c in enumerate(SCHEDULES)])
def test_schedule_values_match_keras(config):
    ours = O.schedules.get(copy.deepcopy(config))
    theirs = keras.optimizers.schedules.deserialize(copy.deepcopy(config))
    steps = range(61)
    want = np.array([float(keras.ops.convert_to_numpy(theirs(i))) for i in steps])
    np.testing.assert_allclose(evaluate(ours, steps), want, rtol=1e-5, atol=1e-8)
    assert evaluate(ours, [7], np.float32)[0] == pytest.approx(want[7], rel=1e-6)
    # Keras's serialized form both ways
    ser = O.schedules.serialize(ours)
    assert ser["class_name"] == config["class_name"]
    assert ser["config"] == {**theirs.get_config(), **ser["config"]} and set(ser["config"]) == set(theirs.get_config())
    again = keras.optimizers.schedules.deserialize(ser)
    assert again.get_config() == theirs.get_config()


def test_dl4j_step_and_map_values():
    step = O.StepSchedule(initial_value=0.2, decay_rate=0.3, step=5)
    np.testing.assert_allclose(evaluate(step, range(30)), [0.2 * 0.3 ** (i // 5) for i in range(30)], rtol=1e-6)
    table = {0: 1.0, 3: 0.5, 10: 0.25, 11: 0.125}
    m = O.MapSchedule(table)
    want = [table[max(k for k in table if k <= i)] for i in range(20)]
    np.testing.assert_array_equal(evaluate(m, range(20)), np.float32(want))
    assert evaluate(O.MapSchedule({0: 0.3}), [0, 99])[1] == np.float32(0.3)


@pytest.mark.parametrize("bad,match", [
    (lambda: O.MapSchedule({2: 0.1}), "counter 0"),
    (lambda: O.PiecewiseConstantDecay([1, 2], [0.1, 0.2]), "3 values"),
    (lambda: O.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
    (lambda: O.StepSchedule(0.1, 0.5, 10, schedule_type="minute"), "schedule_type"),
    (lambda: O.schedules.get({"class_name": "Warp", "config": {}}), "unknown"),
])
def test_bad_schedules(bad, match):
    with pytest.raises(O.ScheduleError, match=match):
        bad()
