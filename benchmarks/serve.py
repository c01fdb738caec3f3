"""Load on `graphc serve` over loopback: p50/p99 latency and throughput at 1, 4 and 16 concurrent
clients, with and without dynamic batching, next to the in-process call; then a bounded soak.

    python benchmarks/serve.py [--seconds 4] [--clients 1,4,16] [--soak 60] [--markdown out.md]

Every client is a thread with its own `tritonclient.http` connection sending one-row requests
(binary tensors) back to back for `--seconds`; the load stops by itself. Servers run as child
processes (`graphc serve ... --threads 2`), one per model and configuration. Client and server
share the machine's cores, so the client's own cost is inside every number.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import graphc
from graphc.runtime.serving.process import ServerProcess

HERE = Path(__file__).resolve().parent
MOBILENET = HERE.parent / "examples" / "mobilenetv2.keras"
CONFIGS = {  # name -> graphc serve options
    "unbatched": ["--max-batch-size", "1"],
    "batched (max 16, delay 0 ms)": ["--max-batch-size", "16", "--max-queue-delay-ms", "0"],
    "batched (max 16, delay 2 ms)": ["--max-batch-size", "16", "--max-queue-delay-ms", "2"],
}


def write_mlp(folder: Path) -> str:
    """784-256-256-10 with ReLUs, float32, batch dimension open."""
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    rng = np.random.default_rng(0)
    sizes, nodes, inits, x = [784, 256, 256, 10], [], [], "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        inits += [nh.from_array((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), f"w{i}"),
                  nh.from_array(np.zeros(b, np.float32), f"b{i}")]
        out = "y" if i == len(sizes) - 2 else f"h{i}"
        nodes.append(h.make_node("Gemm", [x, f"w{i}", f"b{i}"], [out if out == "y" else f"g{i}"]))
        if out != "y":
            nodes.append(h.make_node("Relu", [f"g{i}"], [out]))
        x = out
    g = h.make_graph(nodes, "mlp", [h.make_tensor_value_info("x", T.FLOAT, ["batch", 784])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["batch", 10])], inits)
    path = folder / "mlp.onnx"
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 21)]), path)
    return str(path)


def in_process(path: str, seconds: float) -> dict:
    model = graphc.load(path)
    exe = graphc.compile(model, threads=2)
    name, t = next(iter(model.input_types().items()))
    row = np.random.default_rng(0).standard_normal((1, *t.shape[1:])).astype(np.float32)
    batch = np.repeat(row, 16, axis=0)
    lat = _timed(lambda: exe(row), seconds)
    t16 = _timed(lambda: exe(batch), seconds)
    return {"p50": np.percentile(lat, 50) * 1e3, "p99": np.percentile(lat, 99) * 1e3, "rps": 1 / np.mean(lat),
            "rps16": 16 / np.mean(t16), "input": name, "row": row}


def _timed(fn, seconds: float) -> list:
    fn()
    out, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def load(server: ServerProcess, model: str, input_name: str, row: np.ndarray, clients: int, seconds: float) -> dict:
    import tritonclient.http as th

    lat, fivexx, dropped, lock = [], [0], [0], threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client():
        c = th.InferenceServerClient(server.http, connection_timeout=60, network_timeout=60)
        inp = th.InferInput(input_name, list(row.shape), "FP32")
        inp.set_data_from_numpy(row, binary_data=True)
        outs = [th.InferRequestedOutput(next(iter(c.get_model_metadata(model)["outputs"]))["name"], binary_data=True)]
        c.infer(model, [inp], outputs=outs)  # warm the connection
        mine = []
        start.wait()
        while time.perf_counter() < deadline[0]:
            t = time.perf_counter()
            try:
                c.infer(model, [inp], outputs=outs)
                mine.append(time.perf_counter() - t)
            except th.InferenceServerException as e:
                with lock:
                    fivexx[0] += str(e.status()).startswith("5")
                    dropped[0] += not str(e.status()).startswith("5")
            except Exception:  # a connection that failed: the request was dropped
                with lock:
                    dropped[0] += 1
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds + 0.05
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {"p50": np.percentile(lat, 50) * 1e3, "p99": np.percentile(lat, 99) * 1e3, "rps": len(lat) / elapsed,
            "n": len(lat), "5xx": fivexx[0], "dropped": dropped[0]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0, help="load per cell (default 4)")
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--models", default="mlp,mobilenetv2")
    p.add_argument("--configs", default=",".join(str(i) for i in range(len(CONFIGS))),
                   help="indices into the configurations (default all)")
    p.add_argument("--soak", type=float, default=0.0, help="seconds of 16-client soak on the batched MLP")
    p.add_argument("--markdown", help="write the tables to this file too")
    args = p.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    configs = [list(CONFIGS)[int(i)] for i in args.configs.split(",")]
    lines = ["| model | serving | clients | p50 ms | p99 ms | requests/s | 5xx | dropped |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"mlp": write_mlp(Path(tmp)), "mobilenetv2": str(MOBILENET)}
        for name in args.models.split(","):
            ref = in_process(paths[name], args.seconds)
            lines.append(f"| {name} | in-process call, batch 1 | — | {ref['p50']:.3f} | {ref['p99']:.3f} | "
                         f"{ref['rps']:.0f} | — | — |")
            lines.append(f"| {name} | in-process call, batch 16 | — | — | — | {ref['rps16']:.0f} rows/s | — | — |")
            print(lines[-2], lines[-1], sep="\n", flush=True)
            for config in configs:
                server = ServerProcess({name: paths[name]}, *CONFIGS[config], "--threads", "2", "--no-grpc", cwd=tmp)
                try:
                    for n in clients:
                        r = load(server, name, ref["input"], ref["row"], n, args.seconds)
                        lines.append(f"| {name} | {config} | {n} | {r['p50']:.3f} | {r['p99']:.3f} | {r['rps']:.0f} | "
                                     f"{r['5xx']} | {r['dropped']} |")
                        print(lines[-1], flush=True)
                finally:
                    server.stop()
        if args.soak:
            server = ServerProcess({"mlp": paths["mlp"]}, *CONFIGS[list(CONFIGS)[2]], "--threads", "2", "--no-grpc",
                                   cwd=tmp)
            try:
                r = load(server, "mlp", "x", np.ones((1, 784), np.float32), 16, args.soak)
            finally:
                server.stop()
            lines += ["", f"Soak: mlp, {list(CONFIGS)[2]}, 16 clients, {args.soak:.0f} s: {r['n']} requests, "
                          f"{r['rps']:.0f}/s, p50 {r['p50']:.3f} ms, p99 {r['p99']:.3f} ms, {r['5xx']} 5xx, "
                          f"{r['dropped']} dropped"]
            print(lines[-1], flush=True)
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
