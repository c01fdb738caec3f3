"""A real standalone Spark cluster on this machine: `StandaloneCluster`, for tests and trials.

The pyspark wheel has no sbin/ scripts, but its `bin/spark-class` starts the standalone daemons
(a Master, then Workers registered with it), here on loopback only, on free ports, with their work
and logs in a temporary folder. `stop()` ends exactly the processes it started, by their PIDs
(each worker first: it stops its executors on the way down), and waits for them.

    with StandaloneCluster(workers=1, cores=1, memory="1g") as cluster:
        spark = graphc.spark.session(master=cluster.url)
        ...
        cluster.submit("examples/spark_predict.py", "--rows", "64")
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from graphc.runtime.spark.errors import SparkError, require_pyspark
from graphc.runtime.spark.session import LOOPBACK, quiet_conf

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
MASTER_UP = re.compile(r"I have been elected leader|New state: ALIVE")
WORKER_UP = re.compile(r"Successfully registered with master")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    """The pyspark package folder, which holds bin/spark-class and the jars."""
    return Path(require_pyspark("graphc.spark.StandaloneCluster").__file__).parent


class StandaloneCluster:
    """A standalone master and `workers` workers (`cores` and `memory` each) on 127.0.0.1."""

    def __init__(self, workers: int = 1, cores: int = 1, memory: str = "1g", timeout: float = 120.0):
        self.workers, self.cores, self.memory, self.timeout = workers, cores, memory, timeout
        self.home = spark_home()
        self.dir: Path | None = None
        self.port: int | None = None
        self._procs: list[tuple[str, subprocess.Popen, Path]] = []

    @property
    def url(self) -> str:
        return f"spark://{LOOPBACK}:{self.port}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for _, p, _ in self._procs]

    def env(self) -> dict:
        """The environment of the daemons and of spark-submit: this pyspark, loopback, this Python."""
        env = dict(os.environ)
        env.pop("PYSPARK_GATEWAY_PORT", None)
        env.pop("PYSPARK_GATEWAY_SECRET", None)
        env.update(SPARK_HOME=str(self.home), SPARK_LOCAL_IP=LOOPBACK, PYSPARK_PYTHON=sys.executable,
                   SPARK_DAEMON_MEMORY="512m")
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.dir / f"{name}.log"
        with open(log, "wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen([str(self.home / "bin" / "spark-class"), *args], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env(),
                                    cwd=self.dir, start_new_session=True)
        self._procs.append((name, proc, log))
        return proc

    def _wait_for(self, name: str, proc: subprocess.Popen, log: Path, pattern: re.Pattern) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if pattern.search(text):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not up after {self.timeout:.0f} s"
        self.stop()
        raise SparkError(f"the standalone {name} {state} (is Java 17+ installed?); the end of its log:\n{tail}")

    def start(self) -> "StandaloneCluster":
        if self._procs:
            return self
        self.dir = Path(tempfile.mkdtemp(prefix="graphc-spark-cluster-"))
        self.port = free_port()
        master = self._spawn("master", [MASTER, "--host", LOOPBACK, "--port", str(self.port),
                                        "--webui-port", str(free_port())])
        self._wait_for("master", master, self._procs[-1][2], MASTER_UP)
        for i in range(self.workers):
            work = self.dir / f"work-{i}"
            work.mkdir()
            worker = self._spawn(f"worker-{i}", [WORKER, "--host", LOOPBACK, "--port", str(free_port()),
                                                 "--webui-port", str(free_port()), "--cores", str(self.cores),
                                                 "--memory", self.memory, "--work-dir", str(work), self.url])
            self._wait_for(f"worker {i}", worker, self._procs[-1][2], WORKER_UP)
        return self

    def stop(self) -> None:
        """End the daemons this object started, by PID, workers first; then drop the folder."""
        for name, proc, _ in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self._procs = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def submit(self, script, *args, conf: dict | None = None, timeout: float = 300.0) -> subprocess.CompletedProcess:
        """Run `spark-submit --master <this cluster> script args...` with the quiet settings
        (and `conf`), wait for it, and return its result (stdout and stderr as text)."""
        settings = {**quiet_conf(self.url), **(conf or {})}
        cmd = [str(self.home / "bin" / "spark-submit"), "--master", self.url]
        for key, value in settings.items():
            cmd += ["--conf", f"{key}={value}"]
        cmd += [os.fspath(script), *map(str, args)]
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def __enter__(self) -> "StandaloneCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
