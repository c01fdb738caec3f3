"""Shape and data-movement ops against ONNX's inference and ONNX Runtime."""
import numpy as np
import pytest

from graphc.errors import ShapeError
from tests.ops import Case, T, cases, check, graphc_types

I64 = np.int64
X = T((2, 3, 4))
SYM = T(("batch", 3, 4))


def i64(*v):
    return np.array(v, I64)


RESHAPE = cases(
    Case("Reshape", [X, i64(4, 6)]),
    Case("Reshape", [X, i64(-1)]),
    Case("Reshape", [X, i64(0, -1)]),
    Case("Reshape", [X, i64(2, -1, 2)]),
    Case("Reshape", [X, i64(1, 0, 1, 4, 2)], id="copy-dim-1"),
    Case("Reshape", [T((0, 3)), i64(3, 0)], {"allowzero": 1}),
    Case("Reshape", [SYM, i64(0, -1)], id="symbolic-copy"),
    Case("Reshape", [SYM, i64(0, 2, -1)], id="symbolic-copy-minus-one"),
    Case("Reshape", [T(("batch", "seq", 8)), i64(0, 0, 2, 4)], id="symbolic-heads"),
    Case("Reshape", [SYM, i64(-1, 12)], refines=True, id="symbolic-minus-one-cancels"),
    Case("Reshape", [SYM, i64(-1, 3, 2, 2)], refines=True, id="symbolic-minus-one-split"),
    Case("Reshape", [SYM, i64(2, -1)], id="symbolic-unknown"),
    Case("Reshape", [X, T((2,), I64, feed=i64(4, 6))], id="reshape-dynamic"),
    Case("Reshape", [X], {"shape": [4, 6]}, opset=4, run=None, refines=True, id="opset4-attr"),
)

TRANSPOSE = cases(
    Case("Transpose", [X]),
    Case("Transpose", [X], {"perm": [1, 0, 2]}),
    Case("Transpose", [T(("batch", "seq", 8, 2))], {"perm": [0, 2, 1, 3]}),
    Case("Transpose", [T(())], id="scalar"),
)

FLATTEN = cases(*[
    Case("Flatten", [x], {"axis": axis}, opset=opset)
    for x in (T((2, 3, 4, 5)), T(("batch", 3, 4)))
    for axis, opset in ((0, 21), (1, 21), (2, 21), (3, 21), (-1, 21), (-3, 21), (2, 9))
], Case("Flatten", [T((2, 3, 4))], id="default-axis"), Case("Flatten", [T((1, "batch", 4))], {"axis": 2}))

CONCAT = cases(
    Case("Concat", [X, T((2, 5, 4))], {"axis": 1}),
    Case("Concat", [X, X, T((1, 3, 4))], {"axis": 0}),
    Case("Concat", [X, T((2, 3, 1))], {"axis": -1}),
    Case("Concat", [SYM, T(("batch", 2, 4))], {"axis": 1}, id="symbolic"),
    Case("Concat", [SYM, SYM], {"axis": 0}, id="symbolic-axis"),
    Case("Concat", [X], {"axis": 2}, id="single"),
    Case("Concat", [X, T((2, 5, 4))], {"axis": 1}, opset=4),
)

SPLIT = cases(
    Case("Split", [T((2, 6, 4)), i64(2, 4)], {"axis": 1}, n_outputs=2),
    Case("Split", [T((2, 6, 4))], {"axis": 1, "num_outputs": 3}, n_outputs=3),
    Case("Split", [T((2, 7, 4))], {"axis": 1, "num_outputs": 3}, n_outputs=3, id="uneven"),
    Case("Split", [T((6, 4))], n_outputs=2, opset=13, id="equal-13"),
    Case("Split", [T((6, 4))], {"split": [1, 5]}, n_outputs=2, opset=11, id="attr-11"),
    Case("Split", [T((6, 4))], {"axis": -1}, n_outputs=2, opset=11, id="equal-11"),
    Case("Split", [T(("batch", 6)), i64(3, 3)], {"axis": 1}, n_outputs=2, id="symbolic-other"),
    Case("Split", [T(("batch", 6))], {"axis": 0, "num_outputs": 2}, n_outputs=2, run=None, id="symbolic-axis"),
)

