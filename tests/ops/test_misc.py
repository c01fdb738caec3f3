"""Generators, quantization, detection and sampling ops against ONNX's inference and ONNX Runtime."""
import numpy as np
import pytest

from graphc.errors import ShapeError
from onnx import TensorProto
from tests.ops import Case, T, cases, check, graphc_types

X = T((2, 3, 4))
ROIS = T((5, 4), feed=np.tile(np.array([0, 0, 4, 4], np.float32), (5, 1)))

MISC = cases(
    Case("EyeLike", [T((3, 4))]),
    Case("EyeLike", [T((3, 4))], {"dtype": TensorProto.INT32, "k": 1}),
    Case("RandomNormalLike", [X]),
    Case("RandomUniformLike", [T(("batch", 3), np.int32)], {"dtype": TensorProto.DOUBLE}),
    Case("Bernoulli", [X]),
    Case("Bernoulli", [X], {"dtype": TensorProto.DOUBLE}),
    Case("RandomNormal", [], {"shape": [2, 5]}),
    Case("RandomUniform", [], {"shape": [3], "dtype": TensorProto.DOUBLE}),
    Case("Multinomial", [T((2, 5))], {"sample_size": 3}),
    Case("Multinomial", [T((2, 5))], {"dtype": TensorProto.INT64}),
    Case("NonMaxSuppression", [T((1, 6, 4)), T((1, 1, 6)), np.array([3], np.int64)]),
    Case("Unique", [X], n_outputs=4),
    Case("Unique", [X], {"axis": 1}, n_outputs=4, run="reference"),
    Case("Det", [T((2, 3, 3))]),
    Case("Det", [T((4, 4))]),
    Case("GridSample", [T((2, 3, 5, 6)), T((2, 4, 7, 2))]),
    Case("GridSample", [T(("batch", 3, 5, 6)), T(("batch", 4, 7, 2))], {"mode": "nearest"}, opset=16),
    Case("RoiAlign", [T((2, 3, 8, 8)), ROIS, T((5,), np.int64)], {"output_height": 2, "output_width": 3}),
    Case("RoiAlign", [T((2, 3, 8, 8)), ROIS, T((5,), np.int64)]),
    Case("QuantizeLinear", [X, np.array(0.1, np.float32)]),
    Case("QuantizeLinear", [X, np.array(0.1, np.float32), np.array(3, np.int8)]),
    Case("QuantizeLinear", [X, np.array(0.1, np.float32)], {"output_dtype": TensorProto.INT8}),
    Case("QuantizeLinear", [X, np.array(0.1, np.float32), np.array(3, np.uint8)], opset=13),
    Case("DequantizeLinear", [T((2, 3), np.int8), np.array(0.1, np.float32)]),
    Case("DequantizeLinear", [T((2, 3), np.uint8), np.array(0.1, np.float16)], run=None),
    Case("DynamicQuantizeLinear", [X], n_outputs=3),
)


@pytest.mark.parametrize("case", MISC)
def test_matches_onnx(case):
    check(case)


@pytest.mark.parametrize("case", [
    Case("EyeLike", [X]),
    Case("Det", [T((3, 4))]),
    Case("RandomNormal", []),
], ids=str)
def test_contradictions_fail(case):
    with pytest.raises(ShapeError):
        graphc_types(case)
