"""NASNet and RegNet (X and Y) built by tf-keras 2.21 (Keras 3's torch backend cannot build NASNet,
Keras 3.15 has no RegNet), saved as legacy .h5, against tf-keras's own predict at O0 and O2.
RegNet's squeeze-excite and residual adds are TFOpLambda layers (tf.math.multiply,
tf.__operators__.add)."""
from __future__ import annotations

import pytest

from tests.keras.test_applications import data_transposes
from tests.keras.test_tf_functions import DIR, _functions_in, run


@pytest.mark.parametrize("opt", ["O0", "O2"])
@pytest.mark.parametrize("name", ["nasnet_tiny_k2", "regnetx_tiny_k2", "regnety_tiny_k2"])
def test_matches_tf_keras(name, opt):
    assert (DIR / f"{name}.h5").stat().st_size < 3 * 2**20
    model = run(name, opt)
    assert model.count_params() > 10_000
    if opt == "O2":  # NASNet's Cropping2D slices sit between its pads and pools: they must not pin NHWC
        n = data_transposes(model.executable(opt_level="O2").model)
        assert n <= 2, f"{name}: {n} Transposes left after O2 (only the NHWC edges may stay)"


def test_regnet_fixtures_hold_tf_functions():
    assert {"__operators__.add"} <= _functions_in(DIR / "regnetx_tiny_k2.h5")
    assert {"__operators__.add", "math.multiply"} <= _functions_in(DIR / "regnety_tiny_k2.h5")
