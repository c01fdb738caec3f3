"""The Spark tier: real pyspark on Java 17 (no mocks). One local[2] session per test module
(`spark`), stopped at the module's end, so that a module that needs another master (the
standalone cluster) can start its own."""
import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def needs_spark():
    """pyspark (with pandas and pyarrow) and a Java runtime, else skip the module."""
    pytest.importorskip("pyspark")
    pytest.importorskip("pyarrow")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("Spark needs Java 17+ (no java on PATH, no JAVA_HOME)")


@pytest.fixture(scope="module")
def spark():
    needs_spark()
    import graphc

    session = graphc.spark.session(master="local[2]", app_name="graphc-tests")
    yield session
    session.stop()
