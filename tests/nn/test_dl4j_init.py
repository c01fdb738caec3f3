"""DL4J's WeightInit names in graphc.nn.initializers.get: each draws DL4J's law (WeightInitUtil), checked
by its moments on large dense and conv kernels; seeded draws repeat; Keras's lower-case names keep
Keras's meaning; bad names, distributions and shapes are refused with a GraphcError."""
import math

import numpy as np
import pytest

from graphc.errors import GraphcError
from graphc.nn import initializers as I

DENSE, CONV = (400, 600), (5, 5, 48, 64)  # fans (400, 600) and (1200, 1600)
FANS = {DENSE: (400, 600), CONV: (1200, 1600)}

# name -> (law, parameter from (fan_in, fan_out)): "normal" its variance, "uniform" its bound
LAWS = {
    "XAVIER": ("normal", lambda i, o: 2.0 / (i + o)),
    "XAVIER_UNIFORM": ("uniform", lambda i, o: math.sqrt(6.0 / (i + o))),
    "XAVIER_FAN_IN": ("normal", lambda i, o: 1.0 / i),
    "NORMAL": ("normal", lambda i, o: 1.0 / i),
    "LECUN_NORMAL": ("normal", lambda i, o: 1.0 / i),
    "RELU": ("normal", lambda i, o: 2.0 / i),
    "RELU_UNIFORM": ("uniform", lambda i, o: math.sqrt(6.0 / i)),
    "SIGMOID_UNIFORM": ("uniform", lambda i, o: 4.0 * math.sqrt(6.0 / (i + o))),
    "UNIFORM": ("uniform", lambda i, o: 1.0 / math.sqrt(i)),
    "LECUN_UNIFORM": ("uniform", lambda i, o: 3.0 / math.sqrt(i)),
    "VAR_SCALING_NORMAL_FAN_OUT": ("normal", lambda i, o: 1.0 / o),
    "VAR_SCALING_UNIFORM_FAN_AVG": ("uniform", lambda i, o: 3.0 / math.sqrt((i + o) / 2)),
}


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", sorted(LAWS))
def test_moments(name, shape):
    w = I.get(name, seed=5)(shape, np.float64)
    law, param = LAWS[name]
    p = param(*FANS[shape])
    assert abs(w.mean()) < 4 * math.sqrt(p if law == "normal" else p * p / 3) / math.sqrt(w.size)
    if law == "normal":
        assert w.var() == pytest.approx(p, rel=0.03)
        kurtosis = np.mean((w - w.mean()) ** 4) / w.var() ** 2
        assert kurtosis == pytest.approx(3.0, abs=0.1)  # untruncated (a truncated normal's is ~2.4)
    else:
        assert np.abs(w).max() <= p and np.abs(w).max() > 0.99 * p
        assert w.var() == pytest.approx(p * p / 3, rel=0.03)


def test_constant_schemes_and_legacy():
    assert np.array_equal(I.get("ZERO")((3, 4)), np.zeros((3, 4)))
    assert np.array_equal(I.get("ONES")((3, 4)), np.ones((3, 4)))
    assert np.array_equal(I.get("IDENTITY")((5, 5)), np.eye(5))
    w = I.get("XAVIER_LEGACY", seed=1)(CONV, np.float64)  # the channels, not the fans: 1/(48+64)
    assert w.var() == pytest.approx(1.0 / 112, rel=0.03)


def test_seeded_and_case_insensitive():
    a, b = I.get("XAVIER", seed=3)(DENSE), I.get("xavier", seed=3)(DENSE)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, I.get("XAVIER", seed=4)(DENSE))
    unseeded = I.get("Relu_Uniform")
    assert not np.array_equal(unseeded((50, 50)), unseeded((50, 50)))
    from graphc.dl4j.enums import WeightInit

    assert np.array_equal(I.get(WeightInit.RELU, seed=3)(DENSE), I.get("RELU", seed=3)(DENSE))
    # Keras's lower-case names keep Keras's meaning; DL4J's spelling gives DL4J's
    assert isinstance(I.get("uniform"), I.RandomUniform)
    assert np.abs(I.get("UNIFORM", seed=0)((400, 10))).max() <= 1 / 20
    assert I.get("lecun_normal").distribution == "truncated_normal"
    assert I.get("LECUN_NORMAL").distribution == "untruncated_normal"


def test_distribution():
    from graphc.dl4j.distributions import NormalDistribution

    for dist in (NormalDistribution(0.5, 2.0), {"@class": "org.deeplearning4j.nn.conf.distribution.NormalDistribution",
                                                "mean": 0.5, "std": 2.0}, I.RandomNormal(0.5, 2.0, seed=2)):
        w = I.get("DISTRIBUTION", seed=2, dist=dist)((300, 300), np.float64)
        assert w.mean() == pytest.approx(0.5, abs=0.03) and w.std() == pytest.approx(2.0, rel=0.02)
    u = I.get("DISTRIBUTION", seed=2, dist={"@class": "UniformDistribution", "lower": -3, "upper": 1})((100, 100))
    assert u.min() >= -3 and u.max() <= 1 and u.mean() == pytest.approx(-1.0, abs=0.05)


def test_refused():
    for call, match in ((lambda: I.get("XAVIER_NORMAL"), "DL4J names"),
                        (lambda: I.get("DISTRIBUTION"), "needs dist"),
                        (lambda: I.get("DISTRIBUTION", dist={"@class": "BinomialDistribution"}), "needs dist"),
                        (lambda: I.get("IDENTITY")((3, 4)), "square"),
                        (lambda: I.get("XAVIER_LEGACY")((7,)), "rank 2")):
        with pytest.raises(GraphcError, match=match):
            call()
