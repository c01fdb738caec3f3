"""Data without downloads: batch iterators, readers (IRIS, digits, MNIST IDX, LFW-style image
folders, CSV) and normalizers fitted on data."""
from graphc.data.csv_reader import read_csv
from graphc.data.datasets import (IrisDataSetIterator, Labeled, MnistDataSetIterator, load_digits, load_iris,
                                  load_mnist, one_hot, resize_bilinear)
from graphc.data.errors import DataError
from graphc.data.idx import read_idx, write_idx
from graphc.data.images import load_image_folder
from graphc.data.iterator import Batch, BatchIterator, Prefetch
from graphc.data.normalizers import (ImagePreProcessingScaler, Normalizer, NormalizerMinMaxScaler,
                                     NormalizerStandardize)
from graphc.data.normalizers import load as load_normalizer

DataSetIterator = BatchIterator  # DL4J's name

__all__ = ["Batch", "BatchIterator", "DataError", "DataSetIterator", "ImagePreProcessingScaler",
           "IrisDataSetIterator", "Labeled", "MnistDataSetIterator", "Normalizer", "NormalizerMinMaxScaler",
           "NormalizerStandardize", "Prefetch", "load_digits", "load_image_folder", "load_iris", "load_mnist",
           "load_normalizer", "one_hot", "read_csv", "read_idx", "resize_bilinear", "write_idx"]
