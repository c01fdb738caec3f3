"""Data-parallel training on Spark (graphc.spark.SparkTrainer) against one process on this machine.

    python benchmarks/spark.py [--sizes 10ms,100ms,1s] [--modes accumulate,accumulate/jobs,average] [--seconds 5]

Three MLPs (784-H-H-10, softmax, plain SGD) whose single train step on the global batch takes
about 10 ms, 100 ms and 1 s in one single-threaded process. Spark runs `local[2]`: 2 executor
slots, one ONNX Runtime thread a task, each partition holding `batch` samples generated on the
executor; an iteration trains on 2 x batch samples (the global batch), as one process does in one
step. Modes: `accumulate` (gradients summed on the driver; the socket loop, one job for all
iterations), `accumulate/jobs` (the same with a Spark job per iteration, for comparison) and
`average` (parameter averaging every 4 local steps). Samples/s are steady-state: the iterations
after the first (the first builds each worker's session), from the trainer's own records; the
breakdown is timing.py's (compute of the slowest worker, the driver's broadcast/send, update, and
`other`: scheduling, task launch, waiting, the result frames). The ideal speed-up of local[2] over
one single-threaded process is 2; the driver, the JVM and both workers share the machine's cores.
`machine bound`: a 2b-sample step in one process against two b-sample steps in two processes at
once (no Spark): what the two cores give two workers at best (they share memory bandwidth). The
one-process step is measured before each Spark run and the fastest is the base (the columns are
conservative where other load on the machine comes and goes).
`Σ compute / wall` is the speed-up reached against one process doing the workers' own compute
(timing.py): it does not depend on how fast a worker's core was while the other columns were taken.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import graphc
from graphc import nn, optimizers

SIZES = {  # name -> (hidden width, samples per worker)
    "10ms": (256, 128),
    "100ms": (1024, 256),
    "1s": (2048, 1024),
}
MODES = {"accumulate": dict(mode="accumulate"), "accumulate/jobs": dict(mode="accumulate", transport="jobs"),
         "average": dict(mode="average", averaging_frequency=4)}


def build(hidden: int):
    m = nn.Sequential([nn.Input((784,)), nn.Dense(hidden, activation="relu"), nn.Dense(hidden, activation="relu"),
                       nn.Dense(10, activation="softmax")], name=f"mlp{hidden}")
    m.compile(optimizer=optimizers.SGD(learning_rate=0.01), loss="categorical_crossentropy")
    return m


def _batch(seed: int, n: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 784)).astype(np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


def one_process(hidden: int, n: int, threads: int, seconds: float, barrier=None) -> float:
    """Seconds per train step on `n` samples, one process at `threads` ONNX Runtime threads
    (timed after `barrier` when given: processes side by side start together)."""
    from graphc.runtime.train import Trainer
    from graphc.training.front import _config

    m = build(hidden)
    cfg = _config(m)
    x, y = _batch(0, n)
    t = Trainer(m, cfg.losses, cfg.optimizer, [y[:1]], threads=threads)
    sw = [np.ones(n, np.float32)]
    t.train_step([x], [y], sw)  # warm
    if barrier is not None:
        barrier.wait()
    steps, t0 = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - t0 < seconds:
        t.train_step([x], [y], sw)
        steps += 1
    return (time.perf_counter() - t0) / steps


def _beside(hidden, n, seconds, barrier, out):
    out.put(one_process(hidden, n, 1, seconds, barrier))


def side_by_side(hidden: int, n: int, seconds: float) -> float:
    """Seconds per step of two single-threaded processes on `n` samples each, running at once: what
    the machine's two cores give two workers with no Spark at all."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_beside, args=(hidden, n, seconds, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    times = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return max(times)


def on_spark(spark, hidden: int, b: int, mode: str, step_s: float, seconds: float):
    """(seconds per iteration at steady state, records, samples per iteration, fit wall)."""
    model = build(hidden)
    opts = MODES[mode]
    k = opts.get("averaging_frequency", 1)
    # about `seconds` of ideal compute; a job per iteration costs >= 0.1 s whatever the step: 20 of them tell
    iterations = min(20 if opts.get("transport") == "jobs" else 300, max(4, int(seconds / max(step_s * k / 2, 0.005))))
    rdd = spark.sparkContext.parallelize(range(2), 2).map(lambda i: _batch(i + 1, b))  # made on the executors
    trainer = graphc.spark.SparkTrainer(model, spark=spark, batch_size_per_worker=b, iterations_per_epoch=iterations,
                                        **opts)
    t0 = time.perf_counter()
    h = trainer.fit(rdd, epochs=1)
    wall = time.perf_counter() - t0
    warm = h.records[1:]
    return sum(r.wall for r in warm) / len(warm), warm, 2 * b * k, wall


def breakdown(records) -> str:
    wall = sum(r.wall for r in records)
    parts = {"compute": sum(r.critical_compute for r in records),
             "send": sum(r.phases.get("broadcast", 0.0) for r in records),
             "update": sum(r.phases.get("update", 0.0) + r.phases.get("aggregate", 0.0) for r in records),
             "other": sum(r.other + r.phases.get("serialize", 0.0) for r in records)}
    return " / ".join(f"{100 * v / wall:.0f}" for v in parts.values())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--seconds", type=float, default=5.0, help="about this much compute per measurement")
    args = ap.parse_args(argv)
    spark = graphc.spark.session(master="local[2]", app_name="graphc-bench-spark")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {os.cpu_count()} cores", flush=True)
    print("| model (global batch) | step 1 proc 1 thr | mode | samples/s 1 proc 1 thr | 1 proc 2 thr | local[2] "
          "| speed-up vs 1 thr | of ideal (2x) | machine bound | Σ compute / wall | bytes/iter out / in "
          "| compute / send / update / other % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        hidden, b = SIZES[size]
        one = one_process(hidden, 2 * b, 1, args.seconds / 2)
        two = one_process(hidden, 2 * b, 2, args.seconds / 2)
        bound = side_by_side(hidden, b, args.seconds / 2)  # two b-sample steps at once
        runs = {}
        for mode in args.modes.split(","):
            one = min(one, one_process(hidden, 2 * b, 1, args.seconds / 2))  # re-measured: the fastest is the base
            runs[mode] = on_spark(spark, hidden, b, mode, one, args.seconds)
        for mode, (per_it, records, samples, _) in runs.items():
            rate, base = samples / per_it, 2 * b / one
            out = sum(r.bytes_out for r in records) / len(records)
            got = sum(r.bytes_in for r in records) / len(records)
            reached = sum(sum(r.compute) for r in records) / sum(r.wall for r in records)
            print(f"| mlp 784-{hidden}-{hidden}-10 ({2 * b}) | {1e3 * one:.1f} ms | {mode} | {base:,.0f} | "
                  f"{2 * b / two:,.0f} | {rate:,.0f} | {rate / base:.2f}x | {rate / base / 2:.2f} | "
                  f"{one / bound:.2f}x | {reached:.2f}x | {out / 1e6:.2f} MB / {got / 1e6:.2f} MB | "
                  f"{breakdown(records)} |", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    spark.stop()


if __name__ == "__main__":
    main()
