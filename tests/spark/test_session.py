"""graphc.spark.session(): quiet, loopback-only local[*] by default; a given or active session is
used as it is. Checked on a live session and, for what a user sees, in a fresh process."""
import os
import subprocess
import sys

import pytest

from tests.spark.conftest import ROOT, needs_spark

needs_spark()
import graphc  # noqa: E402
from graphc.runtime.spark.session import LOG4J2, is_loopback, quiet_conf  # noqa: E402


def test_the_session_is_quiet_and_on_loopback(spark):
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.ui.enabled") == "false" and spark.sparkContext.uiWebUrl is None
    assert conf.get("spark.ui.showConsoleProgress") == "false"
    assert conf.get("spark.driver.host") == "127.0.0.1" == conf.get("spark.driver.bindAddress")
    assert conf.get("spark.pyspark.python") == sys.executable
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        assert conf.get(key).endswith(f" -Dlog4j.configurationFile=file:{LOG4J2}")  # after Spark's own flags
    assert LOG4J2.is_file() and "rootLogger.level = error" in LOG4J2.read_text()
    assert "org.apache.spark.api.python.PythonGatewayServer" in LOG4J2.read_text()
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"


def test_a_given_or_active_session_is_used_as_it_is(spark):
    assert graphc.spark.session(spark) is spark
    assert graphc.spark.get_or_create() is spark  # the active one, not a new local[*]
    assert graphc.spark.session().sparkContext.master == "local[2]"
    assert graphc.spark.session(master="local[2]") is spark
    with pytest.raises(graphc.spark.SparkError, match=r"session on local\[2\] is already active.*stop it"):
        graphc.spark.session(master="local[1]")


def test_loopback_settings_only_for_masters_on_this_machine():
    assert is_loopback("local[*]") and is_loopback("spark://127.0.0.1:7077") and is_loopback("spark://localhost:1")
    assert not is_loopback("spark://10.0.0.5:7077")
    remote = quiet_conf("spark://10.0.0.5:7077")
    assert "spark.driver.host" not in remote and "spark.pyspark.python" not in remote
    assert remote["spark.ui.enabled"] == "false"


def test_a_fresh_process_prints_its_results_and_not_sparks_logs():
    code = ("import graphc; s = graphc.spark.session(); print(s.sparkContext.master); "
            "print(s.range(1000).selectExpr('sum(id)').first()[0]); s.stop()")
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_LOCAL_IP", "PYSPARK_GATEWAY_PORT")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["local[*]", "499500"]
    # the JVM's own notice about incubator modules is printed before any configuration is read
    noise = [line for line in run.stderr.splitlines() if line.strip() and "Using incubator modules" not in line]
    assert noise == [], run.stderr
