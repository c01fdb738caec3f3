"""Every real-Keras fixture in tests/fixtures/keras, in every format it was saved in, imported and run
through ONNX Runtime unoptimized (O0) and after the pass pipeline (O2), against the outputs Keras
computed: max|graphc - keras| / max|keras| <= 1e-4."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graphc.importers.keras import load

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
MANIFEST = json.loads((DIR / "MANIFEST.json").read_text()) if (DIR / "MANIFEST.json").exists() else {"fixtures": []}
# fixtures that must not import, with the reason (their refusal is tested in test_bad_input.py)
REFUSED = {"lambda_marker": "a Lambda layer is refused on purpose"}


def _cases():
    for f in MANIFEST["fixtures"]:
        for fmt, file in f["files"].items():
            if fmt == "weights":
                continue
            marks = []
            if f["name"] in REFUSED:
                marks.append(pytest.mark.xfail(reason=REFUSED[f["name"]], strict=True))
            yield pytest.param(f, fmt, file, id=f"{f['name']}-{fmt}", marks=marks)


def reference(npz, i):
    # avgpool 'same' with asymmetric padding: Keras's torch backend replicates edges; the TF/JAX
    # backends (and Keras's documented semantics, which graphc follows) leave the padding out
    key = f"tfbackend_output_{i}"
    return npz[key] if key in npz.files else npz[f"output_{i}"]


@pytest.mark.parametrize("opt_level", ["O0", "O2"])
@pytest.mark.parametrize("fixture,fmt,file", list(_cases()))
def test_fixture_matches_keras(fixture, fmt, file, opt_level):
    npz = np.load(DIR / (fixture.get("npz_k2") if fmt == "keras2_h5" else fixture["npz"]))
    model = load(DIR / file)
    inputs = [npz[f"input_{i}"] for i in range(len(fixture["input_shapes"]))]
    outs = model.predict(inputs, opt_level=opt_level)
    outs = outs if isinstance(outs, list) else [outs]
    assert len(outs) == len(fixture["output_shapes"])
    for i, got in enumerate(outs):
        ref = reference(npz, i)
        assert got.shape == ref.shape, f"output {i}: shape {got.shape}, Keras {ref.shape}"
        err = np.abs(got.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-12)
        assert err <= 1e-4, f"output {i}: relative error {err:.2e}"
