import numpy as np

from graphc.ir import Graph
from graphc.passes import PadFolding
from tests.passes.helpers import check, const, f32, ops, rand


def test_zero_pad_folds_into_conv_and_average_pool():
    g = Graph()
    x = g.add_input("x", f32(1, 2, 6, 6))
    p = g.add_node("Pad", [x, const(g, [0, 0, 1, 0, 0, 0, 2, 1], np.int64)])
    c = g.add_node("Conv", [(p, 0), const(g, rand(3, 2, 3, 3))], {"pads": [1, 1, 1, 1]})
    g.add_output("conv", (c, 0))
    p2 = g.add_node("Pad", [x, const(g, [0, 0, 1, 1, 0, 0, 1, 1], np.int64), const(g, 0.0)])
    a = g.add_node("AveragePool", [(p2, 0)], {"kernel_shape": [3, 3]})
    g.add_output("pool", (a, 0))
    out = check(g, [PadFolding()])
    assert ops(out) == ["AveragePool", "Conv"]


def test_leaves_nonzero_reflect_channel_pads_maxpool_and_excluding_average():
    g = Graph()
    x = g.add_input("x", f32(1, 2, 6, 6))
    w = const(g, rand(3, 2, 3, 3))
    pads = [0, 0, 1, 1, 0, 0, 1, 1]
    cases = [
        ("Conv", [const(g, pads, np.int64), const(g, 1.0)], {}, {}),
        ("Conv", [const(g, pads, np.int64)], {"mode": "reflect"}, {}),
        ("Conv", [const(g, [0, 1, 0, 0, 0, 0, 0, 0], np.int64)], {}, {}),
        ("MaxPool", [const(g, pads, np.int64)], {}, {"kernel_shape": [2, 2]}),
        ("AveragePool", [const(g, pads, np.int64)], {}, {"kernel_shape": [2, 2], "pads": [1, 1, 1, 1]}),
    ]
    for i, (op, args, pad_attrs, attrs) in enumerate(cases):
        p = g.add_node("Pad", [x] + args, pad_attrs)
        wi = const(g, rand(3, 3, 3, 3)) if i == 2 else w  # the channel pad makes 3 input channels
        n = g.add_node(op, [(p, 0), wi] if op == "Conv" else [(p, 0)], attrs)
        g.add_output(f"y{i}", (n, 0))
    out = check(g, [PadFolding()], expect_change=False)
    assert ops(out).count("Pad") == 5
