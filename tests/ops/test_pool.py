"""Pooling ops against ONNX's inference and ONNX Runtime."""
import numpy as np
import pytest

from graphc.errors import ShapeError
from tests.ops import Case, T, cases, check, graphc_types

X = T((2, 3, 9, 10))

WINDOWED = cases(*[
    Case(op, [X], {"kernel_shape": [3, 3], **attrs}, opset=opset)
    for op, opset in (("MaxPool", 21), ("AveragePool", 21), ("LpPool", 21), ("MaxPool", 11), ("AveragePool", 11))
    for attrs in (
        {},
        {"strides": [2, 2]},
        {"strides": [2, 3], "pads": [1, 0, 1, 1]},
        {"strides": [2, 2], "ceil_mode": 1},
        {"strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
        {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
        {"auto_pad": "SAME_LOWER", "strides": [2, 3]},
        {"auto_pad": "VALID", "strides": [2, 2]},
        {"dilations": [2, 1], "strides": [1, 2]},
    )
    if not (op == "AveragePool" and opset < 19 and "dilations" in attrs)
])

OTHER = cases(
    Case("MaxPool", [X], {"kernel_shape": [2, 2], "strides": [2, 2]}, n_outputs=2, id="indices"),
    Case("MaxPool", [X], {"kernel_shape": [3, 3], "dilations": [2, 2], "ceil_mode": 1, "strides": [2, 2]},
         n_outputs=2, id="indices-dilated-ceil"),
    Case("MaxPool", [T((1, 2, 5, 5))], {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                        "ceil_mode": 1}, id="ceil-window-in-padding", onnx_infer=False),
    *[Case(op, [X], {"kernel_shape": [3, 3], "strides": [3, 3], "pads": [2, 2, 2, 2], "ceil_mode": 1},
           onnx_infer=False, id=f"{op}-ceil-drops-window-in-padding")
      for op in ("MaxPool", "AveragePool", "LpPool")],
    Case("MaxPool", [T((2, 3, 11))], {"kernel_shape": [4], "strides": [3]}, id="1d"),
    Case("AveragePool", [T((1, 2, 6, 7, 8))], {"kernel_shape": [2, 3, 2], "strides": [2, 2, 3]}, id="3d"),
    Case("AveragePool", [T(("batch", 3, 9, 10))], {"kernel_shape": [3, 3]}, id="symbolic-batch"),
    Case("MaxPool", [T(("batch", 3, "h", "w"))], {"kernel_shape": [3, 3]}, id="symbolic-spatial"),
    Case("MaxPool", [X], {"kernel_shape": [3, 3], "strides": [2, 2]}, opset=8, id="opset8"),
    Case("AveragePool", [X], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
    Case("LpPool", [X], {"kernel_shape": [2, 2], "p": 3}, opset=11, id="lp-opset11"),
    Case("GlobalMaxPool", [X]),
    Case("GlobalAveragePool", [T(("batch", 3, "h", "w"))]),
    Case("GlobalLpPool", [T((2, 3, 5))], {"p": 3}),
    Case("GlobalAveragePool", [T((1, 2, 3, 4, 5))]),
    Case("MaxRoiPool", [X, T((4, 5))], {"pooled_shape": [2, 3]}, run=None),
    Case("MaxUnpool", [T((1, 2, 3, 4)), T((1, 2, 3, 4), np.int64)], {"kernel_shape": [2, 2], "strides": [2, 2]}),
    Case("MaxUnpool", [T((1, 2, 3, 4)), T((1, 2, 3, 4), np.int64)],
         {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 0, 1]}, id="unpool-pads"),
    Case("MaxUnpool", [T((1, 2, 3, 4)), T((1, 2, 3, 4), np.int64), np.array([1, 2, 7, 9])],
         {"kernel_shape": [2, 2], "strides": [2, 2]}, refines=True, id="unpool-output-shape"),
)


@pytest.mark.parametrize("case", WINDOWED + OTHER)
def test_matches_onnx(case):
    check(case)


@pytest.mark.parametrize("case", [
    Case("MaxPool", [X], {}),
    Case("MaxPool", [X], {"kernel_shape": [3]}),
    Case("MaxPool", [X], {"kernel_shape": [12, 3]}),
    Case("AveragePool", [X], {"kernel_shape": [3, 3], "strides": [0, 1]}),
    Case("GlobalAveragePool", [T((3,))]),
], ids=str)
def test_contradictions_fail(case):
    with pytest.raises(ShapeError):
        graphc_types(case)


def test_unknown_rank_degrades():
    assert graphc_types(Case("MaxPool", [T(None)], {"kernel_shape": [3, 3]}, n_outputs=2))[1].dtype == np.int64
    assert graphc_types(Case("GlobalMaxPool", [T(None)]))[0].shape is None