BIG = 2 ** 63 - 1
SLICE = cases(
    Case("Slice", [X, i64(1), i64(3), i64(1)]),
    Case("Slice", [X, i64(0, 1), i64(1, BIG)], id="no-axes-int-max"),
    Case("Slice", [X, i64(-3, 0), i64(-1, 100), i64(0, -1), i64(1, 2)], id="negative-clamp-step"),
    Case("Slice", [X, i64(-1), i64(-BIG), i64(-1), i64(-1)], id="reverse"),
    Case("Slice", [X, i64(3), i64(0), i64(2), i64(-2)], id="reverse-step2"),
    Case("Slice", [X, i64(5), i64(10), i64(2)], id="empty"),
    Case("Slice", [X, i64(0, 0), i64(2, 3), i64(0, 2), i64(1, 3)]),
    Case("Slice", [SYM, i64(1), i64(3), i64(2)], id="symbolic-untouched"),
    Case("Slice", [SYM, i64(0), i64(1), i64(0)], id="symbolic-sliced"),
    Case("Slice", [X, T((1,), I64, feed=i64(1)), i64(3), i64(1)], refines=True, id="dynamic-starts"),
    Case("Slice", [X], {"starts": [1, 0], "ends": [3, -1], "axes": [1, 2]}, opset=9, id="attrs-9"),
    Case("Slice", [X], {"starts": [0], "ends": [1]}, opset=1, run=None, id="attrs-1"),
)

GATHER = cases(
    Case("Gather", [X, T((5,), I64)]),
    Case("Gather", [X, T((2, 2), I64)], {"axis": 1}),
    Case("Gather", [X, T((), I64)], {"axis": -1}, id="scalar-index"),
    Case("Gather", [SYM, T(("n",), I64)], {"axis": 2}),
    Case("GatherElements", [X, T((2, 2, 4), I64)], {"axis": 1}),
    Case("GatherND", [X, T((5, 2), I64)]),
    Case("GatherND", [X, T((2, 1), I64)], {"batch_dims": 1}),
    Case("GatherND", [X, T((2, 5, 3), I64)], id="full-depth"),
    Case("GatherND", [X, T((2, 5, 2), I64)], {"batch_dims": 1}),
    Case("ScatterElements", [X, T((1, 3, 4), I64), T((1, 3, 4))], {"axis": 0}),
    Case("Scatter", [X, T((1, 3, 4), I64), T((1, 3, 4))], {"axis": 0}, opset=9),
    Case("ScatterND", [X, T((2, 1), I64, feed=i64([0], [1])), T((2, 3, 4))]),
    Case("Compress", [X, T((3,), np.bool_)], {"axis": 1}),
    Case("Compress", [X, T((5,), np.bool_)], id="flat"),
)

SQUEEZE = cases(
    Case("Squeeze", [T((1, 3, 1, 4)), i64(0)]),
    Case("Squeeze", [T((1, 3, 1, 4)), i64(-2, 0)]),
    Case("Squeeze", [T((1, 3, 1, 4))], id="all"),
    Case("Squeeze", [T(("batch", 1, 4)), i64(1)], id="symbolic"),
    Case("Squeeze", [T(("batch", 1, 4))], id="symbolic-all"),
    Case("Squeeze", [T((1, 3, 1, 4))], {"axes": [2]}, opset=11),
    Case("Unsqueeze", [X, i64(0)]),
    Case("Unsqueeze", [X, i64(4, 1)]),
    Case("Unsqueeze", [X, i64(-1, -3)]),
    Case("Unsqueeze", [T(()), i64(0, 1)], id="scalar"),
    Case("Unsqueeze", [SYM], {"axes": [1]}, opset=11),
    Case("Expand", [T((3, 1)), i64(2, 1, 4)]),
    Case("Expand", [T((3, 4)), i64(4)]),
    Case("Expand", [T(("batch", 1)), i64(1, 5)], id="symbolic"),
    Case("Expand", [T((3, 1)), T((3,), I64, feed=i64(2, 3, 5))], id="expand-dynamic"),
    Case("Expand", [T((3, 1)), T((1,), I64, feed=i64(4))], id="expand-dynamic-shorter"),
)

PAD = cases(
    Case("Pad", [X, i64(0, 1, 2, 0, 3, 4)]),
    Case("Pad", [X, i64(0, -1, 1, 0, 0, -2)], id="negative"),
    Case("Pad", [X, i64(1, 2, 3, 4), None, i64(0, -1)], id="axes"),
    Case("Pad", [X, i64(1, 1, 1, 2), None, i64(-1, 1)], {"mode": "reflect"}, id="axes-reflect"),
    Case("Pad", [SYM, i64(0, 1, 1, 0, 1, 1), np.array(1.5, np.float32)], id="symbolic"),
    Case("Pad", [X, i64(1, 1, 1, 1, 1, 1)], opset=11),
    Case("Pad", [X], {"pads": [0, 1, 2, 0, 3, 4], "value": 1.0}, opset=2, id="attrs-2"),
    Case("Pad", [X, T((6,), I64, feed=i64(0, 1, 2, 0, 3, 4))], id="pad-dynamic"),
    Case("CenterCropPad", [T((5, 6, 3)), i64(4, 8)], {"axes": [0, 1]}),
    Case("CenterCropPad", [T((5, 6, 3)), i64(4, 8, 3)]),
)

