"""MatMul, MatMulInteger, Gemm and Einsum against ONNX's inference and ONNX Runtime."""
import numpy as np
import pytest

from graphc.errors import ShapeError
from tests.ops import Case, T, cases, check, graphc_types

I8 = np.int8

MATMUL = cases(
    Case("MatMul", [T((3, 4)), T((4, 5))]),
    Case("MatMul", [T((4,)), T((4, 5))], id="vec-mat"),
    Case("MatMul", [T((3, 4)), T((4,))], id="mat-vec"),
    Case("MatMul", [T((4,)), T((4,))], id="vec-vec"),
    Case("MatMul", [T((4,)), T((2, 4, 5))], id="vec-batched"),
    Case("MatMul", [T((2, 1, 3, 4)), T((5, 4, 6))], id="broadcast"),
    Case("MatMul", [T(("batch", "seq", 8)), T((8, 16))], id="symbolic"),
    Case("MatMul", [T(("batch", 3, 4)), T(("n", 4, 5))], run=None, id="two-symbols"),
    Case("MatMul", [T((1, 3, 4)), T(("batch", 4, 5))], id="symbol-vs-1"),
    Case("MatMul", [T((3, "k")), T((4, 5))], id="symbolic-k"),
    Case("MatMul", [T((3, 4), np.float16), T((4, 2), np.float16)], id="fp16"),
    Case("MatMulInteger", [T((3, 4), I8), T((4, 5), I8)]),
    Case("MatMulInteger", [T(("batch", 3, 4), np.uint8), T((4, 5), np.uint8), T((), np.uint8)], id="zp"),
)

GEMM = cases(
    Case("Gemm", [T((3, 4)), T((4, 5))]),
    Case("Gemm", [T((4, 3)), T((4, 5)), T((5,))], {"transA": 1}),
    Case("Gemm", [T((3, 4)), T((5, 4)), T((3, 5))], {"transB": 1, "alpha": 0.5}),
    Case("Gemm", [T((4, 3)), T((5, 4)), T((1,))], {"transA": 1, "transB": 1}),
    Case("Gemm", [T(("batch", 4)), T((4, 5)), T((5,))], id="symbolic"),
    Case("Gemm", [T((3, 4)), T((4, 5)), T((5,))], opset=11, id="opset11"),
)

EINSUM = cases(
    Case("Einsum", [T((3, 4)), T((4, 5))], {"equation": "ij,jk->ik"}),
    Case("Einsum", [T((3, 4)), T((4, 5))], {"equation": "ij,jk"}, id="implicit"),
    Case("Einsum", [T((2, 3, 4)), T((2, 4, 5))], {"equation": "bij,bjk->bik"}),
    Case("Einsum", [T((3, 4))], {"equation": "ij->ji"}),
    Case("Einsum", [T((3, 3))], {"equation": "ii->i"}),
    Case("Einsum", [T((3, 3))], {"equation": "ii"}, id="trace"),
    Case("Einsum", [T((3, 4)), T((3, 4))], {"equation": "ij,ij->"}),
    Case("Einsum", [T((2, 6, 3, 4)), T((2, 6, 4, 5))], {"equation": "...ij,...jk->...ik"}),
    Case("Einsum", [T((2, 6, 3, 4)), T((1, 6, 4, 5))], {"equation": "...ij,...jk->...ik"},
         id="ellipsis-broadcast"),
    Case("Einsum", [T((2, 3, 4))], {"equation": "...i"}, id="ellipsis-implicit"),
    Case("Einsum", [T((3,)), T((4,))], {"equation": "i,j->ij"}),
    Case("Einsum", [T(("batch", 4, 8)), T((8, 16))], {"equation": "bsd, de -> bse"}, id="symbolic-spaces"),
)


@pytest.mark.parametrize("case", MATMUL + GEMM + EINSUM)
def test_matches_onnx(case):
    check(case)


@pytest.mark.parametrize("case", [
    Case("MatMul", [T((3, 4)), T((5, 6))]),
    Case("MatMul", [T((2, 3, 4)), T((3, 4, 6))]),
    Case("Gemm", [T((3, 4)), T((3, 5))]),
    Case("Gemm", [T((3, 4, 1)), T((4, 5))]),
    Case("Einsum", [T((3, 4)), T((5, 6))], {"equation": "ij,jk->ik"}),
    Case("Einsum", [T((3, 4))], {"equation": "ijk->i"}),
    Case("Einsum", [T((3, 4))], {"equation": "ij->k"}),
    Case("Einsum", [T((3, 4))], {"equation": "ij,jk->ik"}),
], ids=str)
def test_contradictions_fail(case):
    with pytest.raises(ShapeError):
        graphc_types(case)


def test_unknown_rank_degrades():
    assert graphc_types(Case("MatMul", [T(None), T((4, 5))]))[0].shape is None
    assert graphc_types(Case("Gemm", [T(None), T((4, 5))]))[0].shape == (None, 5)
    assert graphc_types(Case("Einsum", [T(None), T((4, 5))], {"equation": "ij,jk->ik"}))[0].shape == (None, None)
