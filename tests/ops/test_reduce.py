"""Reductions and ArgMax/ArgMin against ONNX's inference and ONNX Runtime."""
import numpy as np
import pytest

from graphc.errors import ShapeError
from tests.ops import Case, T, cases, check, graphc_types
from graphc.ops.reduce import REDUCE

X = T((2, 3, 4))
AXES_INPUT = {op: 13 if op == "ReduceSum" else 18 for op in REDUCE}  # the opset axes became an input


def reduce_case(op, axes=None, opset=21, x=X, **attrs):
    if opset >= AXES_INPUT[op]:
        inputs = [x] if axes is None else [x, np.array(axes, np.int64)]
    else:
        inputs = [x]
        if axes is not None:
            attrs["axes"] = axes
    return Case(op, inputs, attrs, opset=opset, id=f"{op}-{opset}-{axes}-{attrs}")


REDUCTIONS = cases(*[
    reduce_case(op, axes, opset, **attrs)
    for op in REDUCE
    for opset in (21, 11)
    for axes, attrs in (
        (None, {}),
        ([1], {}),
        ([0, -1], {"keepdims": 0}),
        (None, {"keepdims": 0}),
    )
], *[
    reduce_case(op, axes, **attrs) for op in ("ReduceSum", "ReduceMax")
    for axes, attrs in (([], {"noop_with_empty_axes": 1}), (None, {"noop_with_empty_axes": 1}), ([], {}))
],
    reduce_case("ReduceMean", [1], x=T(("batch", "seq", 8)), keepdims=0),
    reduce_case("ReduceSum", [-1], x=T(("batch", "seq", 8))),
    reduce_case("ReduceSum", [1], opset=13),
    reduce_case("ReduceMax", [1], opset=13, keepdims=0),
    reduce_case("ReduceProd", None, x=T(()), keepdims=0),
)

ARG = cases(*[
    Case(op, [X], attrs, opset=opset)
    for op in ("ArgMax", "ArgMin") for opset in (21, 11)
    for attrs in ({}, {"axis": 1}, {"axis": -1, "keepdims": 0}, {"axis": 2, "select_last_index": 1})
    if not (opset < 12 and "select_last_index" in attrs)
], Case("ArgMax", [T(("batch", 10))], {"axis": 1, "keepdims": 0}))

DYNAMIC = cases(
    Case("ReduceSum", [X, T((1,), np.int64, feed=np.array([1]))], {"keepdims": 1}, refines=True),
    Case("ReduceMean", [X, T((2,), np.int64, feed=np.array([0, 2]))], {"keepdims": 0}),
)


@pytest.mark.parametrize("case", REDUCTIONS + ARG + DYNAMIC)
def test_matches_onnx(case):
    check(case)


@pytest.mark.parametrize("case", [
    reduce_case("ReduceSum", [3]),
    reduce_case("ReduceL2", [1, -2]),
    reduce_case("ReduceMin", [-4], opset=11),
    Case("ArgMax", [X], {"axis": 3}),
], ids=str)
def test_contradictions_fail(case):
    with pytest.raises(ShapeError):
        graphc_types(case)


def test_unknown_rank_degrades():
    t = graphc_types(Case("ArgMin", [T(None)]))[0]
    assert t.shape is None and t.dtype == np.int64
    assert graphc_types(reduce_case("ReduceSum", [1], x=T(None)))[0].shape is None
