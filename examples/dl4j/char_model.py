"""A character-level text model through graphc's DL4J front door: the seed's listing 1 line for line
in Python spelling (two GravesLSTM tanh layers, an RnnOutputLayer with MCXENT and softmax, RMSPROP,
L2, XAVIER, truncated BPTT), trained on text every Python installation has: the docstrings of
standard-library modules, collected when the script starts (nothing is downloaded).

    python examples/dl4j/char_model.py                    # the full run (see --help for the sizes)
    python examples/dl4j/char_model.py --minibatches 3    # a shortened run

Every `--sample-every` minibatches the network writes `--samples` continuations of `--init`, one
character at a time through the stateful `rnn_time_step`. `ScoreIterationListener(1)` prints the
score of every iteration (one TBPTT segment each). At the end: the first and last scores, the time,
and one sample; `--out DIR` also writes char_model_result.json and scores.png there.

Two changes from the listing. Sizes: smaller than DL4J's example (200 units, 1000-character
sequences), so that a run fits in two minutes on two shared CPU cores. The learning rate
(`--learning-rate`, 0.01): DL4J's RMSProp starts its average of squared gradients at epsilon, so
its first steps move every weight by about lr / sqrt(1 - rms_decay) = 4.5 lr; at the listing's 0.1
(0.45 per weight) the score jumped from 108 to 184 in the first ten iterations and then stayed at
the level of character frequencies (~100 per 30 steps, 3.3 nats a character) for 200 iterations,
where 0.01 went on down to 71 (measured here with 64 units).
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import string
import time

import numpy as np

from graphc.dl4j import (BackpropType, DataSet, GravesLSTM, LossFunction, MultiLayerNetwork, NeuralNetConfiguration,
                         OptimizationAlgorithm, RnnOutputLayer, Updater, WeightInit)
from graphc.dl4j.listeners import CollectScoresIterationListener, ScoreIterationListener

# modules whose docstrings make the corpus: plain English with code, present in every CPython
STDLIB_MODULES = ("abc", "argparse", "base64", "bisect", "calendar", "collections", "contextlib", "copy", "csv",
                  "dataclasses", "datetime", "decimal", "difflib", "enum", "fractions", "functools", "glob", "gzip",
                  "hashlib", "heapq", "inspect", "io", "ipaddress", "itertools", "json", "logging", "operator",
                  "os", "pathlib", "pickle", "pprint", "queue", "random", "re", "shlex", "shutil", "socket",
                  "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading", "typing",
                  "unittest", "uuid", "warnings", "zipfile")


def stdlib_docstrings(modules=STDLIB_MODULES) -> str:
    """The docstrings of `modules` and of their public functions and classes, in a fixed order."""
    texts = []
    for name in modules:
        mod = importlib.import_module(name)
        texts.append(inspect.getdoc(mod) or "")
        for attr, obj in sorted(vars(mod).items()):
            if attr.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            doc = inspect.getdoc(obj) if inspect.isclass(obj) or inspect.isfunction(obj) else None
            if doc:
                texts.append(doc)
    return "\n\n".join(t for t in texts if t)


def minimal_character_set() -> list[str]:
    """DL4J's CharacterIterator.getMinimalCharacterSet: letters, digits, punctuation, space, newline, tab."""
    return list(string.ascii_letters + string.digits + "!&()?-'\"',.:;") + [" ", "\n", "\t"]


