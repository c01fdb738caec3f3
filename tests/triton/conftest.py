"""The Triton tier runs the generated kernels on triton's CPU interpreter: TRITON_INTERPRET=1 is
set here, before anything imports triton (triton reads it when its own library is defined).
Programs are cached in a temporary directory per test session."""
from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("torch")
pytest.importorskip("triton")


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    old = os.environ.get("GRAPHC_CACHE_DIR")
    os.environ["GRAPHC_CACHE_DIR"] = str(tmp_path_factory.mktemp("graphc-cache"))
    yield
    if old is None:
        os.environ.pop("GRAPHC_CACHE_DIR", None)
    else:
        os.environ["GRAPHC_CACHE_DIR"] = old


def compile_both(model, **kw):
    """(Triton executable under the interpreter, ONNX Runtime executable) of one model."""
    import graphc

    return graphc.compile(model, target="triton", interpret=True, **kw), graphc.compile(model, threads=1)


def assert_close(got, want, rtol):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = max(float(np.abs(want).max()), 1e-6) if want.size else 1.0
    err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) / scale if want.size else 0.0
    assert err <= rtol, f"relative error {err:.3g} > {rtol}"


def check_against_ort(model, feeds, rtol=1e-5, **kw):
    """Run `model` on both backends with `feeds`, compare every output; the Triton executable."""
    tri, ort = compile_both(model, **kw)
    got, want = tri.run(feeds), ort.run(feeds)
    assert list(got) == list(want)
    for k in want:
        assert_close(got[k], want[k], rtol)
    return tri
