"""Benchmark graphc on the reference models against the peers measured in the same run.

    python benchmarks/models.py [--runs N] [--threads N] [--only NAME ...] [--markdown OUT.md]

For each model: `graphc bench` (graphc O2, graphc O0, raw ONNX Runtime with ORT_ENABLE_ALL on
the ONNX file or on Keras's own ONNX export, Keras `predict` when Keras is importable), plus the
Transpose counts before and after O2. With --markdown the tables are written for RESULTS.md.
Keras peers need `keras` and `torch==2.13.0` in the same environment (KERAS_BACKEND=torch).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERAS = ROOT / "tests" / "fixtures" / "keras"
ONNX = ROOT / "tests" / "fixtures" / "onnx"

MODELS = {
    "mobilenetv2": ROOT / "examples" / "mobilenetv2.keras",
    "small_cnn": KERAS / "bench_small_cnn.keras",
    "lstm": KERAS / "bench_lstm.keras",
    "transformer_block": KERAS / "bench_transformer_block.keras",
    "torch_resnet_block": ONNX / "torch_resnet_block.onnx",
    "torch_mlp": ONNX / "torch_mlp.onnx",
    "torch_transformer": ONNX / "torch_transformer.onnx",
}


def main(argv=None) -> int:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--batch", default="1,32")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--markdown", metavar="OUT.md")
    args = ap.parse_args(argv)
    from graphc.api import bench

    batches = tuple(int(b) for b in args.batch.split(","))
    sections = []
    for name, path in MODELS.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        report = bench(str(path), batches=batches, runs=args.runs, threads=args.threads)
        report.model = str(path.relative_to(ROOT))  # the same on every machine
        table = report.table()
        print(table, f"\n({time.perf_counter() - t0:.1f} s)\n", flush=True)
        sections.append((name, table))
    if args.markdown:
        import onnxruntime

        head = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                f"onnxruntime {onnxruntime.__version__}.",
                f"Command: `python benchmarks/models.py --runs {args.runs} --batch {args.batch}"
                + (f" --threads {args.threads}" if args.threads else "") + "`", ""]
        body = [f"### {name}\n\n```\n{table}\n```\n" for name, table in sections]
        Path(args.markdown).write_text("\n".join(head + body))
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
