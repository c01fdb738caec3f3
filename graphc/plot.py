"""Line plots written as PNG files: matplotlib when it is installed, else a dependency-free raster
(numpy + zlib: the PNG signature, IHDR, one IDAT of filter-0 rows, IEND) with each series as a
polyline, a frame and no text. Used by the examples' history plots and the DL4J score listeners."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def write_png(path: str, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG of an (h, w, 3) array."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w, _ = rgb.shape
    rows = b"".join(b"\0" + rgb[i].astype(np.uint8).tobytes() for i in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def raster_plot(path: str, series: dict, w: int = 480, h: int = 320) -> None:
    """Each series a polyline over its points, scaled to [min(0, lowest), highest]; a frame; no text."""
    img = np.full((h, w, 3), 255, np.uint8)
    img[[10, h - 11], 10:w - 10] = img[10:h - 10, [10, w - 11]] = 0
    values = [np.asarray(v, np.float64) for v in series.values() if len(v)]
    top = max(float(v.max()) for v in values) if values else 1.0
    low = min(0.0, min(float(v.min()) for v in values)) if values else 0.0
    span = (top - low) or 1.0
    for (name, vals), color in zip(sorted(series.items()), COLORS * (1 + len(series) // len(COLORS))):
        vals = list(vals)
        if not vals:
            continue
        xs = np.linspace(12, w - 13, max(len(vals), 2))
        ys = h - 12 - ((np.asarray(vals if len(vals) > 1 else vals * 2) - low) / span) * (h - 24)
        t = np.linspace(0, len(xs) - 1, 20 * w)
        px, py = np.interp(t, np.arange(len(xs)), xs), np.interp(t, np.arange(len(ys)), ys)
        for d in (-1, 0, 1):
            img[np.clip(py.astype(int) + d, 0, h - 1), np.clip(px.astype(int), 0, w - 1)] = color
    write_png(path, img)


def plot_series(path, series: dict, xlabel: str = "epoch", x: dict | None = None) -> str:
    """Plot {name: values} (against `x[name]` when given, else 1, 2, ...) into the PNG `path`;
    returns how: "matplotlib" or "raster"."""
    path = os.fspath(path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raster_plot(path, series)
        return "raster (matplotlib is not installed)"
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, v in sorted(series.items()):
        ax.plot((x or {}).get(k, range(1, len(v) + 1)), v, label=k)
    ax.set_xlabel(xlabel)
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return "matplotlib"
