"""DL4J semantics: the five gradient-normalization modes, L1/L2 on gradients, WeightDecay, step and
map schedules (learning rate and momentum), DL4J names and defaults; against numpy references of
DL4J's definitions."""
from __future__ import annotations

import numpy as np
import pytest

import graphc.optimizers as O
from graphc.optimizers import dl4j_updaters
from tests.optimizers.helpers import UpdateRunner, assert_close, random_case


def _l2(arrs):
    return float(np.sqrt(sum(float(np.sum(a.astype(np.float64) ** 2)) for a in arrs)))


def dl4j_normalize(mode, grads, threshold, layer_of):
    """DL4J's GradientNormalization, written from its documentation."""
    out = {}
    if mode == "ClipElementWiseAbsoluteValue":
        return {n: np.clip(g, -threshold, threshold) for n, g in grads.items()}
    groups = {}
    for n in grads:
        groups.setdefault(layer_of(n) if mode.endswith("PerLayer") else n, []).append(n)
    for names in groups.values():
        norm = _l2([grads[n] for n in names])
        for n in names:
            if mode.startswith("Renormalize"):
                out[n] = grads[n] / norm if norm > 0 else grads[n]
            else:
                out[n] = grads[n] * (threshold / norm) if norm > threshold else grads[n]
    return out


