"""graphc.dl4j core: builders, configuration, feed-forward/CNN layers, MultiLayerNetwork, JSON,
ModelSerializer, listeners, the LeNet example."""
import json

import numpy as np
import pytest

import graphc.dl4j as dl4j
from graphc.dl4j import (Activation, ConfigError, DenseLayer, InputType, LossFunction, NormalDistribution,
                         OutputLayer, WeightInit)
from graphc.errors import GraphcError


# ---- builders ----------------------------------------------------------------------------------
def test_builder_chain_equals_keywords():
    a = DenseLayer(n_in=3, n_out=4, activation="tanh", weight_init=WeightInit.XAVIER)
    b = DenseLayer.Builder().n_in(3).n_out(4).activation(Activation.TANH).weight_init("xavier").build()
    assert a == b
    assert a != DenseLayer(n_in=3, n_out=5, activation="tanh", weight_init=WeightInit.XAVIER)
    out = OutputLayer.Builder(LossFunction.MCXENT).n_out(3).activation("softmax").build()
    assert out == OutputLayer(LossFunction.MCXENT, n_out=3, activation="softmax")
    assert out.loss_function is LossFunction.MCXENT and out.is_output
    assert NormalDistribution(0, 0.01) == NormalDistribution.Builder(0, 0.01).build()


def test_unknown_setter_and_field_name_class_and_field():
    with pytest.raises(ConfigError, match=r"DenseLayer.Builder has no setting 'n_outs'"):
        DenseLayer.Builder().n_outs(3)
    with pytest.raises(ConfigError, match=r"DenseLayer has no field\(s\) \['units'\]"):
        DenseLayer(units=3)
    with pytest.raises(ConfigError, match="not a Activation|is not a Activation"):
        DenseLayer(activation="nonsense")
    assert issubclass(ConfigError, GraphcError)


def test_to_dict_round_trip_through_json():
    layer = DenseLayer(n_in=3, n_out=4, activation="relu", weight_init=WeightInit.DISTRIBUTION,
                       dist=NormalDistribution(0.0, 0.5), l2=1e-3)
    d = json.loads(json.dumps(layer.to_dict()))
    assert d["@class"] == "DenseLayer" and d["dist"]["@class"] == "NormalDistribution"
    assert dl4j.Buildable.from_dict(d) == layer
