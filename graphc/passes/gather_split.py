"""Constant-index Gathers of one value along one axis -> one Split."""
from __future__ import annotations

import numpy as np

from graphc.ir import Graph
from graphc.ops.registry import norm_axis
from graphc.passes.base import Pass
from graphc.passes.predicates import movable, opset, tensor_type


class GatherToSplit(Pass):
    """Gather(x, t_i, axis=a) for several constant scalar indices t_i along an axis of static length
    L (the time steps an unrolled recurrent layer reads from its input projection) -> one
    Split(x, [1] * L, axis=a), each Gather becoming Squeeze(part t_i, [a]).

    The forward cost is the same; the point is the gradient. Differentiated as Gathers, each
    step's gradient is a scatter into a zero tensor of x's full size and autodiff sums the L of
    them: O(L^2) memory traffic. Differentiated as a Split, it is one Concat. The train step runs
    this pass before autodiff.

    Left alone: fewer than two such Gathers of a value, or ones covering less than half of the
    axis (the unread parts would be materialized), computed or non-scalar indices, a symbolic or
    unknown axis length, graphs below opset 13 (Split's sizes and Squeeze's axes as inputs), and
    If/Loop/Scan bodies.
    """

    name = "gather-to-split"

    def run(self, g: Graph) -> int:
        if opset(g) < 13:
            return 0
        groups: dict = {}
        for n, d in list(g.node_items()):
            if d["op"] != "Gather" or d["domain"] or not movable(g, n):
                continue
            x, idx = g.input_values(n)
            k, t = g.const_value(idx), tensor_type(g, x)
            if k is None or np.ndim(k) != 0 or not np.issubdtype(np.asarray(k).dtype, np.integer) or t is None \
                    or t.rank == 0:
                continue
            axis = norm_axis(int(d["attrs"].get("axis", 0)), t.rank)
            length = t.shape[axis]
            i = int(k) + (length if isinstance(length, int) and int(k) < 0 else 0)
            if isinstance(length, int) and 0 <= i < length:
                groups.setdefault((x, axis), []).append((n, i))
        done = 0
        for (x, axis), members in groups.items():
            t = g.type_of(x)
            length = t.shape[axis]
            if len(members) < 2 or 2 * len({i for _, i in members}) < length:
                continue
            part = t.with_shape(tuple(1 if j == axis else s for j, s in enumerate(t.shape)))
            sizes = g.add_constant(np.ones(length, np.int64), name=f"{x[0]}_split_sizes")
            split = g.add_node("Split", [x, sizes], {"axis": axis}, outputs=[part] * length, name=f"{x[0]}_split")
            axes = g.add_constant(np.asarray([axis], np.int64), name=f"{x[0]}_split_axis")
            for n, i in members:
                sq = g.add_node("Squeeze", [(split, i), axes], outputs=[g.type_of((n, 0))], name=f"{n}_part",
                                names=g.data(n)["names"])
                g.replace_uses((n, 0), (sq, 0))
                g.remove_node(n)
            done += 1
        return done
