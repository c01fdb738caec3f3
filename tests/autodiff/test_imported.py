"""Imported Keras models (the fixtures of tests/fixtures/keras): every one differentiates into a
gradient graph that exports, the recurrent layers over unknown lengths (one ONNX Scan) included; a
few go through gradcheck, a variable-length one among them."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

import graphc
from graphc.autodiff import gradient_graph
from graphc.errors import GraphcError
from graphc.gradcheck import check_gradients
from graphc.lower.onnx import to_onnx

HERE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras")
FIXTURES = sorted(glob.glob(os.path.join(HERE, "*.keras")) + glob.glob(os.path.join(HERE, "*.h5")))


def _with_loss(model):
    g = model.graph
    y = g.outputs[0][1]
    return g, (g.add_node("ReduceSumSquare", [y], {"keepdims": 0}, name="gradcheck/loss"), 0)


def test_every_imported_fixture_differentiates():
    assert len(FIXTURES) > 100
    built, scans = 0, 0
    for path in FIXTURES:
        try:
            model = graphc.load(path)
        except GraphcError:  # the fixtures of bad input (Lambda code, malformed files)
            continue
        g, loss = _with_loss(model)
        to_onnx(gradient_graph(g, loss))
        built += 1
        scans += "Scan" in g.op_counts()
    assert built > 150 and scans > 0


def _feeds(g, rng):
    feeds = {}
    for n in g.inputs:
        t = g.type_of((n, 0))
        shape = tuple(2 if not isinstance(d, int) else d for d in t.shape)
        feeds[n] = rng.integers(0, 3, shape) if t.dtype.kind in "iu" else rng.standard_normal(shape)
    return feeds


@pytest.mark.parametrize("name", ["batchnorm_conv.keras", "attention_dot.keras", "avgpool_same_asym.keras",
                                  "bench_small_cnn.keras", "varlen_bidi_lstm_seq.keras",
                                  "varlen_gru_backwards_state.keras", "varlen_masking_lstm.keras"])
def test_imported_models_pass_gradcheck(name):
    """With respect to the weights and the float inputs."""
    g, loss = _with_loss(graphc.load(os.path.join(HERE, name)))
    feeds = _feeds(g, np.random.default_rng(0))
    wrt = g.variables() + [n for n in g.inputs if feeds[n].dtype.kind == "f"]
    result = check_gradients(g, loss, feeds=feeds, wrt=wrt, max_per_param=6)
    assert result.params and result.passed, result.report()  # (a weight of another output has none)
