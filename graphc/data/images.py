"""Image folders in the LFW layout: `root/Name_Surname/Name_Surname_0001.jpg`; the label is the folder.

Images are decoded with Pillow, converted to RGB (or grayscale) and resized to one fixed size.
Only regular files inside `root` are read: a link that leads out of it is refused.
"""
from __future__ import annotations

import os

import numpy as np

from graphc.data.datasets import Labeled
from graphc.data.errors import DataError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm")


def _inside(root: str, path: str) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def load_image_folder(root, size=(64, 64), grayscale: bool = False, min_images_per_class: int = 1,
                      extensions=EXTENSIONS) -> Labeled:
    """(N, h, w, channels) float32 pixels 0..255, int64 labels indexing the sorted class folders."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DataError("reading image folders needs Pillow: pip install pillow") from None
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DataError(f"{root}: no such image folder; give a folder of one sub-folder per class")
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    classes, files = [], []
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder) or not _inside(root, folder):
            continue
        found = [os.path.join(folder, f) for f in sorted(os.listdir(folder))
                 if f.lower().endswith(tuple(extensions))]
        for f in found:
            if not _inside(root, f) or not os.path.isfile(f):
                raise DataError(f"{f}: leads out of the image folder {root} or is not a file; remove the link")
        if len(found) >= min_images_per_class:
            files += [(f, len(classes)) for f in found]
            classes.append(name)
    if not files:
        raise DataError(f"{root}: no images in class sub-folders ({', '.join(extensions)}); give "
                        f"root/<class>/<image> files")
    mode = "L" if grayscale else "RGB"
    out = np.empty((len(files), h, w, 1 if grayscale else 3), np.float32)
    for i, (f, _) in enumerate(files):
        try:
            with Image.open(f) as im:
                im = im.convert(mode).resize((w, h), Image.BILINEAR)
                arr = np.asarray(im, np.float32)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DataError(f"{f}: not a readable image ({e}); remove or replace it") from None
        out[i] = arr[..., None] if grayscale else arr
    return Labeled(out, np.array([c for _, c in files], np.int64), classes)
