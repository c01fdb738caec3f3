"""Listing 2: a stacked denoising autoencoder, DL4J's configuration line for line, on scikit-learn's
handwritten digits (1,797 8x8 images in [0, 1]; nothing is downloaded).

Three AutoEncoders (Xavier, RMSE_XENT, 30 % masking noise) are pretrained layer by layer with
conjugate gradient, then, because backprop is off, the softmax output layer alone is trained on
their features (as DL4J does), and the test accuracy is reported.

    python examples/dl4j/stacked_autoencoder.py            # the full run
    python examples/dl4j/stacked_autoencoder.py --short    # a quick one (tests)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from graphc.data import load_digits, one_hot
from graphc.dl4j import (AutoEncoder, DataSet, GradientNormalization, LossFunction, MultiLayerNetwork,
                         NeuralNetConfiguration, OptimizationAlgorithm, OutputLayer, ScoreIterationListener, WeightInit)


def data(seed=123, n_test=397):
    d = load_digits(flatten=True)
    order = np.random.default_rng(seed).permutation(len(d.labels))
    x, y = d.features[order] / 16.0, one_hot(d.labels[order], 10)
    return DataSet(x[n_test:], y[n_test:]), DataSet(x[:n_test], y[:n_test])


def configuration(seed=123, iterations=1, num_rows=8, num_columns=8, output_num=10):
    return (NeuralNetConfiguration.Builder()
            .seed(seed)
            .gradient_normalization(GradientNormalization.CLIP_ELEMENT_WISE_ABSOLUTE_VALUE)
            .gradient_normalization_threshold(1.0)
            .iterations(iterations)
            .momentum(0.5)
            .momentum_after({3: 0.9})
            .optimization_algo(OptimizationAlgorithm.CONJUGATE_GRADIENT)
            .list(4)
            .layer(0, AutoEncoder.Builder().n_in(num_rows * num_columns).n_out(500)
                   .weight_init(WeightInit.XAVIER).loss_function(LossFunction.RMSE_XENT)
                   .corruption_level(0.3)
                   .build())
            .layer(1, AutoEncoder.Builder().n_in(500).n_out(250)
                   .weight_init(WeightInit.XAVIER).loss_function(LossFunction.RMSE_XENT)
                   .corruption_level(0.3)
                   .build())
            .layer(2, AutoEncoder.Builder().n_in(250).n_out(200)
                   .weight_init(WeightInit.XAVIER).loss_function(LossFunction.RMSE_XENT)
                   .corruption_level(0.3)
                   .build())
            .layer(3, OutputLayer.Builder(LossFunction.NEGATIVELOGLIKELIHOOD).activation("softmax")
                   .n_in(200).n_out(output_num).build())
            .pretrain(True).backprop(False)
            .build())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="one epoch on 700 training digits (a smoke run)")
    ap.add_argument("--epochs", type=int, default=None, help="passes over the training set")
    ap.add_argument("--iterations", type=int, default=None, help="conjugate-gradient iterations per mini-batch")
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args(argv)
    epochs = args.epochs or (1 if args.short else 2)
    iterations = args.iterations or 10
    train, test = data()
    if args.short:
        train = train.split_test_and_train(700)[0]
    model = MultiLayerNetwork(configuration(iterations=iterations))
    model.init()
    model.set_listeners(ScoreIterationListener(100))
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.fit(train.batch_by(args.batch))
    seconds = time.perf_counter() - t0
    ev = model.evaluate(test)
    print(ev.stats())
    print(f"stacked denoising autoencoder: test accuracy {ev.accuracy():.4f} after {epochs} epoch(s), "
          f"{iterations} CG iteration(s) per mini-batch; training {seconds:.1f} s")
    return ev.accuracy(), seconds


if __name__ == "__main__":
    main()
