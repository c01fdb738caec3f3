"""Every optimizer and option against real Keras 3 (torch backend): 20 steps on random parameters and
gradients, the update graph run on ONNX Runtime, parameters equal after every step (1e-5 relative)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import graphc.optimizers as O
from tests.optimizers.helpers import UpdateRunner, assert_close, keras_run, random_case

keras = pytest.importorskip("keras")

EXP = {"class_name": "ExponentialDecay",
       "config": {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.8, "staircase": True}}
SCHEDULES = [
    EXP,
    {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 4, "decay_rate": 0.7}},
    {"class_name": "InverseTimeDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5}},
    {"class_name": "InverseTimeDecay",
     "config": {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True}},
    {"class_name": "PiecewiseConstantDecay", "config": {"boundaries": [3, 9, 14], "values": [0.1, 0.05, 0.02, 0.01]}},
    {"class_name": "PolynomialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 12,
                                                 "end_learning_rate": 0.01, "power": 2.0}},
    {"class_name": "PolynomialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 6,
                                                 "end_learning_rate": 0.01, "power": 0.5, "cycle": True}},
    {"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 15, "alpha": 0.1}},
    {"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.0, "decay_steps": 10, "alpha": 0.05,
                                             "warmup_target": 0.1, "warmup_steps": 5}},
    {"class_name": "CosineDecayRestarts", "config": {"initial_learning_rate": 0.1, "first_decay_steps": 4,
                                                     "t_mul": 2.0, "m_mul": 0.8, "alpha": 0.1}},
    {"class_name": "CosineDecayRestarts", "config": {"initial_learning_rate": 0.1, "first_decay_steps": 5,
                                                     "t_mul": 1.0}},
]

CASES = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "weight_decay": 0.05}),
    ("SGD", {"learning_rate": 0.1, "clipnorm": 1.0}), ("SGD", {"learning_rate": 0.1, "clipvalue": 0.5}),
    ("SGD", {"learning_rate": 0.1, "global_clipnorm": 1.5}),
    ("SGD", {"learning_rate": 0.1, "loss_scale_factor": 4.0}),
    ("Adagrad", {"learning_rate": 0.1}), ("Adagrad", {"learning_rate": 0.1, "weight_decay": 0.05, "clipnorm": 2.0}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.9}), ("RMSprop", {"centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "clipvalue": 0.7}),
    ("Adadelta", {"learning_rate": 1.0}), ("Adadelta", {"learning_rate": 0.5, "rho": 0.9, "weight_decay": 0.1}),
    ("Adam", {}), ("Adam", {"amsgrad": True}),
    ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1, "clipnorm": 0.5}),
    ("Adam", {"learning_rate": 0.01, "global_clipnorm": 2.0, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5}),
    ("AdamW", {}), ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("Adamax", {}), ("Adamax", {"learning_rate": 0.01, "weight_decay": 0.05}),
    ("Nadam", {}), ("Nadam", {"learning_rate": 0.01, "clipvalue": 0.5}),
] + [("SGD", {"learning_rate": s, "momentum": 0.9}) for s in SCHEDULES] + [
    ("Adam", {"learning_rate": EXP, "weight_decay": 0.2}), ("Nadam", {"learning_rate": SCHEDULES[7]}),
]
for _s in SCHEDULES:  # Keras's serialized form
    _s["module"] = "keras.optimizers.schedules"


def _id(case):
    name, config = case
    parts = [f"{k}={v['class_name'] if isinstance(v, dict) else v}" for k, v in config.items()]
    return "-".join([name] + parts)


def _both(name, config):
    ours = O.get({"class_name": name, "config": copy.deepcopy(config)})
    theirs = keras.optimizers.get({"class_name": name, "config": copy.deepcopy(config)})
    return ours, theirs


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_keras_for_20_steps(case):
    name, config = case
    ours, theirs = _both(name, config)
    params, grads = random_case(len(CASES) + CASES.index(case))
    expected = keras_run(theirs, params, grads)
    runner = UpdateRunner(ours, params)
    for i, g in enumerate(grads):
        assert_close(runner.step(g), expected[i], what=f"{_id(case)} step {i}")


def test_weight_decay_exclusion_by_name_matches_keras():
    params, grads = random_case(7)
    for name in ("AdamW", "SGD"):
        ours, theirs = _both(name, {"learning_rate": 0.05, "weight_decay": 0.3})
        ours.exclude_from_weight_decay(var_names=["bias"])
        expected = keras_run(theirs, params, grads, exclude_names=["bias"])
        runner = UpdateRunner(ours, params)
        for i, g in enumerate(grads):
            assert_close(runner.step(g), expected[i], what=f"{name} step {i}")
        # the bias really was left alone: SGD without decay moves it by lr * g only
        if name == "SGD":
            want = params["dense/bias"] - 0.05 * np.sum([g["dense/bias"] for g in grads], axis=0)
            np.testing.assert_allclose(runner.params["dense/bias"], want, rtol=1e-5, atol=1e-6)
    by_list = O.SGD(learning_rate=0.05, weight_decay=0.3)
    by_list.exclude_from_weight_decay(var_list=["dense/bias"])
    runner = UpdateRunner(by_list, params)
    for g in grads:
        runner.step(g)
    np.testing.assert_allclose(runner.params["dense/bias"], want, rtol=1e-5, atol=1e-6)


def test_learning_rate_given_to_the_graph_follows_keras_assignments():
    """A trainer feeding the rate (ReduceLROnPlateau, LearningRateScheduler) matches Keras assigning it."""
    params, grads = random_case(11)
    ours, theirs = _both("Adam", {"learning_rate": 0.01, "weight_decay": 0.1})
    variables = [keras.Variable(v.copy()) for v in params.values()]
    runner = UpdateRunner(ours, params, lr_input=True)
    for i, g in enumerate(grads):
        lr = 0.01 * 0.5 ** (i // 5)
        theirs.learning_rate = lr
        theirs.apply([keras.ops.convert_to_tensor(g[n]) for n in params], variables)
        want = {n: keras.ops.convert_to_numpy(v.value) for n, v in zip(params, variables)}
        assert_close(runner.step(g, lr=lr), want, what=f"step {i}")


def test_state_names_are_keras_slot_names():
    params = {"dense/kernel": np.zeros((2, 3), np.float32), "dense/bias": np.zeros(3, np.float32)}
    state = O.RMSprop(momentum=0.9, centered=True).init_state(params)
    assert sorted(state) == sorted(f"{p}/{s}" for p in params for s in ("velocity", "momentum", "average_gradient"))
    assert all(v.shape == params[k.rsplit("/", 1)[0]].shape for k, v in state.items())
    nadam = O.Nadam().init_state(params)
    assert nadam["optimizer/u_product"].shape == () and float(nadam["optimizer/u_product"]) == 1.0
    assert float(O.Adagrad().init_state(params)["dense/bias/accumulator"][0]) == pytest.approx(0.1)
    # Keras names its slot variables the same way: <variable>_<slot>
    opt = keras.optimizers.RMSprop(momentum=0.9, centered=True)
    opt.build([keras.Variable(np.zeros(3, np.float32), name="bias")])
    assert {v.name for v in opt.variables} >= {"bias_velocity", "bias_momentum", "bias_average_gradient"}


@pytest.mark.parametrize("name,config", [("SGD", {"momentum": 0.9}), ("SGD", {"learning_rate": EXP}),
                                         ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adam", {"amsgrad": True}),
                                         ("Nadam", {}), ("Adamax", {}), ("Adadelta", {}), ("Adagrad", {})])
def test_keras_variable_order(name, config):
    """The order a .keras file saves optimizer variables in: Keras's `<variable>_<slot>` names."""
    ours, theirs = _both(name, config)
    theirs.build([keras.Variable(np.zeros(3, np.float32), name="kernel"),
                  keras.Variable(np.zeros(2, np.float32), name="bias")])
    got = ours.keras_variables(["dense/kernel", "dense/bias"])
    keras_names = [v.name for v in theirs.variables]
    assert len(got) == len(keras_names)
    for mine, kname in zip(got, keras_names):
        if mine == "optimizer/u_product":
            assert kname.split("_")[0] == "variable"  # Nadam's unnamed scalar ("variable_2" in a busy process)
        else:
            assert mine.replace("dense/", "").replace("/", "_") == kname
