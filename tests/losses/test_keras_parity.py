"""Every loss against real Keras 3 (`keras.losses`, torch backend) on random data, ≤ 1e-5: plain,
with per-sample weights, class weights, a sequence mask, and every reduction; hypothesis picks shapes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphc import losses
from tests.losses.helpers import run_loss

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
from keras.src.backend import set_keras_mask  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _onehot(rng, shape):
    idx = rng.integers(0, shape[-1], shape[:-1])
    return np.eye(shape[-1], dtype=np.float32)[idx]


# kind -> (labels, predictions) for a shape
DATA = {
    "real": lambda r, s: (r.normal(size=s), r.normal(size=s)),
    "positive": lambda r, s: (r.random(s) * 3, r.random(s) * 3 + 0.05),
    "nonzero": lambda r, s: (r.choice([-1, 1], s) * (r.random(s) + 0.5), r.normal(size=s)),
    "prob": lambda r, s: (_softmax(r.normal(size=s)), _softmax(r.normal(size=s))),
    "binary": lambda r, s: (r.integers(0, 2, s).astype(np.float64), r.uniform(0.01, 0.99, s)),
    "soft_binary": lambda r, s: (r.random(s), r.uniform(0.01, 0.99, s)),
    "binary_logits": lambda r, s: (r.integers(0, 2, s).astype(np.float64), r.normal(size=s) * 4),
    "signed": lambda r, s: (r.choice([-1.0, 1.0], s), r.normal(size=s)),
    "onehot": lambda r, s: (_onehot(r, s), _softmax(r.normal(size=s))),
    "unnormalized": lambda r, s: (_onehot(r, s), r.uniform(0.05, 2.0, s)),
    "onehot_logits": lambda r, s: (_onehot(r, s), r.normal(size=s) * 3),
}

# (graphc identifier, Keras loss factory, data kind, factor: graphc = factor(n_out) * Keras)
CASES = [
    ("mse", lambda: keras.losses.MeanSquaredError(), "real", None),
    ("mae", lambda: keras.losses.MeanAbsoluteError(), "real", None),
    ("mape", lambda: keras.losses.MeanAbsolutePercentageError(), "nonzero", None),
    ("msle", lambda: keras.losses.MeanSquaredLogarithmicError(), "positive", None),
    ({"class_name": "Huber", "config": {"delta": 0.7}}, lambda: keras.losses.Huber(delta=0.7), "real", None),
    ("log_cosh", lambda: keras.losses.LogCosh(), "real", None),
    ("cosine_similarity", lambda: keras.losses.CosineSimilarity(), "real", None),
    ("poisson", lambda: keras.losses.Poisson(), "positive", None),
    ("kld", lambda: keras.losses.KLDivergence(), "prob", None),
    ("hinge", lambda: keras.losses.Hinge(), "binary", None),
    ("hinge", lambda: keras.losses.Hinge(), "signed", None),
    ("squared_hinge", lambda: keras.losses.SquaredHinge(), "binary", None),
    ("categorical_hinge", lambda: keras.losses.CategoricalHinge(), "onehot", None),
    ("binary_crossentropy", lambda: keras.losses.BinaryCrossentropy(), "binary", None),
    ({"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 0.2}},
     lambda: keras.losses.BinaryCrossentropy(label_smoothing=0.2), "soft_binary", None),
    ({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}},
     lambda: keras.losses.BinaryCrossentropy(from_logits=True), "binary_logits", None),
    ("categorical_crossentropy", lambda: keras.losses.CategoricalCrossentropy(), "unnormalized", None),
    ({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True, "label_smoothing": 0.1}},
     lambda: keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), "onehot_logits", None),
    # DL4J names
    (losses.LossFunction.MCXENT, lambda: keras.losses.CategoricalCrossentropy(), "onehot", None),
    ("NEGATIVELOGLIKELIHOOD", lambda: keras.losses.CategoricalCrossentropy(), "onehot", None),
    ("LossFunction.XENT", lambda: keras.losses.BinaryCrossentropy(), "binary", lambda n: n),
    (losses.LossFunction.RMSE_XENT, lambda: keras.losses.MeanAbsoluteError(), "real", lambda n: n),
    (losses.LossFunction.L1, lambda: keras.losses.MeanAbsoluteError(), "real", lambda n: n),
    (losses.LossFunction.L2, lambda: keras.losses.MeanSquaredError(), "real", lambda n: n),
    (losses.LossFunction.COSINE_PROXIMITY, lambda: keras.losses.CosineSimilarity(), "real", None),
]
IDS = [f"{c[0] if isinstance(c[0], str) else getattr(c[0], 'name', None) or c[0]['class_name']}-{c[2]}"
       for c in CASES]


def _keras(kloss, yt, yp, sample_weight=None, mask=None):
    t, p = torch.tensor(yt), torch.tensor(yp)
    if mask is not None:
        set_keras_mask(p, torch.tensor(mask.astype(bool)))
    sw = None if sample_weight is None else torch.tensor(sample_weight)
    return np.asarray(kloss(t, p, sample_weight=sw).detach().numpy())


def _data(kind, shape, seed):
    yt, yp = DATA[kind](np.random.default_rng(seed), shape)
    return yt.astype(np.float32), yp.astype(np.float32)


@pytest.mark.parametrize("ident,kfactory,kind,factor", CASES, ids=IDS)
@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 6), n=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_matches_keras(ident, kfactory, kind, factor, batch, n, seed):
    yt, yp = _data(kind, (batch, n), seed)
    got, g = run_loss(losses.get(ident), yt, yp)
    want = _keras(kfactory(), yt, yp) * (factor(n) if factor else 1)
    np.testing.assert_allclose(got, want, **TOL)
    assert "ArgMax" not in g.op_counts() and "Where" not in g.op_counts()


@pytest.mark.parametrize("ident,kfactory,kind,factor", CASES[:18], ids=IDS[:18])
def test_sample_weights_and_mask_over_time(ident, kfactory, kind, factor):
    rng = np.random.default_rng(7)
    yt, yp = _data(kind, (4, 5, 3), 7)  # (batch, time, features)
    sw = rng.random((4, 5)).astype(np.float32)
    mask = (rng.random((4, 5)) < 0.7).astype(np.float32)
    np.testing.assert_allclose(run_loss(losses.get(ident), yt, yp, sample_weight=sw)[0],
                               _keras(kfactory(), yt, yp, sample_weight=sw), **TOL)
    np.testing.assert_allclose(run_loss(losses.get(ident), yt, yp, mask=mask)[0],
                               _keras(kfactory(), yt, yp, mask=mask), **TOL)
    np.testing.assert_allclose(run_loss(losses.get(ident), yt, yp, sample_weight=sw, mask=mask)[0],
                               _keras(kfactory(), yt, yp, sample_weight=sw, mask=mask), **TOL)


@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size", "mean", "mean_with_sample_weight", "none"])
def test_reductions(reduction):
    yt, yp = _data("real", (6, 4), 3)
    sw = np.random.default_rng(3).random(6).astype(np.float32)
    got = run_loss(losses.MeanSquaredError(reduction=reduction), yt, yp, sample_weight=sw)[0]
    want = _keras(keras.losses.MeanSquaredError(reduction=reduction), yt, yp, sample_weight=sw)
    np.testing.assert_allclose(got, want, **TOL)


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 6), n=st.integers(2, 6), time=st.sampled_from([None, 3]), logits=st.booleans(),
       trailing_one=st.booleans(), seed=st.integers(0, 2**16))
def test_sparse_categorical(batch, n, time, logits, trailing_one, seed):
    rng = np.random.default_rng(seed)
    lead = (batch,) if time is None else (batch, time)
    labels = rng.integers(0, n, lead + ((1,) if trailing_one else ()))
    yp = (rng.normal(size=lead + (n,)) * 3 if logits else rng.uniform(0.05, 1, lead + (n,))).astype(np.float32)
    kl = keras.losses.SparseCategoricalCrossentropy(from_logits=logits)
    want = _keras(kl, labels.astype(np.float32), yp)
    cfg = {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": logits}}
    for lab in (labels.astype(np.int64), labels.astype(np.int32), labels.astype(np.float32)):
        np.testing.assert_allclose(run_loss(losses.get(cfg), lab, yp)[0], want, **TOL)


def test_class_weights_as_keras_fit_makes_them():
    rng = np.random.default_rng(11)
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    yt, yp = _data("onehot", (8, 3), 11)
    sw_keras = np.array([cw[int(i)] for i in yt.argmax(-1)], np.float32)  # Keras's class_weight -> sample_weight
    want = _keras(keras.losses.CategoricalCrossentropy(), yt, yp, sample_weight=sw_keras)
    np.testing.assert_allclose(run_loss(losses.get("categorical_crossentropy"), yt, yp, class_weight=cw)[0],
                               want, **TOL)
    labels = yt.argmax(-1).astype(np.int64)
    np.testing.assert_allclose(run_loss(losses.get("sparse_categorical_crossentropy"), labels, yp,
                                        class_weight=[1.0, 3.0, 0.5])[0], want, **TOL)
    # binary labels (batch, 1) index the table too; combined with per-sample weights
    yb, pb = _data("binary", (8, 1), 12)
    sw = rng.random(8).astype(np.float32)
    sw_keras = sw * np.where(yb[:, 0] > 0, 4.0, 1.0).astype(np.float32)
    np.testing.assert_allclose(run_loss(losses.BinaryCrossentropy(), yb, pb, sample_weight=sw,
                                        class_weight={0: 1.0, 1: 4.0})[0],
                               _keras(keras.losses.BinaryCrossentropy(), yb, pb, sample_weight=sw_keras), **TOL)


def test_rank_one_labels_against_column_predictions():
    yt = np.random.default_rng(1).integers(0, 2, 7).astype(np.float32)
    yp = np.random.default_rng(2).uniform(0.05, 0.95, (7, 1)).astype(np.float32)
    np.testing.assert_allclose(run_loss(losses.get("mse"), yt, yp)[0],
                               _keras(keras.losses.MeanSquaredError(), yt, yp), **TOL)


@pytest.mark.parametrize("kloss,kind", [
    (lambda: keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum"),
     "onehot_logits"),
    (lambda: keras.losses.BinaryCrossentropy(label_smoothing=0.3), "soft_binary"),
    (lambda: keras.losses.MeanSquaredError(reduction="mean_with_sample_weight"), "real"),
    (lambda: keras.losses.KLDivergence(), "prob"),
])
def test_keras_serialized_config_gives_the_same_loss(kloss, kind):
    # what a .keras file's compile_config holds: keras.losses.serialize(...)
    k = kloss()
    yt, yp = _data(kind, (5, 4), 9)
    sw = np.random.default_rng(9).random(5).astype(np.float32)
    got = run_loss(losses.get(keras.losses.serialize(k)), yt, yp, sample_weight=sw)[0]
    np.testing.assert_allclose(got, _keras(k, yt, yp, sample_weight=sw), **TOL)


# ops whose gradients are standard; label-only ops (Cast, OneHot, Equal, Or, Round, Gather of class
# weights) sit on paths that do not reach the predictions
DIFFERENTIABLE = {"Sub", "Mul", "Add", "Div", "Neg", "Abs", "Max", "Min", "Log", "Sqrt", "Softplus", "Relu",
                  "Clip", "LogSoftmax", "ReduceMean", "ReduceSum", "ReduceMax", "Squeeze", "Unsqueeze"}
LABEL_ONLY = {"Cast", "OneHot", "Equal", "Or", "ReduceMin", "Round", "Gather", "MatMul", "Shape", "Expand"}


@pytest.mark.parametrize("ident,kfactory,kind,factor", CASES, ids=IDS)
def test_o2_keeps_the_value_and_ops_are_differentiable(ident, kfactory, kind, factor):
    import networkx as nx
    import onnxruntime as ort

    from graphc import optimize
    from graphc.lower.onnx import to_onnx

    yt, yp = _data(kind, (5, 4), 1)
    want, g = run_loss(losses.get(ident), yt, yp)
    ops = set(g.op_counts()) - {"Input", "Constant"}
    assert ops <= DIFFERENTIABLE | LABEL_ONLY, ops - DIFFERENTIABLE - LABEL_ONLY
    # every op fed (directly or not) by the predictions has a standard gradient
    assert {g.op(n) for n in nx.descendants(g.nx, "y_pred")} <= DIFFERENTIABLE
    opt = optimize(g, "O2")
    opt.verify()
    sess = ort.InferenceSession(to_onnx(opt).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"y_true": yt, "y_pred": yp})[0], want, rtol=1e-6, atol=1e-7)
