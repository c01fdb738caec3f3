"""DL4J layer configurations (one family per file)."""
from graphc.dl4j.layers.base import FeedForwardLayerConf, LayerConf
from graphc.dl4j.layers.dense import DenseLayer, LossLayer, OutputLayer
