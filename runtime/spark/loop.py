"""One Spark job that spans many iterations: the driver's socket loop for the mini-batch modes.

Why: here a Spark job costs >= 110 ms and a `treeReduce` of 1 MB ~680 ms, while a running task
pushes 1 MB to a socket on the driver in ~0.55 ms (NOTES). A job per mini-batch would be all
overhead, so the trainer starts ONE job per `fit` whose tasks stay and loop over the iterations.

The design:
- The driver listens on an ephemeral TCP port of its own address (`driver_address`: Spark's
  `spark.driver.bindAddress` to bind, `spark.driver.host` for the tasks to reach, as Spark's own
  driver services; 127.0.0.1 for a local master) with a random token that a task must present.
  It starts the job (`collect` in a background thread, its own job group so that it can be
  cancelled); the data are the cached, stacked partitions, coalesced to no more tasks than the
  cluster runs at once (every task must be running for a round to finish).
- Each task connects, says hello (token, task index, its partitions, attempt number), then loops:
  read the round's header and payload (the flat parameters; with `average` also the updater
  state), run the mode's work (work.py) on each of its partitions, send back one frame holding
  every partition's result, until the driver says stop. The task returns nothing else.
- The driver sends a round to every connected task, waits for one frame per task (select, 0.2 s
  ticks), orders the results by partition index and hands them to the trainer, which adds or
  averages them in that fixed order and applies the update: the accumulation stays on the driver.
- A frame: 16 bytes (header length, payload length), a JSON header, the raw float32 payload.

Faults: a task attempt that fails (an exception, a killed Python worker) closes its socket; the
driver drops it and whatever it had not finished, Spark retries the task (`spark.task.maxFailures`;
`local[n,f]` in local mode), the new attempt says hello and gets the CURRENT round again, so the
round's result is the one without the fault and no partial update is ever applied (a frame is
the whole of a task's round, or nothing). A job that fails for good ends the loop with a
`SparkError` carrying Spark's reason; a task that does not answer within `timeout` seconds ends it
too (the tasks time out the same way if the driver stops answering): nothing hangs unbounded.
"""
from __future__ import annotations

import hmac
import json
import secrets
import select
import socket
import struct
import threading
import time

import numpy as np

from graphc.runtime.spark.errors import SparkError, job_failed
from graphc.runtime.spark.session import LOOPBACK

_SIZES = struct.Struct("!QQ")


def driver_address(conf, master: str) -> tuple[str, str]:
    """(the address the driver's loop binds, the host the tasks connect to) from a SparkConf: a
    local master's tasks run in this machine's processes, so loopback; on a cluster the executors
    reach the driver where Spark's own driver services listen (the conf's driver host, bound on
    spark.driver.bindAddress when set, as Spark binds them)."""
    host = conf.get("spark.driver.host", None)
    if master.startswith("local") or not host:
        return LOOPBACK, LOOPBACK
    return conf.get("spark.driver.bindAddress", None) or host, host


# ---- frames --------------------------------------------------------------------------------------
def _recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionError("the peer closed the connection")
        got += k
    return buf


def send_frame(sock: socket.socket, header: dict, payload: np.ndarray | None = None) -> int:
    """Send one frame; returns the bytes sent."""
    head = json.dumps(header).encode()
    body = memoryview(np.ascontiguousarray(payload, np.float32)).cast("B") if payload is not None else b""
    if len(body) < 65536:  # one write: a small frame must not wait on Nagle and a delayed ACK
        sock.sendall(_SIZES.pack(len(head), len(body)) + head + bytes(body))
    else:
        sock.sendall(_SIZES.pack(len(head), len(body)) + head)
        sock.sendall(body)
    return _SIZES.size + len(head) + len(body)


