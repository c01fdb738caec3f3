#!/usr/bin/env python
"""Regenerate examples/mobilenetv2.keras + examples/mobilenetv2.npz + examples/mobilenetv2.keras-export.onnx.

The model is keras.applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3),
weights=None, classes=1000) with a fixed seed and randomised BatchNormalization
moving statistics; the .npz holds a batch of 2 inputs (``input_0``, uniform in
[-1, 1]) and Keras's own outputs (``output_0``, shape (2, 1000)).

It is the same model as tests/fixtures/keras/mobilenetv2.keras and is built by
the fixture script; this file copies it here, then writes Keras's own ONNX export of it
(``model.export(..., format="onnx")``, made the way ``graphc bench`` makes one) so that
``./dev demo`` has its raw-ONNX-Runtime peer on a machine without Keras.  Needs the fixtures
venv (see tests/fixtures/keras/README.md):

    KERAS_BACKEND=torch .venv-fixtures/bin/python examples/make_mobilenetv2.py

``--export-only`` rewrites just the ONNX export from the committed .keras (any Python with
graphc, Keras and torch: ``KERAS_BACKEND=torch .venv/bin/python examples/make_mobilenetv2.py --export-only``).
"""
import os
import shutil
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "keras")


def write_keras_export() -> None:
    from graphc.runtime.bench import export_keras_onnx, keras_export_path

    model = os.path.join(ROOT, "examples", "mobilenetv2.keras")
    out = keras_export_path(model)
    failed = export_keras_onnx(model, out)
    if failed:
        sys.exit(failed)
    print(f"wrote {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    if "--export-only" not in sys.argv[1:]:
        sys.path.insert(0, FIXTURES)
        sys.dont_write_bytecode = True  # keep tests/fixtures/keras free of __pycache__
        import make_fixtures

        make_fixtures.main(["--only", "mobilenetv2"])
        for ext in (".keras", ".npz"):
            shutil.copyfile(os.path.join(FIXTURES, "mobilenetv2" + ext),
                            os.path.join(ROOT, "examples", "mobilenetv2" + ext))
        print("wrote examples/mobilenetv2.keras and examples/mobilenetv2.npz")
    write_keras_export()
