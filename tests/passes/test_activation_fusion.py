import numpy as np

from graphc.ir import Graph
from graphc.lower.onnx import to_onnx
from graphc.passes import ActivationFusion
from graphc.runtime.ort import OrtExecutable
from tests.passes.helpers import check, const, evaluate, f32, rand, random_inputs

_ACTS = [("Relu", [], {}), ("Tanh", [], {}), ("Sigmoid", [], {}), ("LeakyRelu", [], {"alpha": 0.2}),
         ("HardSigmoid", [], {"alpha": 0.3, "beta": 0.4}), ("Clip", [0.0, 6.0], {}), ("Clip", [None, 1.0], {})]


def _graph():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 5, 5))
    a = g.add_input("a", f32(2, 4))
    for i, (act, bounds, attrs) in enumerate(_ACTS):
        c = g.add_node("Conv", [x, const(g, rand(4, 3, 3, 3, seed=i)), const(g, rand(4))], {"pads": [1, 1, 1, 1]})
        args = [None if b is None else const(g, b) for b in bounds]
        g.add_output(f"conv_{i}", (g.add_node(act, [(c, 0)] + args, attrs), 0))
        gm = g.add_node("Gemm", [a, const(g, rand(4, 3, seed=i)), const(g, rand(3))])
        g.add_output(f"gemm_{i}", (g.add_node(act, [(gm, 0)] + args, attrs), 0))
        ad = g.add_node("Add", [x, const(g, rand(5, seed=i))])
        g.add_output(f"add_{i}", (g.add_node(act, [(ad, 0)] + args, attrs), 0))
    return g


def test_fuses_every_activation_and_matches_on_both_export_forms():
    g = _graph()
    out = check(g, [ActivationFusion()])
    counts = out.op_counts()
    assert counts["graphc.FusedConv"] == 7 and counts["graphc.FusedAdd"] == 7
    assert counts["graphc.FusedGemm"] == 5 and counts["Gemm"] == 2  # no Clip in FusedGemm
    feeds = random_inputs(g)
    model = to_onnx(out)  # com.microsoft kernels
    assert {n.op_type for n in model.graph.node if n.domain == "com.microsoft"} == {"FusedConv", "FusedGemm"}
    got = OrtExecutable(model, threads=1, label="fused").session.run(None, feeds)
    for w, h in zip(evaluate(g, feeds), got):
        np.testing.assert_allclose(h, w, rtol=1e-5, atol=1e-5)


def test_leaves_shared_outputs_double_and_dynamic_clip():
    g = Graph()
    x = g.add_input("x", f32(2, 3, 5, 5))
    c = g.add_node("Conv", [x, const(g, rand(4, 3, 1, 1))])
    g.add_output("relu", (g.add_node("Relu", [(c, 0)]), 0))
    g.add_output("conv", (c, 0))
    d = g.add_input("d", f32(2, 3))
    dd = g.add_node("Cast", [d], {"to": 11})
    ad = g.add_node("Add", [(dd, 0), (dd, 0)])
    g.add_output("double", (g.add_node("Relu", [(ad, 0)]), 0))
    hi = g.add_input("hi", f32())
    c2 = g.add_node("Conv", [x, const(g, rand(4, 3, 1, 1))])
    g.add_output("clip", (g.add_node("Clip", [(c2, 0), const(g, 0.0), hi]), 0))
    out = check(g, [ActivationFusion()], expect_change=False)
    assert not any(k.startswith("graphc.") for k in out.op_counts())
