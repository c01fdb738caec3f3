"""Shared by the DL4J tests: `load_example(name)` imports examples/dl4j/<name>.py as a module (the
examples are scripts, not a package), so a test can run its `main` in a shortened form."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "dl4j"


def import_example(name: str):
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dl4j_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def load_example():
    return import_example
