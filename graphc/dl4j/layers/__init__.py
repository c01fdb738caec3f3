"""DL4J layer configurations (one family per file)."""
from graphc.dl4j.layers.base import FeedForwardLayerConf, LayerConf
from graphc.dl4j.layers.dense import DenseLayer, LossLayer, OutputLayer
from graphc.dl4j.layers.convolution import ConvolutionLayer, SubsamplingLayer
from graphc.dl4j.layers.dropout import DropoutLayer
from graphc.dl4j.layers.embedding import EmbeddingLayer
from graphc.dl4j.layers.normalization import BatchNormalization, LocalResponseNormalization
from graphc.dl4j.layers.recurrent import GravesBidirectionalLSTM, GravesLSTM, LSTM, RnnOutputLayer, SimpleRnn
