"""Layer state belongs to the models: building models leaves nothing behind in the process (no
trace graph, names held only by live layers), names are unique among live layers, and files keep
their own names."""
from __future__ import annotations

import gc
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np

from graphc import nn
from graphc.importers.keras import load as load_keras
from graphc.nn.names import NAMES, split_name

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def _toy():
    x = nn.Input((8,))
    y = nn.Dense(2)(nn.Dropout(0.2)(nn.Dense(4, activation="relu")(x)))
    return nn.Model(x, y)


def test_thousand_models_leave_no_growth():
    for _ in range(20):  # warm caches (op schemas, imports) before measuring
        _toy()
    gc.collect()
    names_before = len(NAMES)
    tracemalloc.start()
    try:
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            _toy()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert len(NAMES) == names_before
    # one toy model holds ~10 kB; a trace kept per model would grow by megabytes
    assert grown < 200_000, f"{grown} bytes left behind by 1,000 models"


def test_default_names_unique_among_live_layers_and_freed_with_them():
    a, b = nn.Dense(1), nn.Dense(1)
    assert a.name != b.name and split_name(a.name)[0] == split_name(b.name)[0] == "dense"
    first = min((a.name, b.name), key=lambda n: split_name(n)[1])
    del a, b
    gc.collect()
    # the lowest free suffix is taken: a freed name comes back unless a lower one was free already
    # (other live Dense layers of this process, from other tests, may hold any suffix)
    c = nn.Dense(1)
    assert split_name(c.name)[1] <= split_name(first)[1]


def test_explicit_names_are_stepped_around():
    held = nn.Dense(1, name="conv_7")
    others = [nn.Conv2D(1, 1) for _ in range(10)]
    assert held.name == "conv_7" and "conv_7" not in {l.name for l in others}
    assert len({l.name for l in others}) == 10


def test_imported_model_keeps_its_file_names():
    path = FIXTURES / "batchnorm_conv.keras"
    names = [l["config"]["name"] for l in json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["layers"]]
    model = load_keras(path)
    assert [l.name for l in model.layers] == names == ["input_layer", "conv2d", "batch_normalization", "re_lu"]
    again = load_keras(path)  # a second import keeps the file's names too
    assert [l.name for l in again.layers] == names
    assert nn.Conv2D(1, 1).name not in names  # a new layer steps around the live imported ones


def test_model_trace_is_its_own():
    """Two models built from the same layers read the same weights, each in a graph of its own."""
    d = nn.Dense(3)
    m1 = nn.Model(x1 := nn.Input((4,)), d(x1))
    m2 = nn.Model(x2 := nn.Input((4,)), d(x2))
    assert m1.graph is not m2.graph and len(m1.graph) == len(m2.graph)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(m1.predict(x, opt_level="O0"), m2.predict(x, opt_level="O0"))
    assert d.output_shape == (None, 3)
