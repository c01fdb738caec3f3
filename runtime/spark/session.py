"""A quiet Spark session: `session()` (alias `get_or_create`).

By default an embedded `local[*]` that stays on loopback (`SPARK_LOCAL_IP`, driver host and bind
address 127.0.0.1), with no web UI, no console progress bars, and the project's log4j2
configuration (errors only) for the driver and executor JVMs; executors run the interpreter that
runs the driver (`PYSPARK_PYTHON`), so they import the same graphc.

A session passed in is used as it is; so is one that is already active. Under `spark-submit`
(the driver's JVM started first, `PYSPARK_GATEWAY_PORT` set) the master comes from spark-submit,
never from here: the same script runs on `local[*]` and on a cluster.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from graphc.runtime.spark.errors import SparkError, require_pyspark

LOG4J2 = Path(__file__).with_name("log4j2.properties")
DEFAULT_MASTER = "local[*]"
LOOPBACK = "127.0.0.1"


def is_loopback(master: str | None) -> bool:
    """True for a master that runs on this machine only: local[...] or spark:// on loopback."""
    if master is None or master.startswith("local"):
        return True  # None: the default, local[*]
    host = master.split("://", 1)[-1].split(":", 1)[0]
    return host in (LOOPBACK, "localhost")


def java_options() -> str:
    """The JVM flag that points log4j2 at the project's quiet configuration."""
    return f"-Dlog4j.configurationFile=file:{LOG4J2}"


def quiet_conf(master: str | None = DEFAULT_MASTER) -> dict[str, str]:
    """The Spark settings `session()` applies (also what to pass spark-submit as --conf)."""
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": java_options(),
        "spark.executor.extraJavaOptions": java_options(),
    }
    if is_loopback(master):  # this machine only: its interpreter is the executors' too
        conf["spark.driver.host"] = LOOPBACK
        conf["spark.driver.bindAddress"] = LOOPBACK
        conf["spark.pyspark.python"] = sys.executable
    return conf


def under_spark_submit() -> bool:
    """True in a driver that spark-submit launched (its JVM owns the master setting)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def session(spark=None, *, master: str | None = None, app_name: str = "graphc", conf: dict | None = None):
    """A SparkSession: `spark` itself when given, else the active one, else a new quiet one.

    `master`: default `local[*]` (under spark-submit: spark-submit's). `conf`: extra Spark
    settings, which win over the quiet defaults (`quiet_conf`).
    """
    if spark is not None:
        return spark
    require_pyspark("graphc.spark.session")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None and not conf:
        return active
    if active is not None and master is not None and active.sparkContext.master != master:
        # getOrCreate would hand back the active session on its own master without a word
        raise SparkError(f"a Spark session on {active.sparkContext.master} is already active in this process; "
                         f"stop it (spark.stop()) before starting one on {master}, or pass it as session(spark)")
    effective = master
    if master is None:
        if under_spark_submit():
            from pyspark import SparkConf

            effective = SparkConf().get("spark.master", "")
        else:
            master = effective = DEFAULT_MASTER
    if is_loopback(effective):
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)  # read by the JVM the builder starts
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {**quiet_conf(effective), **(conf or {})}
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as e:  # no Java, a port that cannot be bound, a master that does not answer
        raise SparkError(f"could not start a Spark session (master {master or 'from spark-submit'}): "
                         f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}; "
                         f"Spark needs Java 17+ on PATH or JAVA_HOME") from e


get_or_create = session
