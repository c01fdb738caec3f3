"""DL4J's weight distributions (`.weight_init(WeightInit.DISTRIBUTION).dist(...)`) as Keras initializers."""
from __future__ import annotations

from graphc.dl4j.builder import Buildable


class Distribution(Buildable):
    def initializer(self, seed=None):
        raise NotImplementedError


class NormalDistribution(Distribution):
    FIELDS = {"mean": 0.0, "std": 1.0}
    POSITIONAL = ("mean", "std")

    def initializer(self, seed=None):
        from graphc.nn.initializers import RandomNormal

        return RandomNormal(self.mean, self.std, seed=seed)


class GaussianDistribution(NormalDistribution):
    pass


class UniformDistribution(Distribution):
    FIELDS = {"lower": -1.0, "upper": 1.0}
    POSITIONAL = ("lower", "upper")

    def initializer(self, seed=None):
        from graphc.nn.initializers import RandomUniform

        return RandomUniform(self.lower, self.upper, seed=seed)


class ConstantDistribution(Distribution):
    FIELDS = {"value": 0.0}
    POSITIONAL = ("value",)

    def initializer(self, seed=None):
        from graphc.nn.initializers import Constant

        return Constant(self.value)