MODES = ["RenormalizeL2PerLayer", "RenormalizeL2PerParamType", "ClipElementWiseAbsoluteValue", "ClipL2PerLayer",
         "ClipL2PerParamType"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("threshold", [0.5, 3.0])
def test_gradient_normalization_matches_dl4j(mode, threshold):
    params, grads = random_case(3, steps=4)
    # plain SGD with lr 1: each step moves the parameters by exactly the normalized gradient
    opt = O.SGD(learning_rate=1.0, gradient_normalization=O.GradientNormalization(mode, threshold))
    runner = UpdateRunner(opt, params)
    for g in grads:
        before = {n: v.copy() for n, v in runner.params.items()}
        after = runner.step(g)
        want = dl4j_normalize(mode, g, threshold, lambda n: n.rsplit("/", 1)[0])
        assert_close({n: before[n] - after[n] for n in g}, want, rtol=1e-5, atol=1e-6, what=mode)


def test_layers_given_by_a_mapping_and_zero_gradients():
    params, grads = random_case(4, steps=2)
    layers = {"dense/kernel": "a", "dense/bias": "b", "conv/kernel": "a"}
    opt = O.SGD(learning_rate=1.0, gradient_normalization=O.GradientNormalization("ClipL2PerLayer", 1.0, layers))
    runner = UpdateRunner(opt, params)
    before = {n: v.copy() for n, v in runner.params.items()}
    after = runner.step(grads[0])
    want = dl4j_normalize("ClipL2PerLayer", grads[0], 1.0, layers.get)
    assert_close({n: before[n] - after[n] for n in params}, want)
    # a zero gradient stays zero (no 0/0) under renormalization
    zero = {n: np.zeros_like(v) for n, v in params.items()}
    renorm = UpdateRunner(O.SGD(learning_rate=1.0, gradient_normalization="RenormalizeL2PerLayer"), params)
    assert_close(renorm.step(zero), params, rtol=0, atol=0)


def test_l1_l2_and_weight_decay_with_dl4j_semantics():
    params, grads = random_case(8, steps=6)
    reg = O.Regularization(l1=0.01, l2=0.05, l1_bias=0.002, l2_bias=0.0, weight_decay=0.1, weight_decay_bias=0.0)
    lr = 0.1
    runner = UpdateRunner(O.SGD(learning_rate=lr, regularization=reg), params)
    ref = {n: v.astype(np.float64) for n, v in params.items()}
    for g in grads:
        for n, w in ref.items():
            bias = n.endswith("bias")
            l1, l2, wd = (0.002, 0.0, 0.0) if bias else (0.01, 0.05, 0.1)
            grad = g[n] + l2 * w + l1 * np.sign(w)  # before the updater
            ref[n] = w - wd * lr * w - lr * grad  # WeightDecay(applyLR=true), after
        assert_close(runner.step(g), ref, rtol=1e-5, atol=1e-6)


def test_regularization_after_normalization_and_bias_by_list():
    """DL4J normalizes the raw gradients, then adds L1/L2; `is_bias` picks the biases by name."""
    params, grads = random_case(9, steps=3)
    reg = O.Regularization(l2=0.5, l2_bias=0.0, is_bias=["conv/kernel"])
    norm = O.GradientNormalization("ClipL2PerParamType", 0.5)
    runner = UpdateRunner(O.SGD(learning_rate=0.1, regularization=reg, gradient_normalization=norm), params)
    ref = {n: v.astype(np.float64) for n, v in params.items()}
    for g in grads:
        ng = dl4j_normalize("ClipL2PerParamType", g, 0.5, None)
        ref = {n: w - 0.1 * (ng[n] + (0.0 if n == "conv/kernel" else 0.5) * w) for n, w in ref.items()}
        assert_close(runner.step(g), ref, rtol=1e-5, atol=1e-6)


def test_weight_decay_without_learning_rate():
    params, grads = random_case(10, steps=3)
    reg = O.Regularization(weight_decay=0.2, apply_lr=False)
    runner = UpdateRunner(O.SGD(learning_rate=0.1, regularization=reg), params)
    ref = {n: v.astype(np.float64) for n, v in params.items()}
    for g in grads:
        ref = {n: w - (0.0 if n.endswith("bias") else 0.2) * w - 0.1 * g[n] for n, w in ref.items()}
        assert_close(runner.step(g), ref, rtol=1e-5, atol=1e-6)


def _sgd_reference(params, grads, lr_at, mu_at, nesterov):
    """Keras's SGD rule with per-step learning rate and momentum."""
    p = {n: v.astype(np.float64) for n, v in params.items()}
    v = {n: np.zeros_like(x) for n, x in p.items()}
    history = []
    for i, g in enumerate(grads):
        lr, mu = lr_at(i), mu_at(i)
        for n in p:
            v[n] = mu * v[n] - lr * g[n]
            p[n] = p[n] + (mu * v[n] - lr * g[n] if nesterov else v[n])
        history.append({n: x.copy() for n, x in p.items()})
    return history


def test_step_schedule_and_momentum_after_map():
    params, grads = random_case(12)
    lr = O.StepSchedule(0.1, 0.5, 4)
    momentum = O.MapSchedule({5: 0.5, 12: 0.95}, initial=0.9)  # DL4J's momentumAfter with momentum 0.9
    runner = UpdateRunner(O.dl4j("Nesterovs", learningRate=lr, momentumSchedule=momentum), params)
    expected = _sgd_reference(params, grads, lambda i: 0.1 * 0.5 ** (i // 4),
                              lambda i: 0.9 if i < 5 else (0.5 if i < 12 else 0.95), nesterov=True)
    for i, g in enumerate(grads):
        assert_close(runner.step(g), expected[i], what=f"step {i}")


def test_map_schedule_by_epoch():
    params, grads = random_case(13, steps=9)
    sched = O.MapSchedule({0: 0.1, 1: 0.03, 2: 0.01}, schedule_type="epoch")
    runner = UpdateRunner(O.SGD(learning_rate=sched), params, epoch_input=True)
    expected = _sgd_reference(params, grads, lambda i: [0.1, 0.03, 0.01][i // 3], lambda i: 0.0, False)
    for i, g in enumerate(grads):
        assert_close(runner.step(g, epoch=i // 3), expected[i], what=f"step {i}")
    with pytest.raises(O.ScheduleError, match="epoch"):
        UpdateRunner(O.SGD(learning_rate=sched), params)
    # momentum by epoch too
    mu = O.MapSchedule({0: 0.9, 2: 0.5}, schedule_type="epoch")
    runner = UpdateRunner(O.SGD(learning_rate=0.1, momentum=mu, nesterov=True), params, epoch_input=True)
    expected = _sgd_reference(params, grads, lambda i: 0.1, lambda i: 0.9 if i < 6 else 0.5, True)
    for i, g in enumerate(grads):
        assert_close(runner.step(g, epoch=i // 3), expected[i], what=f"momentum step {i}")


@pytest.mark.parametrize("name,cls,expected", [
    ("Sgd", O.SGD, {"learning_rate": 1e-3, "momentum": 0.0}),
    ("Nesterovs", O.SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("AdaGrad", O.AdaGrad, {"learning_rate": 0.1, "epsilon": 1e-6}),
    ("RmsProp", O.RmsProp, {"learning_rate": 0.1, "rho": 0.95, "epsilon": 1e-8}),
    ("AdaDelta", O.Adadelta, {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6}),
    ("Adam", O.Adam, {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}),
    ("AdaMax", O.AdaMax, {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}),
    ("Nadam", dl4j_updaters.Nadam, {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}),
])
def test_dl4j_names_and_defaults(name, cls, expected):
    for opt in (O.dl4j(name), O.get(O.Updater[name.upper()]), O.dl4j(f"org.nd4j.linalg.learning.config.{name}")):
        assert type(opt) is cls
        config = opt.get_config()
        assert {k: config[k] for k in expected} == expected
    assert O.dl4j(name, learningRate=0.5).learning_rate == 0.5


def dl4j_reference(name, params, grads, lr, b1=0.9, b2=0.999, eps=None):
    """DL4J's updaters (AdaGradUpdater, RmsPropUpdater, AdaMaxUpdater, NadamUpdater, AdamUpdater,
    AdaDeltaUpdater) in float64, as their Java source writes them; DL4J then subtracts the update."""
    p = {n: v.astype(np.float64) for n, v in params.items()}
    st = {n: {} for n in p}
    out = []
    for i, g in enumerate(grads):
        t = i + 1
        for n, w in p.items():
            x, a = g[n].astype(np.float64), st[n]
            if name == "AdaGrad":
                a["h"] = a.get("h", np.full_like(w, eps)) + x * x
                u = lr * x / (np.sqrt(a["h"]) + eps)
            elif name == "RmsProp":
                a["G"] = 0.95 * a.get("G", np.full_like(w, eps)) + 0.05 * x * x
                u = lr * x / (np.sqrt(a["G"]) + eps)
            elif name == "AdaMax":
                a["m"] = b1 * a.get("m", 0 * w) + (1 - b1) * x
                a["u"] = np.maximum(b2 * a.get("u", 0 * w), np.abs(x))
                u = a["m"] * (lr / (1 - b1 ** t)) / (a["u"] + 1e-32)
            elif name == "Nadam":
                a["m"] = b1 * a.get("m", 0 * w) + (1 - b1) * x
                a["v"] = b2 * a.get("v", 0 * w) + (1 - b2) * x * x
                u = lr * (b1 * a["m"] / (1 - b1 ** t) + (1 - b1) * x / (1 - b1 ** t)) / (np.sqrt(a["v"]) + eps)
            elif name == "Adam":
                a["m"] = b1 * a.get("m", 0 * w) + (1 - b1) * x
                a["v"] = b2 * a.get("v", 0 * w) + (1 - b2) * x * x
                u = a["m"] * (lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)) / (np.sqrt(a["v"]) + eps)
            else:  # AdaDelta
                a["msg"] = 0.95 * a.get("msg", 0 * w) + 0.05 * x * x
                u = np.sqrt(a.get("msdx", 0 * w) + eps) / np.sqrt(a["msg"] + eps) * x
                a["msdx"] = 0.95 * a.get("msdx", 0 * w) + 0.05 * u * u
            p[n] = w - u
        out.append({n: w.copy() for n, w in p.items()})
    return out


@pytest.mark.parametrize("name,lr,eps", [("AdaGrad", 0.1, 1e-6), ("RmsProp", 0.1, 1e-8), ("AdaMax", 1e-3, None),
                                         ("Nadam", 1e-3, 1e-8), ("Adam", 1e-3, 1e-8), ("AdaDelta", 1.0, 1e-6)])
def test_dl4j_rules_match_dl4j_source(name, lr, eps):
    params, grads = random_case(40)
    expected = dl4j_reference(name, params, grads, lr, eps=eps)
    runner = UpdateRunner(O.dl4j(name), params)
    for i, g in enumerate(grads):
        assert_close(runner.step(g), expected[i], rtol=1e-5, atol=1e-6, what=f"{name} step {i}")
