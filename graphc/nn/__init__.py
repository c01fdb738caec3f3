"""The layer library: Keras-configured layers emitting IR, the functional API and Sequential."""
from graphc.nn.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from graphc.nn.attention import AdditiveAttention, Attention, MultiHeadAttention
from graphc.nn.base import Emitter, KerasTensor, Layer, Weight
from graphc.nn.conv import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose,
                            DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D)
from graphc.nn.conv_recurrent import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from graphc.nn.core import Activation, Dense, EinsumDense, Embedding, Identity, Masking
from graphc.nn.merging import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from graphc.nn.model import Input, InputLayer, Model, Sequential
from graphc.nn.normalization import (BatchNormalization, GroupNormalization, LayerNormalization,
                                     RMSNormalization, UnitNormalization)
from graphc.nn.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                               GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D,
                               GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)
from graphc.nn.regularization import (ActivityRegularization, AlphaDropout, Dropout, GaussianDropout, GaussianNoise,
                                      SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
from graphc.nn.preprocessing import CenterCrop, Normalization, Rescaling, Resizing
from graphc.nn.recurrent import GRU, LSTM, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell
from graphc.nn.reshaping import (Cropping1D, Cropping2D, Cropping3D, Flatten, Permute, RepeatVector, Reshape,
                                 UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
                                 ZeroPadding3D)
from graphc.nn.wrappers import Bidirectional, TimeDistributed

Functional = Model