def _no_delay(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # rounds are request/reply: no Nagle
    return sock


def recv_frame(sock: socket.socket) -> tuple[dict, np.ndarray]:
    nh, nb = _SIZES.unpack(_recv_exact(sock, _SIZES.size))
    header = json.loads(bytes(_recv_exact(sock, nh)))
    return header, np.frombuffer(_recv_exact(sock, nb), np.float32) if nb else np.empty(0, np.float32)


# ---- the task side --------------------------------------------------------------------------------
def loop_task(address: tuple[str, int], token: str, work, timeout: float):
    """`mapPartitionsWithIndex` function of the long-running job: connect, then serve rounds."""
    def run(task, elements):
        from graphc.runtime.spark.work import _attempt

        parts = list(elements)
        with _no_delay(socket.create_connection(address, timeout=timeout)) as sock:
            send_frame(sock, {"token": token, "task": task, "partitions": [p[0] for p in parts],
                              "attempt": _attempt(), "address": list(address)})
            while True:
                header, payload = recv_frame(sock)
                if header.get("op") == "stop":
                    break
                results = work(parts, header, payload)
                body = np.concatenate([buf for _, _, buf in results]) if results else None
                send_frame(sock, {"iteration": header["iteration"], "results": [[i, m] for i, m, _ in results]},
                           body)
        return iter(())
    return run


# ---- the driver side ------------------------------------------------------------------------------
class SocketLoop:
    """The driver's end: `open()`, then `round(header, payload)` per iteration, then `close()`."""

    def __init__(self, spark, parts, tasks: int, work, result_size: int, timeout: float = 300.0):
        self.spark, self.parts, self.tasks, self.work = spark, parts, tasks, work
        self.result_size, self.timeout = result_size, float(timeout)
        self.conns: dict[int, socket.socket] = {}
        self.who: dict[socket.socket, int] = {}
        self.hellos: list[dict] = []  # every task attempt that connected (the retries show here)
        self.bytes_out = self.bytes_in = 0
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._group = f"graphc-loop-{secrets.token_hex(6)}"

    def open(self) -> "SocketLoop":
        from pyspark import InheritableThread

        sc = self.spark.sparkContext
        bind, host = driver_address(sc.getConf(), sc.master)
        self.listener = socket.create_server((bind, 0), backlog=max(8, 2 * self.tasks))
        self.token = secrets.token_hex(16)
        self.address = (host, self.listener.getsockname()[1])  # what the tasks are sent
        task = loop_task(self.address, self.token, self.work, self.timeout)

        def job():
            try:
                sc.setJobGroup(self._group, "graphc SparkTrainer iterations", interruptOnCancel=True)
                self.parts.mapPartitionsWithIndex(task).collect()
            except BaseException as e:  # noqa: BLE001 - handed to the driver's loop
                self._error = e
            finally:
                self._done.set()

        self._thread = InheritableThread(target=job, daemon=True)
        self._thread.start()
        return self

    def _drop(self, task: int) -> None:
        sock = self.conns.pop(task, None)
        if sock is not None:
            self.who.pop(sock, None)
            sock.close()

    def _accept(self) -> int | None:
        sock, _ = self.listener.accept()
        _no_delay(sock).settimeout(self.timeout)
        try:
            hello, _ = recv_frame(sock)
        except (OSError, ValueError):
            sock.close()
            return None
        if not hmac.compare_digest(str(hello.get("token", "")), self.token):
            sock.close()  # not one of this loop's tasks
            return None
        task = int(hello["task"])
        self._drop(task)  # a retried attempt replaces the failed one
        self.conns[task], self.who[sock] = sock, task
        self.hellos.append({k: v for k, v in hello.items() if k != "token"})
        return task

    def _failed(self) -> SparkError:
        if self._error is None:
            return SparkError("the Spark job of the training loop ended before the driver stopped it")
        return job_failed(self._error, "the Spark job of the training loop")

    def round(self, header: dict, payload: np.ndarray, watch) -> list:
        """Send the round to every task, wait for all of them; [(partition index, meta, buffer)]."""
        replies: dict[int, tuple[dict, np.ndarray]] = {}
        sent: set[int] = set()
        deadline = time.monotonic() + self.timeout
        while len(replies) < self.tasks:
            for task in list(self.conns):
                if task not in sent and task not in replies:
                    try:
                        with watch.phase("broadcast"):
                            self.bytes_out += send_frame(self.conns[task], header, payload)
                        sent.add(task)
                    except OSError:
                        self._drop(task)
            waiting = [self.conns[t] for t in sent if t in self.conns and t not in replies]
            ready, _, _ = select.select([self.listener] + waiting, [], [], 0.2)
            for sock in ready:
                if sock is self.listener:
                    task = self._accept()
                    if task is not None:
                        sent.discard(task)
                        replies.pop(task, None)
                    continue
                task = self.who.get(sock)
                if task is None:
                    continue
                try:
                    head, body = recv_frame(sock)
                except (OSError, ValueError):  # the attempt failed: Spark retries it, and it says hello again
                    self._drop(task)
                    sent.discard(task)
                    continue
                if head.get("iteration") == header["iteration"]:
                    replies[task] = (head, body)
                    self.bytes_in += body.nbytes
            if len(replies) < self.tasks:
                if self._done.is_set():
                    raise self._failed()
                if time.monotonic() > deadline:
                    missing = sorted(set(range(self.tasks)) - set(replies))
                    raise SparkError(f"iteration {header['iteration']}: task(s) {missing} of the training loop sent "
                                     f"nothing within {self.timeout:.0f} s; every task must run at once (give "
                                     f"SparkTrainer(workers=...) no more than the cluster's free task slots) or "
                                     f"raise timeout=")
        out = []
        for head, body in replies.values():
            for k, (index, meta) in enumerate(head["results"]):
                out.append((index, meta, body[k * self.result_size:(k + 1) * self.result_size]))
        return sorted(out, key=lambda r: r[0])

    def close(self) -> None:
        """Tell every task to stop, end the job (cancelled if it is still running) and the listener."""
        for task in list(self.conns):
            try:
                send_frame(self.conns[task], {"op": "stop"})
            except OSError:
                pass
        if not self._done.wait(min(self.timeout, 30.0)):
            self.spark.sparkContext.cancelJobGroup(self._group)
            self._done.wait(30.0)
        for task in list(self.conns):
            self._drop(task)
        self.listener.close()

    def __enter__(self) -> "SocketLoop":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()
