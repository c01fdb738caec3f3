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
import time

import numpy as np

import graphc
from graphc import nn, optimizers
from graphc.data import ImagePreProcessingScaler, load_digits, one_hot
from graphc.evaluation import Evaluation
from graphc.plot import plot_series


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
    how = plot_series(os.path.join(args.out, "history.png"), history.history)
    model.save_checkpoint(os.path.join(args.out, "digits.ckpt"), normalizers=scaler)
    print(f"wrote {args.out}/history.png ({how}) and {args.out}/digits.ckpt")
    return accuracy


if __name__ == "__main__":
    main()
