"""The three ComputationGraphs of the seed's listing 4 through graphc's DL4J front door, each
trained to a falling loss on data every machine has (nothing is downloaded):

1. an LSTM with a skip connection: the input and L1 (a GravesLSTM) both feed L2, an RnnOutputLayer
   (n_in 5 + 5), on random symbol sequences whose label at each step is the symbol before it
   (L1 must remember; the skip hands L2 the current symbol);
2. two inputs merged by a MergeVertex into an output layer: scikit-learn's 8x8 digits, the top
   half of each image one input and the bottom half the other;
3. one hidden layer feeding two outputs with their own losses (multi-task): the digit's class
   (NEGATIVELOGLIKELIHOOD, softmax) and the ink in its top and bottom halves (MSE, identity).

    python examples/dl4j/computation_graph.py             # 400 steps per graph
    python examples/dl4j/computation_graph.py --steps 20  # a short run

Prints, per graph, the score of its first and last steps and a held-out result; `--out DIR`
writes them to computation_graph_result.json there.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from graphc.data import load_digits, one_hot
from graphc.dl4j import (ComputationGraph, DataSet, DenseLayer, GravesLSTM, InputType, LossFunction, MergeVertex,
                         MultiDataSet, NeuralNetConfiguration, OutputLayer, RnnOutputLayer, Updater, WeightInit)


def lstm_skip_graph(seed=12345):
    return (NeuralNetConfiguration.Builder().seed(seed).learning_rate(0.05).updater(Updater.RMSPROP)
            .weight_init(WeightInit.XAVIER)
            .graph_builder()
            .add_inputs("input")
            .add_layer("L1", GravesLSTM.Builder().n_in(5).n_out(5).activation("tanh").build(), "input")
            .add_layer("L2", RnnOutputLayer.Builder(LossFunction.MCXENT).n_in(5 + 5).n_out(5)
                       .activation("softmax").build(), "input", "L1")
            .set_outputs("L2")
            .build())


def merge_graph(seed=12345):
    return (NeuralNetConfiguration.Builder().seed(seed).learning_rate(0.01).updater(Updater.ADAM)
            .weight_init(WeightInit.XAVIER)
            .graph_builder()
            .add_inputs("input1", "input2")
            .add_layer("L1", DenseLayer.Builder().n_in(32).n_out(16).activation("relu").build(), "input1")
            .add_layer("L2", DenseLayer.Builder().n_in(32).n_out(16).activation("relu").build(), "input2")
            .add_vertex("merge", MergeVertex(), "L1", "L2")
            .add_layer("out", OutputLayer.Builder(LossFunction.MCXENT).n_in(16 + 16).n_out(10)
                       .activation("softmax").build(), "merge")
            .set_outputs("out")
            .build())


def multi_task_graph(seed=12345):
    return (NeuralNetConfiguration.Builder().seed(seed).learning_rate(0.01).updater(Updater.ADAM)
            .weight_init(WeightInit.XAVIER)
            .graph_builder()
            .add_inputs("input")
            .add_layer("L1", DenseLayer.Builder().n_in(64).n_out(32).activation("relu").build(), "input")
            .add_layer("out1", OutputLayer.Builder(LossFunction.NEGATIVELOGLIKELIHOOD).n_in(32).n_out(10)
                       .activation("softmax").build(), "L1")
            .add_layer("out2", OutputLayer.Builder(LossFunction.MSE).n_in(32).n_out(2)
                       .activation("identity").build(), "L1")
            .set_outputs("out1", "out2")
            .set_input_types(InputType.feed_forward(64))
            .build())


def sequences(n, steps, seed):
    """One-hot symbol sequences [n, 5, steps]; the label at step t is the symbol at t - 1 (the first
    step's label is the last symbol, which no network can know)."""
    idx = np.random.default_rng(seed).integers(0, 5, (n, steps))
    eye = np.eye(5, dtype=np.float32)
    return eye[idx].transpose(0, 2, 1), eye[np.roll(idx, 1, axis=1)].transpose(0, 2, 1)


def digits(seed=0):
    d = load_digits()
    x = np.clip(d.features.reshape(len(d.features), 64) / 16.0, 0, 1).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], one_hot(d.labels[order], 10)
    cut = int(0.8 * len(x))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def batches(n, size, rng):
    order = rng.permutation(n)
    while True:
        for i in range(0, n - size + 1, size):
            yield order[i:i + size]
        order = rng.permutation(n)


def train(net, make_batch, steps):
    scores = []
    for _ in range(steps):
        net.fit(make_batch())
        scores.append(net.score())
    return scores


def run(steps=400, batch=32, seed=0, print_fn=print) -> dict:
    rng = np.random.default_rng(seed)
    results = {}

    t0 = time.perf_counter()
    net = ComputationGraph(lstm_skip_graph()).init()
    x, y = sequences(512, 10, seed)
    xt, yt = sequences(128, 10, seed + 1)
    pick = batches(len(x), batch, rng)
    scores = train(net, lambda: (lambda i: DataSet(x[i], y[i]))(next(pick)), steps)
    ev = net.evaluate(DataSet(xt[:, :, 1:], yt[:, :, 1:]))  # steps after the first: knowable
    results["lstm_skip"] = dict(first_score=scores[0], last_score=scores[-1], test_accuracy=ev.accuracy(),
                                seconds=time.perf_counter() - t0)

    (x, y), (xt, yt) = digits(seed)
    t0 = time.perf_counter()
    net = ComputationGraph(merge_graph()).init()
    pick = batches(len(x), batch, rng)
    scores = train(net, lambda: (lambda i: MultiDataSet([x[i, :32], x[i, 32:]], [y[i]]))(next(pick)), steps)
    ev = net.evaluate(MultiDataSet([xt[:, :32], xt[:, 32:]], [yt]))
    results["merge"] = dict(first_score=scores[0], last_score=scores[-1], test_accuracy=ev.accuracy(),
                            seconds=time.perf_counter() - t0)

    t0 = time.perf_counter()
    ink = np.stack([x[:, :32].mean(1), x[:, 32:].mean(1)], 1).astype(np.float32)
    ink_t = np.stack([xt[:, :32].mean(1), xt[:, 32:].mean(1)], 1).astype(np.float32)
    net = ComputationGraph(multi_task_graph()).init()
    pick = batches(len(x), batch, rng)
    scores = train(net, lambda: (lambda i: MultiDataSet([x[i]], [y[i], ink[i]]))(next(pick)), steps)
    classes, ink_pred = net.output(xt)
    results["multi_task"] = dict(first_score=scores[0], last_score=scores[-1],
                                 test_accuracy=float(np.mean(classes.argmax(1) == yt.argmax(1))),
                                 test_ink_mse=float(np.mean((ink_pred - ink_t) ** 2)),
                                 seconds=time.perf_counter() - t0)
    for name, r in results.items():
        extra = f", test ink MSE {r['test_ink_mse']:.5f}" if "test_ink_mse" in r else ""
        print_fn(f"{name:10s} score {r['first_score']:.4f} -> {r['last_score']:.4f} in {steps} steps, "
                 f"test accuracy {r['test_accuracy']:.4f}{extra} ({r['seconds']:.1f} s)")
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400, help="training steps (mini-batches) per graph")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for computation_graph_result.json")
    args = p.parse_args(argv)
    results = run(args.steps, args.batch, args.seed)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "computation_graph_result.json"), "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
