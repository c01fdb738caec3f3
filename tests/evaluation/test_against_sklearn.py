"""Evaluation, RegressionEvaluation and ROC against scikit-learn's metrics on random data, fed in
batches, including the edge cases (a class never predicted or never present, ties, one sample)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphc.errors import GraphcError
from graphc.evaluation import ROC, Evaluation, RegressionEvaluation, ROCMultiClass, roc_curve

metrics = pytest.importorskip("sklearn.metrics")


def _batches(n, k, rng):
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(k, n - 1), replace=False)) if n > 1 else []
    return np.split(np.arange(n), cuts)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 80), c=st.integers(2, 6), seed=st.integers(0, 10**6), onehot=st.booleans(),
       batches=st.integers(1, 5))
def test_classification_matches_sklearn(n, c, seed, onehot, batches):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    probs = rng.dirichlet(np.ones(c), n)
    probs[:, c - 1] = 0  # the last class is never predicted (unless a row is all ties)
    pred = probs.argmax(1)
    ev = Evaluation(n_classes=c)
    for idx in _batches(n, batches, rng):
        ev.eval(np.eye(c)[y[idx]] if onehot else y[idx], probs[idx])
    labels = list(range(c))
    np.testing.assert_array_equal(ev.confusion_matrix(), metrics.confusion_matrix(y, pred, labels=labels))
    assert ev.accuracy() == pytest.approx(metrics.accuracy_score(y, pred))
    for avg in ("macro", "micro", "weighted"):
        kw = dict(labels=labels, average=avg, zero_division=0)
        assert ev.precision(average=avg) == pytest.approx(metrics.precision_score(y, pred, **kw))
        assert ev.recall(average=avg) == pytest.approx(metrics.recall_score(y, pred, **kw))
        assert ev.f1(average=avg) == pytest.approx(metrics.f1_score(y, pred, **kw))
    per = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    for k in range(c):
        assert (ev.precision(k), ev.recall(k), ev.f1(k)) == pytest.approx((per[0][k], per[1][k], per[2][k]))
    assert any("never predicted" in t for t in ev.notes())


def test_dl4j_macro_leaves_undefined_classes_out():
    y, pred = np.array([0, 1, 1, 0, 2]), np.array([0, 1, 0, 0, 1])  # class 2 is never predicted
    zero, excl = Evaluation(3).eval(y, pred), Evaluation(3, undefined="exclude").eval(y, pred)
    assert zero.precision(2) == 0.0
    assert zero.precision() == pytest.approx(metrics.precision_score(y, pred, average="macro", zero_division=0))
    assert excl.precision() == pytest.approx(np.mean([2 / 3, 1 / 2]))
    assert "class 2 was never predicted: its precision is undefined, counted as 0" in zero.stats()


def test_binary_sigmoid_column_and_time_series_mask():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (20, 1)).astype(np.float32)
    p = rng.random((20, 1)).astype(np.float32)
    ev = Evaluation().eval(y, p)
    np.testing.assert_array_equal(ev.confusion_matrix(), metrics.confusion_matrix(y[:, 0], p[:, 0] >= 0.5))
    # (batch, time, classes) with a mask over steps
    yt, pt = rng.integers(0, 3, (4, 5)), rng.random((4, 5, 3))
    mask = rng.random((4, 5)) < 0.6
    ev = Evaluation(3).eval(np.eye(3)[yt], pt, mask=mask)
    np.testing.assert_array_equal(ev.confusion_matrix(),
                                  metrics.confusion_matrix(yt[mask], pt.argmax(-1)[mask], labels=[0, 1, 2]))


def test_stats_report_and_merge():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 3, 50), rng.random((50, 3))
    a = Evaluation(labels=["cat", "dog", "eel"]).eval(y[:20], p[:20])
    b = Evaluation(labels=["cat", "dog", "eel"]).eval(y[20:], p[20:])
    a.merge(b)
    whole = Evaluation(labels=["cat", "dog", "eel"]).eval(y, p)
    np.testing.assert_array_equal(a.confusion_matrix(), whole.confusion_matrix())
    text = whole.stats()
    assert f"Accuracy:        {metrics.accuracy_score(y, p.argmax(1)):.4f}" in text
    assert "Confusion Matrix" in text and "eel" in text and "# of samples:    50" in text


def test_evaluation_errors():
    with pytest.raises(GraphcError, match="nothing evaluated"):
        Evaluation().accuracy()
    with pytest.raises(GraphcError, match=r"labels of shape \(3,\) do not fit predictions of shape \(4, 2\)"):
        Evaluation().eval(np.zeros(3), np.zeros((4, 2)))
    with pytest.raises(GraphcError, match="4 columns, expected 3"):
        Evaluation(3).eval(np.zeros(2), np.zeros((2, 4)))
    with pytest.raises(GraphcError, match="out of range for 2 classes"):
        Evaluation(2).eval(np.array([0, 5]), np.array([0, 1]))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 60), cols=st.integers(1, 4), seed=st.integers(0, 10**6), batches=st.integers(1, 4),
       offset=st.sampled_from([0.0, 1e4]))
def test_regression_matches_sklearn(n, cols, seed, batches, offset):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, cols)) + offset
    p = y + rng.normal(scale=0.5, size=(n, cols))
    ev, parts = RegressionEvaluation(), []
    for idx in _batches(n, batches, rng):
        ev.eval(y[idx], p[idx])
        parts.append(RegressionEvaluation().eval(y[idx], p[idx]))
    merged = parts[0]
    for e in parts[1:]:
        merged.merge(e)
    for e in (ev, merged):
        np.testing.assert_allclose(e.mean_squared_error(), metrics.mean_squared_error(y, p, multioutput="raw_values"),
                                   rtol=1e-9)
        np.testing.assert_allclose(e.mean_absolute_error(),
                                   metrics.mean_absolute_error(y, p, multioutput="raw_values"), rtol=1e-9)
        np.testing.assert_allclose(e.root_mean_squared_error(),
                                   np.sqrt(metrics.mean_squared_error(y, p, multioutput="raw_values")), rtol=1e-9)
        np.testing.assert_allclose(e.r_squared(), metrics.r2_score(y, p, multioutput="raw_values"), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(e.relative_squared_error(), 1 - metrics.r2_score(y, p, multioutput="raw_values"),
                                   rtol=1e-6, atol=1e-9)
        want_r = [np.corrcoef(y[:, j], p[:, j])[0, 1] for j in range(cols)]
        np.testing.assert_allclose(e.pearson_correlation(), want_r, rtol=1e-6, atol=1e-9)
    assert ev.average("mean_squared_error") == pytest.approx(metrics.mean_squared_error(y, p))
    assert "RMSE" in ev.stats()


def test_regression_constant_column_and_errors():
    ev = RegressionEvaluation().eval(np.ones((5, 1)), np.arange(5.0)[:, None])
    assert np.isnan(ev.r_squared(0)) and ev.mean_absolute_error(0) == pytest.approx(1.4)
    with pytest.raises(GraphcError, match="do not fit"):
        RegressionEvaluation().eval(np.zeros((3, 2)), np.zeros((3, 3)))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 100), seed=st.integers(0, 10**6), ties=st.booleans(), batches=st.integers(1, 4))
def test_binary_roc_matches_sklearn(n, seed, ties, batches):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.random(n)
    if ties:
        s = np.round(s * 4) / 4
    roc = ROC()
    for idx in _batches(n, batches, rng):
        roc.eval(y[idx], s[idx][:, None])
    if y.min() == y.max():
        assert np.isnan(roc.auc())
        return
    assert roc.auc() == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)
    assert roc.auprc() == pytest.approx(metrics.average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc.roc_curve()
    want = metrics.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, want[0])
    np.testing.assert_allclose(tpr, want[1])
    np.testing.assert_allclose(thr[1:], want[2][1:])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(6, 80), c=st.integers(3, 5), seed=st.integers(0, 10**6), onehot=st.booleans())
def test_multiclass_roc_one_vs_all_matches_sklearn(n, c, seed, onehot):
    rng = np.random.default_rng(seed)
    y = np.r_[np.arange(c), rng.integers(0, c, n - c)]  # every class present
    p = rng.dirichlet(np.ones(c), n)
    roc = ROCMultiClass().eval(np.eye(c)[y] if onehot else y, p)
    for k in range(c):
        assert roc.auc(k) == pytest.approx(metrics.roc_auc_score(y == k, p[:, k]), abs=1e-12)
    assert roc.average_auc() == pytest.approx(metrics.roc_auc_score(y, p, multi_class="ovr", average="macro"),
                                              abs=1e-12)


def test_roc_errors_and_one_hot_binary():
    y = np.array([0, 1, 1, 0])
    s = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    assert ROC().eval(np.eye(2)[y], s).auc() == pytest.approx(metrics.roc_auc_score(y, s[:, 1]))
    with pytest.raises(GraphcError, match="labels must be 0 or 1"):
        ROC().eval(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(GraphcError, match="nothing evaluated"):
        ROC().auc()
    fpr, tpr, _ = roc_curve([0, 1], [0.5, 0.5])
    assert fpr.tolist() == [0, 1] and tpr.tolist() == [0, 1]
