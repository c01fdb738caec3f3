"""DL4J's loss functions against numpy transcriptions of DL4J 0.9's ILossFunction classes (the one
`LossFunctions.LossFunction.getILossFunction` gives each member), and their gradients by graphc.gradcheck.

DL4J's score of a mini-batch (`computeScore(..., average=true)`) is the sum of `scoreArray` over the
outputs and the examples, over the number of examples: Keras's `sum_over_batch_size` of the per-example
sums."""
from __future__ import annotations

import numpy as np
import pytest

from graphc import losses
from graphc.gradcheck import check_gradients
from graphc.ir import Graph
from graphc.nn.base import Emitter
from graphc.types import TensorType
from tests.losses.helpers import run_loss

L = losses.LossFunction
EPS_THRESHOLD = 1e-5  # Nd4j.EPS_THRESHOLD


def _softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# scoreArray of each DL4J class, per element or per example (before the sum over outputs and examples)
def mse(y, p):  # LossMSE: LossL2's score over the number of outputs
    return (y - p) ** 2 / y.shape[-1]


def l2(y, p):  # LossL2
    return (y - p) ** 2


def l1(y, p):  # LossL1
    return np.abs(y - p)


def mae(y, p):  # LossMAE: LossL1's score over the number of outputs
    return np.abs(y - p) / y.shape[-1]


def cosine(y, p):  # LossCosineProximity: -(y . p) / (||y|| ||p||), per example
    return -(y * p).sum(-1, keepdims=True) / (np.linalg.norm(y, axis=-1, keepdims=True)
                                              * np.linalg.norm(p, axis=-1, keepdims=True))


def hinge(y, p):  # LossHinge: max(0, 1 - y * p), labels -1/1
    return np.maximum(0.0, 1.0 - y * p)


def squared_hinge(y, p):  # LossSquaredHinge
    return np.maximum(0.0, 1.0 - y * p) ** 2


def kld(y, p):  # LossKLD: labels and outputs clipped to [EPS_THRESHOLD, 1], then y * log(y / p)
    y, p = np.clip(y, EPS_THRESHOLD, 1.0), np.clip(p, EPS_THRESHOLD, 1.0)
    return y * np.log(y / p)


def poisson(y, p):  # LossPoisson: p - y * log(p)
    return p - y * np.log(p)


def _data(kind, rng, shape=(5, 4)):
    if kind == "real":
        y = rng.standard_normal(shape)
        return y, y + rng.choice([-1, 1], shape) * rng.uniform(0.1, 1.0, shape)  # |y - p| >= 0.1: no kink
    if kind == "signed":
        y = rng.choice([-1.0, 1.0], shape)
        return y, y * rng.choice([-1, 1], shape) * rng.uniform(0.2, 0.8, shape)  # 1 - y p in [0.2, 1.8]
    if kind == "probs":  # soft labels with zeros (the clip at 1e-5 counts), outputs inside (0, 1)
        y = _softmax(rng.standard_normal(shape) * 2)
        y[rng.random(shape) < 0.3] = 0.0
        return y, _softmax(rng.standard_normal(shape))
    y = rng.poisson(2.0, shape).astype(np.float64)  # counts, positive rates
    return y, rng.uniform(0.5, 4.0, shape)


CASES = [  # (member, its graphc class, the DL4J class's scoreArray, data)
    (L.MSE, losses.MeanSquaredError, mse, "real"),
    (L.SQUARED_LOSS, losses.SquaredLoss, mse, "real"),
    (L.L2, losses.L2, l2, "real"),
    (L.L1, losses.L1, l1, "real"),
    (L.MEAN_ABSOLUTE_ERROR, losses.MeanAbsoluteError, mae, "real"),
    (L.COSINE_PROXIMITY, losses.CosineSimilarity, cosine, "real"),
    (L.HINGE, losses.LossHinge, hinge, "signed"),
    (L.SQUARED_HINGE, losses.LossSquaredHinge, squared_hinge, "signed"),
    (L.KL_DIVERGENCE, losses.LossKLD, kld, "probs"),
    (L.RECONSTRUCTION_CROSSENTROPY, losses.ReconstructionCrossEntropy, kld, "probs"),
    (L.EXPLL, losses.EXPLL, poisson, "counts"),
    (L.POISSON, losses.LossPoisson, poisson, "counts"),
]
IDS = [c[0].name for c in CASES]


@pytest.mark.parametrize("member,cls,score_array,kind", CASES, ids=IDS)
def test_dl4j_score_equals_the_dl4j_formula(member, cls, score_array, kind):
    loss = losses.get(member)
    assert type(loss) is cls and losses.get(member.name).get_config() == loss.get_config()
    rng = np.random.default_rng(len(member.name))
    y, p = _data(kind, rng)
    want = score_array(y, p).sum() / len(y)  # computeScore(average=true)
    got, _ = run_loss(loss, y.astype(np.float32), p.astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)  # float32 (LossPoisson here: log(p + 1e-7))
    summed, _ = run_loss(losses.get(member, reduction="sum"), y.astype(np.float32), p.astype(np.float32))
    np.testing.assert_allclose(summed, want * len(y), rtol=2e-5, atol=1e-5)  # mini_batch(False): not averaged


@pytest.mark.parametrize("member,cls,score_array,kind", CASES, ids=IDS)
def test_dl4j_loss_gradients_check(member, cls, score_array, kind):
    y, p = _data(kind, np.random.default_rng(100 + len(member.name)), (3, 4))
    g = Graph("loss")
    yt = g.add_input("y_true", TensorType(np.float32, (3, 4)))
    yp = g.add_input("y_pred", TensorType(np.float32, (3, 4)))
    out = losses.get(member)(Emitter(g), yt, yp)
    g.add_output("loss", out)
    result = check_gradients(g, out, feeds={"y_true": y, "y_pred": p}, wrt=["y_pred"])
    assert result.passed, result.report()


def test_dl4j_names_are_distinct_members_and_differ_from_keras_where_dl4j_does():
    assert len({m.value for m in L}) == len(L)  # no member is an alias: a configuration keeps its name
    rng = np.random.default_rng(3)
    y, p = _data("signed", rng)
    y, p = y.astype(np.float32), p.astype(np.float32)
    keras_hinge, _ = run_loss(losses.get("hinge"), y, p)
    dl4j_hinge, _ = run_loss(losses.get(L.HINGE), y, p)
    np.testing.assert_allclose(dl4j_hinge, keras_hinge * y.shape[-1], rtol=1e-5)  # summed, not averaged
    y, p = (a.astype(np.float32) for a in _data("counts", rng))
    keras_poisson, _ = run_loss(losses.get("poisson"), y, p)
    np.testing.assert_allclose(run_loss(losses.get(L.EXPLL), y, p)[0], keras_poisson * y.shape[-1], rtol=1e-5)
    # an upper-case DL4J member name is DL4J's loss; Keras's names are lower case
    assert type(losses.get("HINGE")) is losses.LossHinge and type(losses.get("hinge")) is losses.Hinge
    assert type(losses.get("POISSON")) is losses.LossPoisson and type(losses.get("MSE")) is losses.MeanSquaredError
