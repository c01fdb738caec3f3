"""Training speed: samples/s at batch 64 for MLP 784-256-256-10 and LeNet-5 on 28x28 (SGD with
momentum), graphc's resident train step (`train_on_batch`) against PyTorch eager, in the same run,
one thread each (on 2 shared cores default thread counts swing too much, see NOTES).

    .venv/bin/python benchmarks/train.py [--steps 200] [--threads 1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def graphc_model(kind):
    from graphc import nn

    if kind == "mlp":
        return nn.Sequential([nn.Input((784,)), nn.Dense(256, activation="relu"), nn.Dense(256, activation="relu"),
                              nn.Dense(10, activation="softmax")])
    return nn.Sequential([nn.Input((28, 28, 1)), nn.Conv2D(20, 5, activation="relu"), nn.MaxPooling2D(2),
                          nn.Conv2D(50, 5, activation="relu"), nn.MaxPooling2D(2), nn.Flatten(),
                          nn.Dense(500, activation="relu"), nn.Dense(10, activation="softmax")])


def torch_model(kind):
    import torch

    if kind == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                   torch.nn.ReLU(), torch.nn.Linear(256, 10))
    return torch.nn.Sequential(torch.nn.Conv2d(1, 20, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(20, 50, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(800, 500), torch.nn.ReLU(), torch.nn.Linear(500, 10))


def bench(kind, steps, threads, batch=64):
    import torch

    from graphc import optimizers
    from graphc.runtime.train import Trainer

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    shape = (784,) if kind == "mlp" else (28, 28, 1)
    x = rng.normal(size=(batch,) + shape).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]
    m = graphc_model(kind)
    from graphc.losses import get as loss

    t = Trainer(m, [loss("categorical_crossentropy")], optimizers.SGD(learning_rate=0.01, momentum=0.9), [y],
                threads=threads)  # what fit uses, built before the clock starts
    sw = np.ones(batch, np.float32)
    for _ in range(10):
        t.train_step([x], [y], [sw])
    t0 = time.perf_counter()
    for _ in range(steps):
        t.train_step([x], [y], [sw])
    ours = (time.perf_counter() - t0) / steps

    tm = torch_model(kind)
    opt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    tx = torch.from_numpy(x if kind == "mlp" else x.transpose(0, 3, 1, 2).copy())
    ty = torch.from_numpy(np.argmax(y, -1))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(tm(tx), ty).backward()
        opt.step()

    for _ in range(10):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    theirs = (time.perf_counter() - t0) / steps
    return ours, theirs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default="mlp,lenet")
    a = ap.parse_args()
    print(f"| model | graphc ms/step | graphc samples/s | PyTorch eager ms/step | PyTorch samples/s | ratio |")
    print("|---|---|---|---|---|---|")
    for kind in a.models.split(","):
        ours, theirs = bench(kind, a.steps if kind == "mlp" else max(a.steps // 10, 10), a.threads)
        print(f"| {kind} | {ours * 1e3:.2f} | {64 / ours:,.0f} | {theirs * 1e3:.2f} | {64 / theirs:,.0f} | "
              f"{theirs / ours:.2f}x |")


if __name__ == "__main__":
    main()