class CharacterIterator:
    """DL4J's CharacterIterator: minibatches of `example_length`-character windows of a text, one-hot
    features [batch, n_chars, time] and the next character as labels, windows in a shuffled order.
    Characters outside `valid_characters` are dropped from the text."""

    def __init__(self, text: str, minibatch_size: int, example_length: int, valid_characters=None, seed=12345):
        chars = valid_characters or minimal_character_set()
        self.chars = list(dict.fromkeys(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.text = np.asarray([self.index[c] for c in text if c in self.index], np.int64)
        if len(self.text) <= example_length + 1:
            raise ValueError(f"the text has {len(self.text)} usable characters; need more than {example_length + 1}")
        self.minibatch_size, self.example_length = int(minibatch_size), int(example_length)
        self.rng = np.random.default_rng(seed)
        self.reset()

    def input_columns(self) -> int:
        return len(self.chars)

    def total_outcomes(self) -> int:
        return len(self.chars)

    def convert_index_to_character(self, i: int) -> str:
        return self.chars[int(i)]

    def convert_character_to_index(self, c: str) -> int:
        return self.index[c]

    def get_random_character(self) -> str:
        return self.chars[int(self.rng.integers(len(self.chars)))]

    def reset(self) -> None:
        n = (len(self.text) - 1) // self.example_length
        self.offsets = list(self.rng.permutation(n) * self.example_length)

    def has_next(self) -> bool:
        return len(self.offsets) > 0

    def next(self) -> DataSet:
        take, self.offsets = self.offsets[:self.minibatch_size], self.offsets[self.minibatch_size:]
        n, length = len(self.chars), self.example_length
        x = np.zeros((len(take), n, length), np.float32)
        y = np.zeros((len(take), n, length), np.float32)
        steps = np.arange(length)
        for b, start in enumerate(take):
            window = self.text[start:start + length + 1]
            x[b, window[:-1], steps] = 1.0
            y[b, window[1:], steps] = 1.0
        return DataSet(x, y)

    def __iter__(self):
        while self.has_next():
            yield self.next()

    def __len__(self):
        return -(-len(self.offsets) // self.minibatch_size)


def sample_characters_from_network(init: str, net, it: CharacterIterator, rng, n_chars: int, n_samples: int):
    """DL4J's sampleCharactersFromNetwork: prime the state with `init`, then draw each next character
    from the softmax output, feeding it back one step at a time (`rnn_time_step`)."""
    init = init or it.get_random_character()
    primer = np.zeros((n_samples, it.input_columns(), len(init)), np.float32)
    for t, c in enumerate(init):
        primer[:, it.convert_character_to_index(c), t] = 1.0
    net.rnn_clear_previous_state()
    out = net.rnn_time_step(primer)[:, :, -1]
    texts = [init] * n_samples
    for _ in range(n_chars):
        step = np.zeros((n_samples, it.input_columns()), np.float32)
        for s in range(n_samples):
            p = np.asarray(out[s], np.float64)
            idx = int(rng.choice(len(p), p=p / p.sum()))
            step[s, idx] = 1.0
            texts[s] += it.convert_index_to_character(idx)
        out = net.rnn_time_step(step)
    return texts


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lstm-size", type=int, default=64, help="units of each GravesLSTM layer")
    ap.add_argument("--minibatch", type=int, default=32)
    ap.add_argument("--length", type=int, default=60, help="characters per training sequence")
    ap.add_argument("--tbptt", type=int, default=30, help="truncated BPTT forward and backward length")
    ap.add_argument("--learning-rate", type=float, default=0.01, help="the listing's is 0.1 (see above)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--minibatches", type=int, default=100, help="stop after this many minibatches")
    ap.add_argument("--sample-every", type=int, default=50)
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--sample-length", type=int, default=120)
    ap.add_argument("--init", default="The ")
    ap.add_argument("--out", default=None, help="folder for char_model_result.json")
    args = ap.parse_args(argv)

    it = CharacterIterator(stdlib_docstrings(), args.minibatch, args.length)
    n_out = it.total_outcomes()
    lstm_layer_size, tbptt_length = args.lstm_size, args.tbptt
    print(f"corpus: {len(it.text):,} characters of standard-library docstrings, {n_out} distinct")

    # the listing
    conf = (NeuralNetConfiguration.Builder()
            .optimization_algo(OptimizationAlgorithm.STOCHASTIC_GRADIENT_DESCENT).iterations(1)
            .learning_rate(args.learning_rate)
            .rms_decay(0.95)
            .seed(12345)
            .regularization(True)
            .l2(0.001)
            .weight_init(WeightInit.XAVIER)
            .updater(Updater.RMSPROP)
            .list()
            .layer(0, GravesLSTM.Builder().n_in(it.input_columns()).n_out(lstm_layer_size)
                   .activation("tanh").build())
            .layer(1, GravesLSTM.Builder().n_in(lstm_layer_size).n_out(lstm_layer_size)
                   .activation("tanh").build())
            .layer(2, RnnOutputLayer.Builder(LossFunction.MCXENT).activation("softmax")
                   .n_in(lstm_layer_size).n_out(n_out).build())
            .backprop_type(BackpropType.TRUNCATED_BPTT).tbptt_forward_length(tbptt_length)
            .tbptt_backward_length(tbptt_length)
            .pretrain(False).backprop(True)
            .build())
    net = MultiLayerNetwork(conf)
    net.init()
    collected = CollectScoresIterationListener(1)  # keeps them, for the summary and scores.png
    net.set_listeners(ScoreIterationListener(1), collected)
    print(net.summary())

    rng = np.random.default_rng(12345)
    samples, minibatch_number, t0 = [], 0, time.perf_counter()
    for _ in range(args.epochs):
        while it.has_next() and minibatch_number < args.minibatches:
            net.fit(it.next())
            minibatch_number += 1
            if minibatch_number % args.sample_every == 0:
                print(f"--- {minibatch_number} minibatches of {args.minibatch} x {args.length} characters; "
                      f"sampling from {args.init!r}")
                samples = sample_characters_from_network(args.init, net, it, rng, args.sample_length, args.samples)
                for s in samples:
                    print(s.replace("\n", "\n    "), "\n")
        it.reset()
    fit_seconds = time.perf_counter() - t0
    if not samples:
        samples = sample_characters_from_network(args.init, net, it, rng, args.sample_length, args.samples)
    history = [s for _, s in collected.scores]
    k = max(1, min(5, len(history) // 4))
    result = {"minibatches": minibatch_number, "iterations": len(history), "first_score": history[0],
              "last_score": history[-1], f"mean_first_{k}": float(np.mean(history[:k])),
              f"mean_last_{k}": float(np.mean(history[-k:])), "fit_seconds": round(fit_seconds, 1),
              "sample": samples[0], "lstm_size": lstm_layer_size, "tbptt": tbptt_length, "length": args.length,
              "minibatch": args.minibatch}
    print(f"score: first {history[0]:.2f}, last {history[-1]:.2f} (mean of the first {k}: "
          f"{result[f'mean_first_{k}']:.2f}, of the last {k}: {result[f'mean_last_{k}']:.2f}); "
          f"{minibatch_number} minibatches, {len(history)} iterations in {fit_seconds:.1f} s")
    print("sample:", samples[0].replace("\n", "\n    "))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "char_model_result.json"), "w") as f:
            json.dump(result, f, indent=2)
        collected.plot(os.path.join(args.out, "scores.png"))
    return result


if __name__ == "__main__":
    main()
