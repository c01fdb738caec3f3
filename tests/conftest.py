"""Test-wide settings, set before any test module imports what they govern:
- real Keras (the tier that builds keras.applications models at test time) runs on the torch
  backend, the one the lock installs;
- hypothesis keeps its example database in the temp dir, not in a `.hypothesis` of the clone;
- triton runs on its CPU interpreter: it reads TRITON_INTERPRET once, when first imported, and
  torch or Keras imported by an earlier test module may import it (tests/triton/conftest.py
  would come too late in a whole-suite run)."""
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "graphc-hypothesis"))
