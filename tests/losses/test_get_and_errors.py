"""`losses.get` by Keras string, Keras config dict and DL4J enum; bad labels/predictions are ShapeErrors."""
from __future__ import annotations

import numpy as np
import pytest

from graphc import GraphcError, losses
from graphc.errors import ShapeError
from tests.losses.helpers import run_loss


@pytest.mark.parametrize("ident,cls", [
    ("mse", losses.MeanSquaredError), ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("CategoricalCrossentropy", losses.CategoricalCrossentropy), ("logcosh", losses.LogCosh),
    (losses.LossFunction.MCXENT, losses.MCXENT), ("LossFunction.NEGATIVELOGLIKELIHOOD", losses.NegativeLogLikelihood),
    ("SPARSE_MCXENT", losses.SparseCategoricalCrossentropy), ("xent", losses.BinaryCrossentropy),
])
def test_get_by_name(ident, cls):
    # "xent" lower-case is not a Keras name, so it is read as DL4J's XENT
    got = losses.get(ident)
    assert isinstance(got, losses.XENT if ident == "xent" else cls)


def test_config_round_trip():
    loss = losses.get({"class_name": "BinaryCrossentropy",
                       "config": {"from_logits": True, "label_smoothing": 0.1, "axis": -1, "name": "bce",
                                  "reduction": "sum", "dtype": None}})
    assert (loss.from_logits, loss.label_smoothing, loss.reduction, loss.name) == (True, 0.1, "sum", "bce")
    again = losses.get({"class_name": "BinaryCrossentropy", "config": loss.get_config()})
    assert again.get_config() == loss.get_config()
    assert losses.get({"class_name": "Huber", "config": {"delta": 2.0}}).delta == 2.0


@pytest.mark.parametrize("bad", ["no_such_loss", {"class_name": "Nope", "config": {}},
                                 {"class_name": "Huber", "config": {"gamma": 1}}, 42])
def test_unknown_loss(bad):
    with pytest.raises(GraphcError):
        losses.get(bad)


def test_shape_mismatch_names_loss_and_shapes():
    yt, yp = np.zeros((4, 3), np.float32), np.zeros((4, 5), np.float32)
    with pytest.raises(ShapeError, match=r"loss 'categorical_crossentropy'.*\(None, 3\).*\(None, 5\)"):
        run_loss(losses.get("categorical_crossentropy"), yt, yp)
    with pytest.raises(ShapeError, match=r"sparse_categorical_crossentropy.*\(4, 2\).*\(4, 5\)"):
        run_loss(losses.get("sparse_categorical_crossentropy"), np.zeros((4, 2), np.int64), yp, symbolic=False)


def test_dtype_mismatch():
    with pytest.raises(ShapeError, match=r"mean_squared_error.*floating point.*int64"):
        run_loss(losses.get("mse"), np.zeros((2, 3), np.float32), np.zeros((2, 3), np.int64))
    with pytest.raises(ShapeError, match="labels of dtype"):
        run_loss(losses.get("mse"), np.array([["a"] * 3] * 2), np.zeros((2, 3), np.float32))


def test_class_weight_count_must_match():
    yt = np.eye(3, dtype=np.float32)
    with pytest.raises(ShapeError, match="class_weight has 2 entries for 3 classes"):
        run_loss(losses.get("categorical_crossentropy"), yt, yt, class_weight=[1.0, 2.0])


def test_bad_reduction():
    with pytest.raises(ShapeError, match="reduction 'avg'"):
        losses.MeanSquaredError(reduction="avg")


def test_combine_with_loss_weights():
    import onnxruntime as ort

    from graphc.ir import Graph
    from graphc.lower.onnx import to_onnx
    from graphc.nn.base import Emitter
    from graphc.types import TensorType

    rng = np.random.default_rng(0)
    data = {k: rng.random((4, 3)).astype(np.float32) for k in ("t1", "p1", "t2", "p2")}
    g = Graph("two_outputs")
    v = {k: g.add_input(k, TensorType(np.float32, ("batch", 3))) for k in data}
    em = Emitter(g)
    l1 = losses.get("mse")(em, v["t1"], v["p1"])
    l2 = losses.get("mae")(em, v["t2"], v["p2"])
    g.add_output("by_list", losses.combine(em, [l1, l2], [0.3, 2.0]))
    g.add_output("by_name", losses.combine(em, {"a": l1, "b": l2}, {"b": 0.5}))
    got = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"]).run(None, data)
    mse = np.mean((data["t1"] - data["p1"]) ** 2)
    mae = np.mean(np.abs(data["t2"] - data["p2"]))
    np.testing.assert_allclose(got, [0.3 * mse + 2.0 * mae, mse + 0.5 * mae], rtol=1e-6)
    with pytest.raises(GraphcError, match="1 loss_weights for 2 outputs"):
        losses.combine(em, [l1, l2], [1.0])
    with pytest.raises(GraphcError, match="do not name the outputs"):
        losses.combine(em, {"a": l1}, {"z": 1.0})


def test_weights_and_mask_given_as_arrays_become_constants():
    import onnxruntime as ort

    from graphc.ir import Graph
    from graphc.lower.onnx import to_onnx
    from graphc.nn.base import Emitter
    from graphc.types import TensorType

    rng = np.random.default_rng(4)
    yt, yp = rng.random((3, 2)).astype(np.float32), rng.random((3, 2)).astype(np.float32)
    sw, mask = np.array([0.5, 2.0, 1.0]), np.array([1, 0, 1])
    g = Graph()
    t, p = g.add_input("t", TensorType(np.float32, (3, 2))), g.add_input("p", TensorType(np.float32, (3, 2)))
    em = Emitter(g)
    g.add_output("l", losses.get("mse")(em, t, p, sample_weight=sw, mask=mask))
    got = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"t": yt, "p": yp})[0]
    per = ((yt - yp) ** 2).mean(1) * sw * mask * (3 / 2)  # kept rows rescaled: 3 values, 2 kept
    np.testing.assert_allclose(got, per.mean(), rtol=1e-6)
