"""Training speed and peak memory at batch 64: graphc's resident train step against PyTorch eager and
Keras 3 (torch backend) `train_on_batch`, measured in the same run, interleaved, at equal thread counts.

    .venv/bin/python benchmarks/train.py [--steps 300] [--threads 1] [--repeats 3]
        [--models mlp,lenet,lstm] [--frameworks graphc,torch,keras] [--no-memory]

Models, all trained with SGD (learning rate 0.01, momentum 0.9) on categorical cross-entropy with
one-hot labels over 10 classes, on random data:
- mlp: Dense 784-256-256-10 (ReLU, softmax);
- lenet: LeNet-5 on 28x28x1 (conv 5x5x20, max-pool 2, conv 5x5x50, max-pool 2, dense 500, dense 10);
- lstm: 2-layer LSTM, 32 time steps of 32 features, 128 units each, the last state into dense 10.

Speed: graphc runs the `Trainer` step that `fit` and `train_on_batch` use (forward, loss, backward and
update as one ONNX Runtime graph, weights resident); PyTorch runs `zero_grad`/`backward`/`step`;
Keras runs `model.train_on_batch` (jit_compile off). All share one process: torch's thread count
(which Keras on torch uses too) and ONNX Runtime's intra-op threads are both `--threads`. Each
repeat times every framework in turn, the order rotating, after a warm-up; the MLP runs `--steps`
steps per timing, LeNet and the LSTM a tenth of that. Reported, in wall time and in the process's
CPU time (steadier on a shared machine: it leaves out waiting for a core): the median over the
repeats, and the others' time over graphc's (above 1: graphc is faster), with its range.

sgemm peak: torch `mm` of 2048x2048 float32 at the same thread count, best of 5, in the same run.
The MLP's share of it counts 3x the forward GEMM FLOPs per step (forward, input gradients, weight
gradients; graphc skips the first layer's input gradient, so it does a quarter less).

Peak memory: each framework and model in a fresh subprocess (`--peak FRAMEWORK MODEL`), which
imports its framework, notes its RSS, builds the model and trains `--steps` steps: the process's
RSS high-water mark (VmHWM, Linux) and its growth over the RSS after the imports.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

BATCH = 64
SHAPES = {"mlp": (784,), "lenet": (28, 28, 1), "lstm": (32, 32)}
NAMES = {"mlp": "MLP 784-256-256-10", "lenet": "LeNet-5 (28x28)", "lstm": "LSTM 2x128 (32 steps)"}
FRAMEWORKS = {"graphc": "graphc", "torch": "PyTorch eager", "keras": "Keras train_on_batch"}
MLP_WIDTHS = (784, 256, 256, 10)


def data(kind, batch=BATCH):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch,) + SHAPES[kind]).astype(np.float32)
    return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]


def layers(L, kind):
    """The model's layers from `L`: graphc.nn or keras.layers (graphc's layers take Keras's keys)."""
    body = {
        "mlp": lambda: [L.Dense(256, activation="relu"), L.Dense(256, activation="relu")],
        "lenet": lambda: [L.Conv2D(20, 5, activation="relu"), L.MaxPooling2D(2), L.Conv2D(50, 5, activation="relu"),
                          L.MaxPooling2D(2), L.Flatten(), L.Dense(500, activation="relu")],
        "lstm": lambda: [L.LSTM(128, return_sequences=True), L.LSTM(128)],
    }[kind]()
    return body + [L.Dense(10, activation="softmax")]


# ---- one step of each framework: build(kind, threads) -> a function running one step -------------
def graphc_step(kind, threads):
    from graphc import nn, optimizers
    from graphc.losses import get as loss
    from graphc.runtime.train import Trainer

    model = nn.Sequential([nn.Input(SHAPES[kind])] + layers(nn, kind))
    x, y = data(kind)
    sw = np.ones(BATCH, np.float32)
    t = Trainer(model, [loss("categorical_crossentropy")], optimizers.SGD(learning_rate=0.01, momentum=0.9), [y],
                threads=threads)
    return lambda: t.train_step([x], [y], [sw])


def torch_step(kind, threads):
    import torch

    torch.set_num_threads(threads)
    nn = torch.nn
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    elif kind == "lenet":
        model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    else:
        class LastState(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm, self.out = nn.LSTM(32, 128, num_layers=2, batch_first=True), nn.Linear(128, 10)

            def forward(self, v):
                return self.out(self.lstm(v)[0][:, -1])

        model = LastState()
    x, y = data(kind)
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if kind == "lenet" else x)
    ty = torch.from_numpy(np.argmax(y, -1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(tx), ty).backward()
        opt.step()

    return step


def keras_step(kind, threads):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch

    torch.set_num_threads(threads)
    model = keras.Sequential([keras.Input(SHAPES[kind])] + layers(keras.layers, kind))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="categorical_crossentropy", jit_compile=False)
    x, y = data(kind)
    return lambda: model.train_on_batch(x, y)


STEPS = {"graphc": graphc_step, "torch": torch_step, "keras": keras_step}


def imports(framework):
    """What a framework's process imports before its model is built (the memory baseline)."""
    if framework == "graphc":
        import graphc.runtime.train  # noqa: F401
        from graphc import nn  # noqa: F401
    elif framework == "torch":
        import torch  # noqa: F401
    else:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras  # noqa: F401


