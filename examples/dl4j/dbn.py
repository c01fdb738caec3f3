"""A deep belief network on binarized handwritten digits (scikit-learn's 1,797 8x8 images, a pixel on
when it is at least 8 of 16; nothing is downloaded): two binary RBMs pretrained with contrastive
divergence (CD-1), layer by layer, then the whole stack with a softmax output fine-tuned by
backpropagation, and the test accuracy reported.

    python examples/dl4j/dbn.py            # the full run
    python examples/dl4j/dbn.py --short    # a quick one (tests)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from graphc.data import load_digits, one_hot
from graphc.dl4j import (RBM, DataSet, HiddenUnit, LossFunction, MultiLayerNetwork, NeuralNetConfiguration,
                         OptimizationAlgorithm, OutputLayer, ScoreIterationListener, Updater, VisibleUnit,
                         WeightInit)


def data(seed=123, n_test=397):
    d = load_digits(flatten=True)
    order = np.random.default_rng(seed).permutation(len(d.labels))
    x, y = (d.features[order] >= 8).astype(np.float32), one_hot(d.labels[order], 10)
    return DataSet(x[n_test:], y[n_test:]), DataSet(x[:n_test], y[:n_test])


def configuration(seed=123, k=1):
    return (NeuralNetConfiguration.Builder()
            .seed(seed)
            .iterations(1)
            .optimization_algo(OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT)
            .learning_rate(0.1)
            .updater(Updater.NESTEROVS).momentum(0.9)
            .weight_init(WeightInit.XAVIER)
            .list()
            .layer(0, RBM.Builder(HiddenUnit.BINARY, VisibleUnit.BINARY).n_in(64).n_out(256).k(k).build())
            .layer(1, RBM.Builder(HiddenUnit.BINARY, VisibleUnit.BINARY).n_in(256).n_out(128).k(k).build())
            .layer(2, OutputLayer.Builder(LossFunction.MCXENT).activation("softmax").n_in(128).n_out(10).build())
            .pretrain(True).backprop(True)
            .build())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="fewer fine-tuning epochs (a smoke run)")
    ap.add_argument("--epochs", type=int, default=None, help="fine-tuning passes over the training set")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args(argv)
    epochs = args.epochs or (3 if args.short else 30)
    train, test = data()
    model = MultiLayerNetwork(configuration())
    model.init()
    model.set_listeners(ScoreIterationListener(200))
    batches = train.batch_by(args.batch)
    t0 = time.perf_counter()
    model.fit(batches, num_epochs=epochs)  # pretrain(True): CD-1 layer by layer first, then fine-tuning
    seconds = time.perf_counter() - t0
    ev = model.evaluate(test)
    print(ev.stats())
    print(f"deep belief network: test accuracy {ev.accuracy():.4f} after CD-1 pretraining and {epochs} "
          f"fine-tuning epoch(s); training {seconds:.1f} s")
    return ev.accuracy(), seconds


if __name__ == "__main__":
    main()
