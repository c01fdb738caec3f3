"""Conv, ConvInteger and ConvTranspose against ONNX's inference and ONNX Runtime."""
import numpy as np
import pytest

from graphc.errors import ShapeError
from tests.ops import Case, T, cases, check, graphc_types

X = T((2, 4, 9, 11))
W = T((6, 4, 3, 3))

CONV = cases(
    Case("Conv", [X, W]),
    Case("Conv", [X, W, T((6,))], {"pads": [1, 1, 1, 1]}, id="bias-pads"),
    Case("Conv", [X, W], {"strides": [2, 3], "pads": [0, 1, 2, 1]}, id="strides-asym-pads"),
    Case("Conv", [X, W], {"dilations": [2, 1], "strides": [1, 2]}, id="dilations"),
    Case("Conv", [X, W], {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    Case("Conv", [X, W], {"auto_pad": "SAME_LOWER", "strides": [2, 3]}, id="same-lower-no-kernel-attr"),
    Case("Conv", [X, W], {"auto_pad": "VALID", "strides": [2, 2], "dilations": [2, 2]}),
    Case("Conv", [X, T((6, 2, 3, 3))], {"group": 2}),
    Case("Conv", [X, T((4, 1, 3, 3))], {"group": 4, "pads": [1, 1, 1, 1]}, id="depthwise"),
    Case("Conv", [T((2, 3, 10)), T((5, 3, 4))], {"strides": [3]}, id="1d"),
    Case("Conv", [T((1, 2, 5, 6, 7)), T((3, 2, 2, 3, 1))], {"pads": [1, 0, 0, 1, 0, 0]}, id="3d"),
    Case("Conv", [T(("batch", 4, 9, 11)), W], {"pads": [1, 1, 1, 1]}, id="symbolic-batch"),
    Case("Conv", [T(("batch", 4, "h", "w")), W], id="symbolic-spatial"),
    Case("Conv", [T(("batch", 4, "h", "w")), W], {"auto_pad": "SAME_UPPER"}, id="symbolic-same"),
    Case("Conv", [T((2, "c", 9, 11)), W], id="symbolic-channels"),
    Case("Conv", [X, W], {"auto_pad": "SAME_UPPER"}, opset=11, id="opset11"),
    Case("ConvInteger", [T((1, 2, 5, 5), np.uint8), T((3, 2, 2, 2), np.uint8)], {"pads": [1, 1, 0, 0]}),
)

CONV_TRANSPOSE = cases(
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))]),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3)), T((3,))], {"strides": [2, 2]}, id="strides-bias"),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))],
         {"strides": [2, 3], "pads": [1, 0, 1, 1], "output_padding": [1, 2]}, id="pads-output-padding"),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))], {"dilations": [2, 2], "strides": [2, 1]}),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 2, 3, 3))], {"group": 2, "strides": [2, 2]}, id="group"),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))], {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))], {"auto_pad": "SAME_LOWER", "strides": [3, 2]}),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))], {"auto_pad": "VALID", "strides": [2, 2]}),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))], {"strides": [2, 2], "output_shape": [12, 13]}),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((4, 3, 3, 3))], {"kernel_shape": [3, 3], "strides": [2, 2]}),
    Case("ConvTranspose", [T((1, 2, 7)), T((2, 5, 4))], {"strides": [3], "pads": [1, 2]}, id="1d"),
    Case("ConvTranspose", [T(("batch", 4, 5, 6)), T((4, 3, 3, 3))], {"strides": [2, 2]}, id="symbolic-batch"),
    Case("ConvTranspose", [T(("batch", 4, "h", 6)), T((4, 3, 3, 3))], id="symbolic-spatial"),
)


@pytest.mark.parametrize("case", CONV + CONV_TRANSPOSE)
def test_matches_onnx(case):
    check(case)


@pytest.mark.parametrize("case", [
    Case("Conv", [X, T((6, 3, 3, 3))]),
    Case("Conv", [X, T((6, 4, 3, 3))], {"group": 2}),
    Case("Conv", [X, T((5, 2, 3, 3))], {"group": 2}),
    Case("Conv", [X, T((6, 4, 12, 3))]),
    Case("Conv", [X, W], {"strides": [1]}),
    Case("Conv", [X, W], {"kernel_shape": [3, 2]}),
    Case("Conv", [X, W], {"kernel_shape": [3]}),
    Case("Conv", [T((2, 4)), W]),
    Case("ConvTranspose", [T((2, 4, 5, 6)), T((3, 3, 3, 3))]),
], ids=str)
def test_contradictions_fail(case):
    with pytest.raises(ShapeError):
        graphc_types(case)


def test_unknown_shapes_degrade():
    assert graphc_types(Case("Conv", [T(None), W]))[0].shape == (None, 6, None, None)
    assert graphc_types(Case("Conv", [X, T(None)], {"kernel_shape": [3, 3]}))[0].shape == (2, None, 7, 9)
    assert graphc_types(Case("Conv", [T(None), T(None)]))[0].shape is None
    assert graphc_types(Case("ConvTranspose", [T(None), T((4, 3, 3, 3))]))[0].shape == (None, 3, None, None)
