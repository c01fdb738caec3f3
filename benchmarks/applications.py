"""Every Keras 3 `keras.applications` family as the applications test tier builds it (weights=None,
random biases and scales, BatchNormalization scaled to the data, small inputs, batch 2), saved as
`.keras`, imported and compiled: prints a markdown table of file size, error against Keras's own
predict at O0 and O2, import and compile time, and the Transposes left after O2. Writes only to a
temporary folder. Run: KERAS_BACKEND=torch python benchmarks/applications.py [family ...]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tier's family table lives in tests/

from graphc.importers.keras import load  # noqa: E402
from tests.keras.test_applications import FAMILIES, build, data_transposes, relative_error  # noqa: E402


def row(name: str, folder: Path) -> str:
    model, x = build(name)
    path = folder / f"{name}.keras"
    model.save(path)
    ref = model.predict(x, verbose=0)
    start = time.perf_counter()
    imported = load(path)
    cells = [name, f"{path.stat().st_size / 1e6:.1f} MB", f"{time.perf_counter() - start:.2f} s"]
    errors, times = [], []
    for level in ("O0", "O2"):
        start = time.perf_counter()
        exe = imported.executable(opt_level=level)
        times.append(time.perf_counter() - start)
        got = exe(x)
        errors.append(f"{abs(got.astype('float64') - ref).max():.1e} ({relative_error(got, ref):.1e})")
    path.unlink()
    return "| " + " | ".join(cells + errors + [f"{times[0]:.2f} / {times[1]:.2f} s",
                                                str(data_transposes(exe.model))]) + " |"


def main(names) -> None:
    print("| family | .keras | import | max abs error O0 (relative) | O2 (relative) | compile O0 / O2 "
          "| Transposes after O2 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(row(name, Path(tmp)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(FAMILIES))
