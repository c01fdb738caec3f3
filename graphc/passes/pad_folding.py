"""Folding of explicit zero Pad into the Conv or AveragePool after it."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.passes.base import NodeRewrite, bypass
from graphc.passes.predicates import const_input, const_ints, int_arg, is_op, movable, sole_consumer


class PadFolding(NodeRewrite):
    """Pad(X, pads) in constant mode with value 0 (or absent), non-negative pads on the spatial
    axes only, whose only reader is
    - Conv with `auto_pad` NOTSET: the pads are added to the Conv's pads;
    - AveragePool with `auto_pad` NOTSET and `ceil_mode=0`, either unpadded or already counting
      its pads (`count_include_pad=1`): the pads are added and `count_include_pad` set to 1.

    Left alone: reflect/edge/wrap modes, a non-zero pad value, negative pads (crops), pads on
    the batch or channel axes, Pad with an `axes` input, MaxPool (its padding is -inf, not 0),
    graphs below opset 11 (Pad's arguments were attributes).
    """

    name = "pad-folding"
    ops = ("Pad",)
    min_opset = 11

    def rewrite(self, g: Graph, pad: str) -> int:
        use = sole_consumer(g, (pad, 0))
        if use is None or use[1] != 0 or not is_op(g, use[0], "Conv", "AveragePool") or not movable(g, use[0]):
            return 0
        node = use[0]
        a = g.attrs(node)
        pads = const_ints(g, pad, 1)
        ins = g.input_values(pad)
        value = const_input(g, pad, 2) if len(ins) > 2 and ins[2] is not None else np.zeros(1)
        if pads is None or value is None or np.any(value != 0) or g.attrs(pad).get("mode", "constant") != "constant":
            return 0
        if int_arg(g, pad, 3) is not None or a.get("auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET"):
            return 0
        r = len(pads) // 2
        if r < 3 or min(pads) < 0 or any(pads[i] or pads[i + r] for i in (0, 1)):
            return 0
        spatial = r - 2
        if is_op(g, node, "AveragePool"):
            own = a.get("pads") or [0] * (2 * spatial)
            if a.get("ceil_mode", 0) or (any(own) and not a.get("count_include_pad", 0)):
                return 0
            a["count_include_pad"] = 1
        old = list(a.get("pads") or [0] * (2 * spatial))
        a["pads"] = [old[i] + pads[2 + i] for i in range(spatial)] + \
                    [old[spatial + i] + pads[r + 2 + i] for i in range(spatial)]
        bypass(g, pad, ins[0])
        return 1
