"""Test-wide settings. Real Keras (the tier that builds keras.applications models at test time)
runs on the torch backend, the one installed by the lock; set before any test imports keras."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