QUERIES = cases(
    Case("Shape", [X]),
    Case("Shape", [SYM], {"start": 1}),
    Case("Shape", [X], {"start": -2, "end": -1}),
    Case("Shape", [X], {"start": -10, "end": 10}, id="clamped"),
    Case("Shape", [X], {"start": 2, "end": 1}, id="empty"),
    Case("Shape", [X], opset=13),
    Case("Size", [SYM]),
    Case("NonZero", [X]),
    Case("TopK", [X, i64(2)], n_outputs=2),
    Case("TopK", [X, i64(1)], {"axis": 1, "largest": 0}, n_outputs=2),
    Case("TopK", [SYM, i64(2)], {"axis": 0}, n_outputs=2, refines=True),
    Case("TopK", [X, T((1,), I64, feed=i64(2))], n_outputs=2, refines=True, id="dynamic-k"),
    Case("TopK", [X], {"k": 2, "axis": 1}, n_outputs=2, opset=1, id="attr-1"),
    Case("CumSum", [X, np.array(1, np.int32)]),
    Case("Trilu", [T((2, 4, 5)), i64(1)]),
    Case("ReverseSequence", [T((4, 2, 3)), T((2,), I64, feed=i64(3, 4))], {"batch_axis": 1, "time_axis": 0}),
)

GENERATORS = cases(
    Case("Tile", [X, i64(2, 1, 3)]),
    Case("Tile", [SYM, i64(1, 2, 1)], refines=True, id="symbolic"),
    Case("Tile", [X, T((3,), I64, feed=i64(1, 2, 1))], id="tile-dynamic"),
    Case("ConstantOfShape", [i64(2, 3)]),
    Case("ConstantOfShape", [i64(4)], {"value": np.array([7], I64)}),
    Case("ConstantOfShape", [i64()], {"value": np.array([1], np.float16)}, id="scalar"),
    Case("ConstantOfShape", [T((2,), I64, feed=i64(2, 3))], {"value": np.array([0], np.int32)}, id="cos-dynamic"),
    Case("Range", [np.array(1.0, np.float32), np.array(6.0, np.float32), np.array(1.5, np.float32)]),
    Case("Range", [np.array(10, I64), np.array(1, I64), np.array(-3, I64)], id="negative"),
    Case("Range", [np.array(5, np.int32), np.array(1, np.int32), np.array(1, np.int32)], id="empty"),
    Case("Range", [T((), I64, feed=np.array(0)), np.array(4, I64), np.array(1, I64)], id="range-dynamic"),
    Case("OneHot", [T((2, 3), I64), np.array(5, I64), T((2,))]),
    Case("OneHot", [T((2, 3), I64), np.array([4.0], np.float32), T((2,), np.float16)], {"axis": 0}),
    Case("OneHot", [T(("batch",), I64), np.array(3, np.int32), T((2,))], {"axis": -2}),
)

BLOCKS = cases(
    Case("DepthToSpace", [T((1, 8, 2, 3))], {"blocksize": 2}),
    Case("DepthToSpace", [T(("batch", 18, 2, 3))], {"blocksize": 3, "mode": "CRD"}),
    Case("SpaceToDepth", [T((1, 2, 4, 6))], {"blocksize": 2}),
    Case("SpaceToDepth", [T(("batch", 2, "h", 6))], {"blocksize": 2}, run=None),
)

F32 = np.float32
EMPTY = np.array([], F32)
RESIZE = cases(
    Case("Resize", [T((1, 2, 4, 5)), None, np.array([1, 1, 2, 1.5], F32)]),
    Case("Resize", [T((1, 2, 4, 5)), None, np.array([1, 1, 0.5, 0.7], F32)], {"mode": "linear"}),
    Case("Resize", [T((1, 2, 4, 5)), None, None, i64(1, 2, 7, 3)]),
    Case("Resize", [T((1, 2, 4, 5)), None, None, i64(8, 9)], {"axes": [2, 3]}),
    Case("Resize", [T((1, 2, 4, 5)), None, np.array([3, 2], F32)], {"axes": [-1, 2]}),
    Case("Resize", [T((1, 2, 4, 5)), None, None, i64(8, 20)], {"axes": [2, 3],
                                                             "keep_aspect_ratio_policy": "not_larger"}),
    Case("Resize", [T((1, 2, 4, 5)), None, None, i64(8, 20)], {"axes": [2, 3],
                                                             "keep_aspect_ratio_policy": "not_smaller"}),
    Case("Resize", [T((1, 2, 3, 5)), None, None, i64(1, 2, 5, 7)], {"keep_aspect_ratio_policy": "not_larger"}),
    Case("Resize", [T(("batch", 2, 4, 5)), None, np.array([1, 1, 2, 2], F32)], refines=True, id="symbolic"),
    Case("Resize", [T((1, 2, 4, 5)), EMPTY, EMPTY, i64(1, 2, 3, 3)], opset=11, id="empty-roi-scales-11"),
    Case("Resize", [T((1, 2, 4, 5)), EMPTY, np.array([1, 1, 2, 3], F32)], opset=11, id="scales-11"),
    Case("Resize", [T((1, 2, 4, 5)), np.array([1, 1, 2, 2.5], F32)], opset=10, id="opset10"),
    Case("Resize", [T((1, 2, 4, 5)), None, T((4,), F32, feed=np.array([1, 1, 2, 2], F32))], id="resize-dynamic"),
    Case("Upsample", [T((1, 2, 4, 5)), np.array([1, 1, 2, 3], F32)], opset=9),
    Case("Upsample", [T((1, 2, 4, 5))], {"scales": [1.0, 1.0, 2.0, 1.5]}, opset=7),
)

