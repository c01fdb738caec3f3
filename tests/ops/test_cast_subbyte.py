"""Cast and CastLike to INT4/UINT4/INT2/UINT2 give ONNX's rule (round half to even, keep the low
bits: tests/conformance/spec_outputs.py quotes it) on ONNX Runtime at O0, when constant folding
computes them at O2, and under onnx.reference for the exported model, whatever ml_dtypes does."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto
from onnx.reference import ReferenceEvaluator

from graphc import Graph, TensorType
from graphc.api import optimize
from graphc.lower.onnx import to_onnx
from graphc.ops.cast import cast_subbyte
from graphc.runtime.ort import OrtExecutable
from tests.conformance.spec_outputs import BITS, SIGNED, spec_cast

# ties both ways, out of range both ways, fractions, large values
VALUES = np.array([-9.7, -9, -8.5, -8, -2.5, -1.5, -0.5, -0.0, 0.5, 1.5, 2.5, 2.7, 3.5, 7.4, 7.5, 8,
                   15, 15.5, 16, 17, 100, -100, 1e4, -1e4], np.float32)
TARGETS = list(BITS)


def expected(x: np.ndarray, to: int) -> np.ndarray:
    ints = [spec_cast(float(v), to) for v in x.reshape(-1)]
    return np.array(ints, np.int64).reshape(x.shape)


def cast_graph(x, to: int, like: bool, constant: bool) -> Graph:
    g = Graph("cast")
    if BITS[to] == 2:
        g.opset_imports = {**g.opset_imports, "": 25}  # INT2/UINT2 came with Cast-25
    src = g.add_constant(x, name="x") if constant else g.add_input("x", TensorType(x.dtype, x.shape))
    dtype = onnx.helper.tensor_dtype_to_np_dtype(to)
    if like:
        y = g.add_node("CastLike", [src, g.add_constant(np.zeros(1, dtype), name="like")])
    else:
        y = g.add_node("Cast", [src], {"to": to})
    g.add_output("y", (y, 0))
    return g


def folded_value(x, to: int, like: bool) -> np.ndarray:
    g = optimize(cast_graph(x, to, like, constant=True), "O2")
    assert [g.data(n)["op"] for n in g.topo_order()] == ["Constant"]
    return g.const_value(g.outputs[0][1])


def run(g: Graph, x):
    exe = OrtExecutable(to_onnx(g), threads=1, label=g.name)
    return exe.run({"x": x} if exe.input_names else {})["y"]


@pytest.mark.parametrize("to", TARGETS, ids=[TensorProto.DataType.Name(t) for t in TARGETS])
@pytest.mark.parametrize("like", [False, True], ids=["Cast", "CastLike"])
@pytest.mark.parametrize("src", [np.float32, np.float16], ids=["float", "float16"])
def test_cast_to_subbyte_follows_the_spec(to, like, src):
    x = VALUES.astype(src)
    want = expected(x, to)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(to)
    # O0: ONNX Runtime runs the exported Cast (behind the Round graphc writes for the ties)
    got = run(cast_graph(x, to, like, constant=False), x)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_array_equal(got.astype(np.int64), want)
    # O2: constant folding computes the cast itself; the result is a Constant
    np.testing.assert_array_equal(folded_value(x, to, like).astype(np.int64), want)
    # the exported model under ONNX's own reference evaluator agrees where its ml_dtypes casts
    # exactly, in range (the Round before the Cast leaves whole values to cast)
    model = to_onnx(cast_graph(x, to, like, constant=False))
    with np.errstate(invalid="ignore"):  # ml_dtypes 0.7 warns of the out-of-range ones it zeroes
        ref = np.asarray(ReferenceEvaluator(model).run(None, {"x": x})[0]).astype(np.int64)
    bits, whole = BITS[to], np.rint(x.astype(np.float64))
    lo = -(1 << (bits - 1)) if to in SIGNED else 0
    in_range = (whole >= lo) & (whole < lo + (1 << bits))
    np.testing.assert_array_equal(ref[in_range], want[in_range])


def test_cast_to_subbyte_of_nan_and_infinity_is_zero():
    """No integer is defined for them; graphc gives 0 on both paths, as ONNX Runtime does."""
    x = np.array([np.nan, np.inf, -np.inf], np.float32)
    g = cast_graph(x, TensorProto.INT4, like=False, constant=False)
    np.testing.assert_array_equal(run(g, x).astype(np.int64), [0, 0, 0])
    np.testing.assert_array_equal(cast_subbyte(x, onnx.helper.tensor_dtype_to_np_dtype(TensorProto.INT4)).astype(np.int64),
                                  [0, 0, 0])


def test_integer_to_subbyte_keeps_the_low_bits():
    """Fixed point to fixed point: 'discard higher bits and reinterpret' (Cast, Operators.md)."""
    x = np.array([-9, 8, 17, 100, -128, 127], np.int8)
    want = expected(x.astype(np.float32), TensorProto.INT4)
    np.testing.assert_array_equal(run(cast_graph(x, TensorProto.INT4, False, False), x).astype(np.int64), want)
    np.testing.assert_array_equal(folded_value(x, TensorProto.INT4, False).astype(np.int64), want)
