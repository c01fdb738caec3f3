"""Normalization ops against ONNX's inference and ONNX Runtime."""
import numpy as np
import pytest

from graphc.errors import ShapeError
from tests.ops import Case, T, cases, check, graphc_types

C = T((3,))
X = T((2, 3, 4, 5))

NORMS = cases(
    Case("BatchNormalization", [X, C, C, C, C]),
    Case("BatchNormalization", [T(("batch", 3, 4)), C, C, C, C], id="symbolic"),
    Case("BatchNormalization", [X, C, C, C, C], {"training_mode": 1}, n_outputs=3, id="training"),
    Case("BatchNormalization", [X, C, C, C, C], {"training_mode": 1}, n_outputs=3, opset=14, id="training-14"),
    Case("BatchNormalization", [X, C, C, C, C], n_outputs=5, opset=9, run=None, refines=True,
         id="opset9-five-outputs"),
    Case("LayerNormalization", [X, T((5,))]),
    Case("LayerNormalization", [X, T((4, 5)), T((4, 5))], {"axis": -2}, n_outputs=3, id="three-outputs"),
    Case("LayerNormalization", [T(("batch", "seq", 8)), T((8,))], {"axis": 2}, n_outputs=3, id="symbolic"),
    Case("LayerNormalization", [X, T((3, 4, 5))], {"axis": 1}, n_outputs=3, id="axis1"),
    Case("LayerNormalization", [T((2, 4), np.float16), T((4,), np.float16)], n_outputs=3, id="fp16-stash"),
    Case("LayerNormalization", [T((2, 4), np.float16), T((4,), np.float16)], {"stash_type": 10},
         n_outputs=3, run=None, id="fp16-stash-fp16"),
    Case("InstanceNormalization", [X, C, C]),
    # ONNX infers nothing for GroupNormalization, a function op
    Case("GroupNormalization", [T((2, 4, 5, 5)), T((4,)), T((4,))], {"num_groups": 2}, refines=True),
    Case("GroupNormalization", [T((2, 4, 5, 5)), T((2,)), T((2,))], {"num_groups": 2}, opset=18, run=None,
         refines=True),
    Case("LpNormalization", [X], {"axis": 1, "p": 1}),
    Case("MeanVarianceNormalization", [X], {"axes": [0, 2, 3]}),
    Case("LRN", [X], {"size": 3}),
)


@pytest.mark.parametrize("case", NORMS)
def test_matches_onnx(case):
    check(case)


def test_channels_must_agree():
    with pytest.raises(ShapeError):
        graphc_types(Case("BatchNormalization", [X, C, C, T((4,)), C]))


def test_unknown_rank_degrades():
    y, mean, inv = graphc_types(Case("LayerNormalization", [T(None), T((5,))], n_outputs=3))
    assert y.shape is None and mean.shape is None and mean.dtype == np.float32
    y, mean, var = graphc_types(Case("BatchNormalization", [T(None), C, C, C, C], n_outputs=3))
    assert y.shape is None and mean.shape == var.shape == (3,)
