"""Recurrent layers: RNN, GRU and LSTM (outputs Y, Y_h and, for LSTM, Y_c).

With `layout=0` X is [seq, batch, input], Y [seq, num_directions, batch, hidden] and the states
[num_directions, batch, hidden]; `layout=1` puts batch first in all three.
"""
from __future__ import annotations

from graphc.ops._shapes import merge_dims, str_attr
from graphc.ops.registry import register
from graphc.types import TensorType


@register("RNN", "GRU", "LSTM")
def _recurrent(ctx):
    x, w, r = ctx.input(0), ctx.input(1), ctx.input(2)
    if x.shape is not None and len(x.shape) != 3:
        ctx.fail(f"X must be 3-D, got {x}")
    direction = str_attr(ctx, "direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        ctx.fail(f"unknown direction {direction!r}")
    num_dir = 2 if direction == "bidirectional" else 1
    if w.shape is not None:
        merge_dims([w.shape[0], num_dir], ctx, f"num_directions of W for direction {direction!r}")
    hidden = merge_dims([ctx.attr("hidden_size"), r.shape[-1] if r.shape else None], ctx,
                        "hidden_size and the last dim of R")
    layout = ctx.attr("layout", 0)
    seq = batch = None
    if x.shape is not None:
        seq, batch = x.shape[1::-1] if layout else x.shape[:2]
    if layout:
        y, state = (batch, seq, num_dir, hidden), (batch, num_dir, hidden)
    else:
        y, state = (seq, num_dir, batch, hidden), (num_dir, batch, hidden)
    outputs = [TensorType(x.dtype, y), TensorType(x.dtype, state), TensorType(x.dtype, state)]
    return outputs if ctx.op == "LSTM" else outputs[:2]
