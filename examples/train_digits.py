"""Train a small CNN on scikit-learn's handwritten digits (1,797 8x8 images, shipped inside the
package: nothing is downloaded) with graphc's Keras-style `fit`, then report the test accuracy and
DL4J-style evaluation statistics, and write the history plot (`history.png`) and a resumable
training checkpoint (`digits.ckpt`) into `--out`.

    python examples/train_digits.py                 # 15 epochs, ~99 % test accuracy in well under a minute
    python examples/train_digits.py --epochs 2 --out digits_out

The plot uses matplotlib when it is installed; without it a plain raster PNG is written with zlib.
"""
from __future__ import annotations

import argparse
import os
import struct
import time
import zlib

import numpy as np

import graphc
from graphc import nn, optimizers
from graphc.data import ImagePreProcessingScaler, load_digits, one_hot
from graphc.evaluation import Evaluation


def build_model() -> nn.Sequential:
    return nn.Sequential([
        nn.Input((8, 8, 1), name="digit"),
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(2),
        nn.Conv2D(64, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Dense(64, activation="relu"),
        nn.Dense(10, activation="softmax"),
    ], name="digits_cnn")


def split(seed: int = 0, test_fraction: float = 0.2):
    d = load_digits()
    order = np.random.default_rng(seed).permutation(len(d.features))
    cut = int(len(order) * (1 - test_fraction))
    tr, te = order[:cut], order[cut:]
    scaler = ImagePreProcessingScaler(0.0, 1.0, max_pixel=16.0).fit(d.features[tr])
    x = scaler.transform(d.features).astype(np.float32)
    y = one_hot(d.labels, 10)
    return (x[tr], y[tr]), (x[te], y[te]), scaler, d.class_names


# ---- the history plot -----------------------------------------------------------------------------
def _png(path: str, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG: the signature, IHDR, one zlib IDAT of filter-0 rows, IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w, _ = rgb.shape
    rows = b"".join(b"\0" + rgb[i].astype(np.uint8).tobytes() for i in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def _raster_plot(path: str, series: dict, w: int = 480, h: int = 320) -> None:
    """Each series a polyline over the epochs, scaled to [0, max]; a frame; no text."""
    img = np.full((h, w, 3), 255, np.uint8)
    img[[10, h - 11], 10:w - 10] = img[10:h - 10, [10, w - 11]] = 0
    colors = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
    top = max(max(v) for v in series.values()) or 1.0
    for (name, values), color in zip(sorted(series.items()), colors):
        xs = np.linspace(12, w - 13, max(len(values), 2))
        ys = h - 12 - (np.asarray(values if len(values) > 1 else values * 2) / top) * (h - 24)
        t = np.linspace(0, len(xs) - 1, 20 * w)
        px, py = np.interp(t, np.arange(len(xs)), xs), np.interp(t, np.arange(len(ys)), ys)
        for d in (-1, 0, 1):
            img[np.clip(py.astype(int) + d, 0, h - 1), px.astype(int)] = color
    _png(path, img)


def plot_history(path: str, history: dict) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _raster_plot(path, history)
        return "raster (matplotlib is not installed)"
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, v in sorted(history.items()):
        ax.plot(range(1, len(v) + 1), v, label=k)
    ax.set_xlabel("epoch")
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return "matplotlib"


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", default="digits_out", help="folder for history.png and digits.ckpt")
    ap.add_argument("--verbose", type=int, default=1, help="1: Keras's progress bar, 0: quiet")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    (x, y), (xt, yt), scaler, names = split()
    model = build_model()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.003), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_data=(xt, yt),
                        verbose=args.verbose, seed=0)
    seconds = time.perf_counter() - t0
    pred = model.predict(xt)
    accuracy = float(np.mean(np.argmax(pred, -1) == np.argmax(yt, -1)))
    print(f"test accuracy {accuracy:.4f} after {args.epochs} epochs in {seconds:.1f} s "
          f"(graphc {getattr(graphc, '__version__', '?')})")
    print(Evaluation(labels=names).eval(yt, pred).stats())
    how = plot_history(os.path.join(args.out, "history.png"), history.history)
    model.save_checkpoint(os.path.join(args.out, "digits.ckpt"), normalizers=scaler)
    print(f"wrote {args.out}/history.png ({how}) and {args.out}/digits.ckpt")
    return accuracy


if __name__ == "__main__":
    main()