# ---- measurements -------------------------------------------------------------------------------
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed(step, n):
    """{clock: seconds per call of `step`} over `n` calls: wall time, and the process's CPU time,
    which on a loaded machine leaves out the time spent waiting for a core."""
    t0 = {c: f() for c, f in CLOCKS.items()}
    for _ in range(n):
        step()
    return {c: (f() - t0[c]) / n for c, f in CLOCKS.items()}


def sgemm_peak(threads, n=2048):
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    runs = [timed(lambda: torch.mm(a, b), 3) for _ in range(5)]
    return {c: 2 * n ** 3 / min(r[c] for r in runs) for c in CLOCKS}


def mlp_flops(batch=BATCH):
    forward = sum(2 * batch * i * o for i, o in zip(MLP_WIDTHS, MLP_WIDTHS[1:]))
    return 3 * forward


def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def peak(framework, kind, threads, steps):
    """Child process: one framework's RSS high-water training `kind`."""
    imports(framework)
    base = _status("VmRSS")
    step = STEPS[framework](kind, threads)
    for _ in range(steps):
        step()
    print(json.dumps({"hwm": _status("VmHWM"), "base": base}))


def peak_in_subprocess(framework, kind, threads, steps):
    env = dict(os.environ, KERAS_BACKEND="torch")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--peak", framework, kind, "--threads",
                          str(threads), "--steps", str(steps)], capture_output=True, text=True, env=env, timeout=900)
    if out.returncode:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(b):
    return f"{b / 2 ** 20:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="mlp,lenet,lstm")
    ap.add_argument("--frameworks", default="graphc,torch,keras")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--peak", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peak:
        return peak(a.peak[0], a.peak[1], a.threads, a.steps)
    fws = a.frameworks.split(",")
    models = a.models.split(",")
    load0 = os.getloadavg()
    peak_flops = sgemm_peak(a.threads)
    times = {}  # (model, framework) -> [{clock: seconds per step} per repeat]
    for kind in models:
        n = a.steps if kind == "mlp" else max(a.steps // 10, 5)
        steps = {fw: STEPS[fw](kind, a.threads) for fw in fws}
        for step in steps.values():
            timed(step, max(n // 10, 3))  # warm-up: first runs allocate and plan
        for r in range(a.repeats):
            for fw in fws[r % len(fws):] + fws[:r % len(fws)]:
                times.setdefault((kind, fw), []).append(timed(steps[fw], n))
        del steps
    load1 = os.getloadavg()

    print(f"batch {BATCH}, {a.threads} thread(s), {a.repeats} interleaved repeats, median ms/step "
          f"(load average {load0[0]:.2f} before, {load1[0]:.2f} after)")
    peers = [f for f in fws if f != "graphc"] if "graphc" in fws else []
    for clock in CLOCKS:
        print(f"\n{clock} time\n")
        head = "| model |" + "".join(f" {FRAMEWORKS[f]} ms/step (samples/s) |" for f in fws)
        print(head + "".join(f" vs {FRAMEWORKS[f]} (range) |" for f in peers))
        print("|---|" + "---:|" * (len(fws) + len(peers)))
        for kind in models:
            ts = {fw: [t[clock] for t in times[(kind, fw)]] for fw in fws}
            med = {fw: float(np.median(ts[fw])) for fw in fws}
            row = f"| {NAMES[kind]} |" + "".join(f" {med[f] * 1e3:.2f} ({BATCH / med[f]:,.0f}) |" for f in fws)
            for f in peers:
                ratios = [t / g for t, g in zip(ts[f], ts["graphc"])]
                row += f" {med[f] / med['graphc']:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |"
            print(row)
    for clock in CLOCKS:
        print(f"\nsgemm peak (torch mm 2048^2 float32, {a.threads} thread(s), {clock} time): "
              f"{peak_flops[clock] / 1e9:.1f} GFLOP/s")
        if "mlp" in models:
            f = mlp_flops()
            print(f"MLP step: {f / 1e6:.1f} MFLOP (3x forward GEMMs); sgemm bound {f / peak_flops[clock] * 1e3:.2f} "
                  f"ms/step")
            for fw in fws:
                t = float(np.median([t[clock] for t in times[("mlp", fw)]]))
                print(f"  {FRAMEWORKS[fw]}: {f / t / 1e9:.1f} GFLOP/s = {f / t / peak_flops[clock]:.0%} of the peak")
    if a.no_memory:
        return
    mem_steps = max(a.steps // 30, 10)
    print(f"\nPeak memory (RSS high-water of a fresh process per framework and model, {mem_steps} steps; in "
          f"parentheses its growth over the RSS after the framework's imports), MB\n")
    print("| model |" + "".join(f" {FRAMEWORKS[f]} |" for f in fws))
    print("|---|" + "---:|" * len(fws))
    for kind in models:
        cells = []
        for fw in fws:
            p = peak_in_subprocess(fw, kind, a.threads, mem_steps)
            cells.append("failed" if p is None else f"{_mb(p['hwm'])} (+{_mb(p['hwm'] - p['base'])})")
        print(f"| {NAMES[kind]} |" + "".join(f" {c} |" for c in cells))


if __name__ == "__main__":
    main()
