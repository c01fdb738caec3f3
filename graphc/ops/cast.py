"""Cast and CastLike: type inference, and ONNX's rule for casts to the 2- and 4-bit integers.

The Cast operator's text (Operators.md) leaves "floating point to fixed point: undefined if OOR";
ONNX's pages on the sub-byte types define it: "Cast to a 4 bit type is done by rounding to the
nearest-integer (with ties to even) nearest-even integer and truncating" (docs/technical/int4.md;
int2.md says the same of the 2-bit types). Truncating drops the bits that do not fit, as Cast does
between fixed-point types ("200 (int16) -> -56 (int8)"), two's complement for the signed ones.
graphc gives that rule everywhere: `cast_subbyte` is the numpy form constant folding uses (the
reference evaluator's form follows whatever ml_dtypes does: 0.7.0 turns out-of-range values
into 0), and the exporter (graphc/lower/onnx_forms.py) writes a Round before such a Cast, because ONNX Runtime rounds
ties away from zero (2.5 -> 3) where the rule says to even (2.5 -> 2).
"""
from __future__ import annotations

import numpy as np

from graphc.ops.gradient import gradient
from graphc.ops.registry import onnx_dtype, register

# bits of each sub-byte integer type (ml_dtypes names)
SUBBYTE_INTS = {"int4": 4, "uint4": 4, "int2": 2, "uint2": 2}


def cast_subbyte(x: np.ndarray, dtype) -> np.ndarray:
    """`x` cast to the 2- or 4-bit integer `dtype` by ONNX's rule: round half to even, keep the
    low bits. NaN and infinities, which have no integer, give 0 (as ONNX Runtime does)."""
    dtype = np.dtype(dtype)
    bits = SUBBYTE_INTS[dtype.name]
    x = np.asarray(x)
    if x.dtype.kind in "iub" or x.dtype.name in SUBBYTE_INTS:
        whole = x.astype(np.int64)
    else:
        with np.errstate(invalid="ignore"):
            r = np.rint(x.astype(np.float64))
            # fmod by 2**bits is exact on whole floats and keeps what the low bits need
            whole = np.where(np.isfinite(r), np.fmod(r, float(1 << bits)), 0.0).astype(np.int64)
    low = whole & ((1 << bits) - 1)
    if dtype.name.startswith("int"):
        low = np.where(low >= 1 << (bits - 1), low - (1 << bits), low)
    return low.astype(np.int8).astype(dtype)


def rounds_first(src, dst) -> bool:
    """Whether a cast from `src` to `dst` must round explicitly: a float to a sub-byte integer."""
    if src is None or dst is None:
        return False
    src, dst = np.dtype(src), np.dtype(dst)
    return dst.name in SUBBYTE_INTS and src.name not in SUBBYTE_INTS and src.kind not in "iubOSU"


@register("Cast", traits=("pointwise", "unary"))
def _cast(ctx):
    return [ctx.input(0).with_dtype(onnx_dtype(ctx.attr("to")))]


@register("CastLike")
def _cast_like(ctx):
    return [ctx.input(0).with_dtype(ctx.input(1).dtype)]


@gradient("Cast", "CastLike")
def _cast_grad(ctx):
    """Float to float: the gradient cast back to the input's type; anything through an integer or
    a boolean has none."""
    x, t = ctx.inputs[0], ctx.input_types[0]
    grads = [None] * len(ctx.inputs)
    if t.dtype is not None and np.issubdtype(t.dtype, np.floating) and np.issubdtype(ctx.output_types[0].dtype, np.floating):
        grads[0] = ctx.emit("CastLike", ctx.output_grads[0], x)
    return grads

