"""ONNX's backend test suite through graphc at O2: import, verify, optimize (verifying after each
pass), export, ONNX Runtime. No test that passes at O0 may fail here."""
import os
import tempfile

from tests.conformance.exclusions import apply_exclusions
from tests.conformance.graphc_backend import make_backend
from tests.conformance.spec_outputs import SpecBackendTest

os.environ.setdefault("ONNX_HOME", os.path.join(tempfile.gettempdir(), "graphc-onnx-home"))

backend_test = SpecBackendTest(make_backend("O2"), __name__)
apply_exclusions(backend_test)
globals().update(backend_test.enable_report().test_cases)
