"""Test-wide settings, set before any test module imports what they govern:
- real Keras (the tier that builds keras.applications models at test time) runs on the torch
  backend, the one the lock installs;
- hypothesis keeps its example database in the temp dir, not in a `.hypothesis` of the clone."""
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "graphc-hypothesis"))
