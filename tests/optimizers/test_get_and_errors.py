"""`get` by Keras string / config / object, configs equal to Keras's, constraints after the update as
Keras applies them, random shapes (hypothesis) against Keras, and the errors bad settings raise."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc
import graphc.optimizers as O
from graphc.ir import Graph
from graphc.nn.base import Emitter
from graphc.nn.constraints import MaxNorm
from graphc.types import TensorType
from tests.optimizers.helpers import UpdateRunner, assert_close, keras_run, random_case

keras = pytest.importorskip("keras")

KERAS = [("SGD", {"momentum": 0.5, "nesterov": True}), ("Adagrad", {}), ("RMSprop", {"centered": True}),
         ("Adadelta", {}), ("Adam", {"amsgrad": True, "clipnorm": 1.0}), ("AdamW", {}), ("Adamax", {}),
         ("Nadam", {"global_clipnorm": 2.0})]


@pytest.mark.parametrize("name,config", KERAS)
def test_config_is_keras_config(name, config):
    theirs = keras.optimizers.get({"class_name": name, "config": dict(config)}).get_config()
    ours = O.get({"class_name": name, "config": dict(config)}).get_config()
    ours.pop("name"), theirs.pop("name")
    assert ours == pytest.approx(theirs)
    # Keras's full config (as a .keras compile_config saves it) builds the same optimizer
    again = O.get({"class_name": name, "config": theirs})
    assert again.get_config() == pytest.approx({**ours, "name": again.name})
    assert type(O.get(name.lower())) is type(O.get(name))


def test_get_forms():
    adam = O.Adam(learning_rate=0.01)
    assert O.get(adam) is adam
    assert O.get("adam", learning_rate=0.1).learning_rate == 0.1
    sched = O.get({"class_name": "SGD", "config": {"learning_rate": {
        "module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}}}})
    assert isinstance(sched.learning_rate, O.ExponentialDecay)
    assert sched.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    dl4j = O.SGD(regularization=O.Regularization(l2=1e-4), gradient_normalization="ClipL2PerLayer")
    rebuilt = O.get({"class_name": "SGD", "config": dl4j.get_config()})
    assert rebuilt.regularization.l2 == 1e-4 and rebuilt.gradient_normalization.mode == "ClipL2PerLayer"
    assert "regularization" not in O.SGD().get_config()
    # DL4J spellings: class names, enum member names, config dicts with DL4J's keys
    assert O.get("NESTEROVS").nesterov and type(O.get("RmsProp")) is O.RmsProp
    ada = O.get({"class_name": "AdaGrad", "config": {"learningRate": 0.05}})
    assert type(ada) is O.AdaGrad and ada.learning_rate == 0.05 and ada.epsilon == 1e-6


def test_constraints_apply_after_the_update_as_in_keras():
    params, grads = random_case(21)
    kernel = "dense/kernel"
    opt = O.SGD(learning_rate=0.3, momentum=0.9)
    runner = UpdateRunner(opt, params, constraints={kernel: MaxNorm(1.0)})
    variables = [keras.Variable(v.copy()) for v in params.values()]
    variables[list(params).index(kernel)].constraint = keras.constraints.MaxNorm(1.0)  # the constructor drops it
    theirs = keras.optimizers.SGD(learning_rate=0.3, momentum=0.9)
    for i, g in enumerate(grads):
        theirs.apply([keras.ops.convert_to_tensor(g[n]) for n in params], variables)
        want = {n: keras.ops.convert_to_numpy(v.value) for n, v in zip(params, variables)}
        assert_close(runner.step(g), want, what=f"step {i}")
    assert np.linalg.norm(runner.params[kernel], axis=0).max() <= 1.0 + 1e-5


shapes = st.dictionaries(st.sampled_from(["a/kernel", "a/bias", "b/kernel", "c/gamma"]),
                         st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=3)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes=shapes, seed=st.integers(0, 2**16), which=st.sampled_from(["Adam", "RMSprop", "Nadam", "SGD"]))
def test_random_shapes_match_keras(shapes, seed, which):
    params, grads = random_case(seed, shapes, steps=3)
    config = {"Adam": {"amsgrad": True, "clipnorm": 1.0}, "RMSprop": {"centered": True, "momentum": 0.5},
              "Nadam": {"weight_decay": 0.1}, "SGD": {"momentum": 0.9, "global_clipnorm": 1.0}}[which]
    expected = keras_run(keras.optimizers.get({"class_name": which, "config": dict(config)}), params, grads)
    runner = UpdateRunner(O.get({"class_name": which, "config": dict(config)}), params)
    for i, g in enumerate(grads):
        assert_close(runner.step(g), expected[i], what=f"{which} {shapes} step {i}")


def _graph(params, dtype=np.float32):
    g = Graph("u")
    em = Emitter(g)
    pv = {n: g.add_input(f"p:{n}", TensorType(np.dtype(dtype), s)) for n, s in params.items()}
    gv = {n: g.add_input(f"g:{n}", TensorType(np.dtype(dtype), s)) for n, s in params.items()}
    step = g.add_input("step", TensorType(np.dtype(np.int64), ()))
    return g, em, pv, gv, step


def _state(em, opt, params):
    return {n: em.graph.add_input(f"s:{n}", TensorType(a.dtype, a.shape))
            for n, a in opt.init_state(params).items()}


@pytest.mark.parametrize("bad,match", [
    (lambda: O.get("adamx"), "unknown optimizer 'adamx'"),
    (lambda: O.get({"class_name": "Lion", "config": {}}), "unknown optimizer class 'Lion'"),
    (lambda: O.get(3), "cannot make an optimizer"),
    (lambda: O.SGD(clipnorm=1.0, clipvalue=1.0), "only one of clipnorm"),
    (lambda: O.Adam(beta_3=0.1), "unknown arguments"),
    (lambda: O.SGD(momentum=1.5), "momentum"),
    (lambda: O.AdamW(weight_decay=None), "weight_decay"),
    (lambda: O.Adam(use_ema=True), "use_ema"),
    (lambda: O.SGD(learning_rate="fast"), "learning_rate"),
    (lambda: O.dl4j("Lamb"), "unknown DL4J updater"),
    (lambda: O.GradientNormalization("ClipL2PerNeuron"), "unknown gradient normalization"),
    (lambda: O.GradientNormalization("ClipL2PerLayer", threshold=0), "threshold"),
    (lambda: O.Regularization(l2=-1), "l2"),
])
def test_bad_settings(bad, match):
    with pytest.raises(graphc.GraphcError, match=match):
        bad()


def test_bad_inputs_to_build_update_name_the_parameter():
    params = {"d/kernel": (2, 3), "d/bias": (3,)}
    opt = O.Adam()
    g, em, pv, gv, step = _graph(params)
    state = _state(em, opt, {n: np.zeros(s, np.float32) for n, s in params.items()})
    with pytest.raises(O.OptimizerError, match=r"no gradient for parameters \['d/bias'\]"):
        opt.build_update(em, pv, {"d/kernel": gv["d/kernel"]}, state, step)
    with pytest.raises(O.OptimizerError, match="d/kernel/velocity"):
        opt.build_update(em, pv, gv, {k: v for k, v in state.items() if k != "d/kernel/velocity"}, step)
    swapped = {"d/kernel": gv["d/kernel"], "d/bias": gv["d/kernel"]}
    with pytest.raises(O.OptimizerError, match="'d/bias' has shape"):
        opt.build_update(em, pv, swapped, state, step)
    g64, em64, pv64, gv64, step64 = _graph(params, np.float64)
    state64 = _state(em64, opt, {n: np.zeros(s, np.float32) for n, s in params.items()})
    with pytest.raises(O.OptimizerError, match="float64"):
        opt.build_update(em64, pv64, gv64, state64, step64)
