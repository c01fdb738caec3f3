"""The ONNX backend test suite on raw ONNX Runtime (the peer count for docs/CONFORMANCE.md).

Not part of the default run: select it with `-m peer`.
"""
import os
import tempfile

import pytest

from tests.conformance.raw_ort_backend import RawOrtBackend
from tests.conformance.spec_outputs import SpecBackendTest

os.environ.setdefault("ONNX_HOME", os.path.join(tempfile.gettempdir(), "graphc-onnx-home"))
pytestmark = pytest.mark.peer

backend_test = SpecBackendTest(RawOrtBackend, __name__)
globals().update(backend_test.enable_report().test_cases)
