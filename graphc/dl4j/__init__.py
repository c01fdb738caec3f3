"""graphc's Deeplearning4j front door: DL4J's configuration builders, layers and networks in Python
spelling, compiled onto graphc.nn and graphc's trainer (docs: the module docstrings of builder.py,
conf.py, multilayer.py)."""
from graphc.dl4j.builder import Buildable, ConfigError
from graphc.dl4j.dataset import DataSet
from graphc.dl4j.distributions import GaussianDistribution, NormalDistribution, UniformDistribution
from graphc.dl4j.enums import (Activation, BackpropType, ConvolutionMode, GradientNormalization, LearningRatePolicy,
                               LossFunction, OptimizationAlgorithm, PoolingType, Updater, WeightInit)
from graphc.dl4j.input_type import (CnnToFeedForwardPreProcessor, ConvolutionLayerSetup,
                                    FeedForwardToCnnPreProcessor, InputType, RnnToFeedForwardPreProcessor)
from graphc.dl4j.layers.base import LayerConf
from graphc.dl4j.conf import ListBuilder, MultiLayerConfiguration, NeuralNetConfiguration
from graphc.dl4j.layers import (BatchNormalization, ConvolutionLayer, DenseLayer, DropoutLayer, EmbeddingLayer,
                                FeedForwardLayerConf, LocalResponseNormalization, LossLayer, OutputLayer,
                                SubsamplingLayer)
from graphc.dl4j.multilayer import MultiLayerNetwork
from graphc.dl4j.layers.recurrent import GravesBidirectionalLSTM, GravesLSTM, LSTM, RnnOutputLayer, SimpleRnn
from graphc.dl4j.layers.pretrain import RBM, AutoEncoder, HiddenUnit, VisibleUnit
from graphc.dl4j.listeners import (CheckpointListener, CollectScoresIterationListener, EvaluativeListener,
                                   PerformanceListener, ScoreIterationListener, TrainingListener)
from graphc.dl4j.serializer import ModelSerializer
from graphc.dl4j.graph import (ComputationGraphConfiguration, DuplicateToTimeSeriesVertex, ElementWiseVertex,
                               GraphBuilder, L2NormalizeVertex, L2Vertex, LastTimeStepVertex, MergeVertex,
                               PreprocessorVertex, ScaleVertex, ShiftVertex, StackVertex, SubsetVertex, UnstackVertex)
from graphc.dl4j.graph.computation_graph import ComputationGraph, MultiDataSet
from graphc.dl4j.recursive import RNTN, BagOfWords, RecursiveAutoEncoder, Tree
