"""ONNX's backend test suite through graphc (import, verify, export, ONNX Runtime) at O0."""
import os
import tempfile

from tests.conformance.exclusions import apply_exclusions
from tests.conformance.graphc_backend import make_backend
from tests.conformance.spec_outputs import SpecBackendTest

os.environ.setdefault("ONNX_HOME", os.path.join(tempfile.gettempdir(), "graphc-onnx-home"))

backend_test = SpecBackendTest(make_backend("O0"), __name__)
apply_exclusions(backend_test)
globals().update(backend_test.enable_report().test_cases)
