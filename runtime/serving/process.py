"""`graphc serve` as a child process: start it on free loopback ports, wait until it listens, stop it.

For the tests and the load benchmark, which talk to the server the way a user's client would
(and must not import kserve themselves: it and tritonclient.grpc register the same protobuf
names). The server prints one line once both ports listen; its ports are read from there.
"""
from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading

ANNOUNCE = re.compile(r"graphc serve: http://([^:]+):(\d+)(?: grpc [^:]+:(\d+))?")


class ServerProcess:
    def __init__(self, models: dict, *options, cwd=None, timeout: float = 180.0):
        """Start `graphc serve name=path ... --http-port 0 --grpc-port 0 OPTIONS` and wait for it."""
        specs = [f"{n}={p}" for n, p in models.items()]
        cmd = [sys.executable, "-m", "graphc.cli", "serve", *specs, "--http-port", "0", "--grpc-port", "0", *options]
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.output: list = []
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise RuntimeError("graphc serve did not start:\n" + "".join(self.output)) from None
            if line is None:
                raise RuntimeError(f"graphc serve exited with {self.proc.wait()}:\n" + "".join(self.output))
            m = ANNOUNCE.search(line)
            if m:
                self.host = m.group(1)
                self.http = f"{self.host}:{m.group(2)}"
                self.grpc = f"{self.host}:{m.group(3)}" if m.group(3) else None
                return

    def _pump(self, lines) -> None:  # keeps reading, so a chatty server never blocks on a full pipe
        for line in self.proc.stdout:
            self.output.append(line)
            lines.put(line)
        lines.put(None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