ALL = (RESHAPE + TRANSPOSE + FLATTEN + CONCAT + SPLIT + SLICE + GATHER + SQUEEZE + PAD + QUERIES + GENERATORS
       + BLOCKS + RESIZE)


@pytest.mark.parametrize("case", ALL)
def test_matches_onnx(case):
    check(case)


@pytest.mark.parametrize("case", [
    Case("Reshape", [X, i64(5, -1)]),
    Case("Reshape", [X, i64(4, 5)]),
    Case("Reshape", [X, i64(-1, -1)]),
    Case("Reshape", [X, i64(0, 0, 0, 0)]),
    Case("Transpose", [X], {"perm": [0, 0, 1]}),
    Case("Flatten", [X], {"axis": 4}),
    Case("Concat", [X, T((2, 3))], {"axis": 0}),
    Case("Concat", [X, T((3, 3, 4))], {"axis": 1}),
    Case("Split", [T((6, 4)), i64(2, 2)], n_outputs=2),
    Case("Split", [T((5, 4))], n_outputs=2, opset=13),
    Case("Slice", [X, i64(0), i64(1), i64(3)]),
    Case("Slice", [X, i64(0), i64(1), i64(0), i64(0)]),
    Case("Squeeze", [X, i64(1)]),
    Case("Unsqueeze", [X, i64(0, 0)]),
    Case("Expand", [T((3, 2)), i64(3, 4)]),
    Case("Pad", [X, i64(1, 1)]),
    Case("Tile", [X, i64(2, 2)]),
    Case("GatherND", [X, T((2, 4), I64)]),
    Case("DepthToSpace", [T((1, 6, 2, 3))], {"blocksize": 2}),
    Case("Resize", [T((1, 2, 4, 5)), None, np.array([1, 2], F32)]),
    Case("Resize", [T((1, 2, 4, 5)), None, np.array([1, 1, 2, 2], F32), i64(1, 2, 3, 3)]),
    Case("TopK", [X, i64(5)], n_outputs=2),
    Case("Range", [np.array(1, I64), np.array(3, I64), np.array(0, I64)]),
], ids=str)
def test_contradictions_fail(case):
    with pytest.raises(ShapeError):
        graphc_types(case)


def test_unknown_inputs_degrade():
    assert graphc_types(Case("Reshape", [T(None), i64(0, -1)]))[0].shape == (None, None)
    assert graphc_types(Case("Reshape", [X, T(None, I64)]))[0].shape is None
    assert graphc_types(Case("Slice", [X, T((1,), I64), i64(2)]))[0].shape == (None, 3, 4)
    assert graphc_types(Case("Slice", [X, i64(1), i64(2), T((1,), I64)]))[0].shape == (None, None, None)
    assert graphc_types(Case("Squeeze", [X, T((1,), I64)]))[0].shape == (None, None)
    assert graphc_types(Case("Unsqueeze", [X, T(None, I64)]))[0].shape is None
    assert graphc_types(Case("Transpose", [T(None)], {"perm": [1, 0]}))[0].shape == (None, None)
    assert graphc_types(Case("Concat", [T(None), T((2, 3))], {"axis": 1}))[0].shape == (2, None)
    assert [t.shape for t in graphc_types(Case("Split", [T(None)], {"num_outputs": 2}, n_outputs=2))] == [None] * 2
    assert graphc_types(Case("Shape", [T(None)]))[0].shape == (None,)
    assert graphc_types(Case("NonZero", [T(None)]))[0].shape == (None, None)
    assert graphc_types(Case("Range", [T((), I64), np.array(4, I64), np.array(1, I64)]))[0].shape == (None,)
    assert graphc_types(Case("Resize", [T((1, 2, 4, 5)), None, None, T((2,), I64)], {"axes": [2, 3]}))[0].shape \
        == (1, 2, None, None)
