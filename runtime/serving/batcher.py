"""Dynamic batching, as Triton's dynamic batcher does it, for one model.

Requests wait in one queue. A worker takes the oldest, then keeps taking queued requests of the
same shape (all but the first dimension) until the batch holds `max_batch_size` rows or the oldest
has waited `max_queue_delay_ms`; the batch runs as one call, its outputs are split back along
the first dimension. `instances` workers run at most that many calls of this model at once (on
their own threads), so a slow model holds only its own workers and never the others'.

With `max_batch_size` 1 (or a model without a batch dimension) every request runs alone: the
same queue and workers then only bound the model's concurrency. A request with more rows than
`max_batch_size` runs alone too, never split. Every batch run is counted in `stats`.
"""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Item:
    feed: dict
    rows: int
    key: tuple
    future: asyncio.Future
    enqueued: float


@dataclass
class BatchStats:
    """Counts in the shape of Triton's statistics extension: requests, runs, and runs per batch size."""
    inference_count: int = 0
    execution_count: int = 0
    success_ns: int = 0
    by_batch_size: dict = field(default_factory=dict)  # batch size -> [runs, ns]
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, requests: int, rows: int, ns: int) -> None:
        with self.lock:
            self.inference_count += requests
            self.execution_count += 1
            self.success_ns += ns
            runs = self.by_batch_size.setdefault(rows, [0, 0])
            runs[0] += 1
            runs[1] += ns


class DynamicBatcher:
    def __init__(self, run, *, name: str, batchable: bool, max_batch_size: int = 1,
                 max_queue_delay_ms: float = 0.0, instances: int = 1, on_batch=None):
        self._run = run                      # feed dict -> {output name: array}
        self.name = name
        self.batchable = batchable and max_batch_size > 1
        self.max_batch_size = max(1, int(max_batch_size))
        self.delay = max(0.0, float(max_queue_delay_ms)) / 1000.0
        self.instances = max(1, int(instances))
        self.stats = BatchStats()
        self._on_batch = on_batch            # (rows) -> None, e.g. a Prometheus histogram
        self._queue: asyncio.Queue | None = None
        self._pending = 0
        self._workers: list = []
        self._pool = ThreadPoolExecutor(max_workers=self.instances, thread_name_prefix=f"graphc-{name}")

    def start(self) -> None:
        """Start the workers on the running event loop (the server's)."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._workers = [asyncio.get_running_loop().create_task(self._worker()) for _ in range(self.instances)]

    def pending(self) -> int:
        """Requests submitted whose batch has not started running yet."""
        return self._pending

    async def submit(self, feed: dict) -> dict:
        """Queue one request (validated arrays by input name); its outputs when its batch has run."""
        self.start()
        loop = asyncio.get_running_loop()
        first = next(iter(feed.values()))
        rows = int(first.shape[0]) if self.batchable else 1
        key = tuple((k, a.dtype.str, a.shape[1:]) for k, a in feed.items()) if self.batchable else None
        item = _Item(feed, rows, key, loop.create_future(), time.monotonic())
        self._pending += 1
        await self._queue.put(item)
        return await item.future

    async def _worker(self) -> None:
        held = None  # a request taken that did not fit the last batch: it leads the next one
        while True:
            first = held or await self._queue.get()
            held = None
            batch = [first]
            rows = first.rows
            if self.batchable and rows < self.max_batch_size:
                deadline = first.enqueued + self.delay
                while rows < self.max_batch_size:
                    try:
                        item = self._queue.get_nowait()
                    except asyncio.QueueEmpty:
                        wait = deadline - time.monotonic()
                        if wait <= 0:
                            break
                        try:
                            item = await asyncio.wait_for(self._queue.get(), wait)
                        except (asyncio.TimeoutError, TimeoutError):
                            break
                    if item.key != first.key or rows + item.rows > self.max_batch_size:
                        held = item
                        break
                    batch.append(item)
                    rows += item.rows
            await self._execute(batch, rows)

    async def _execute(self, batch: list, rows: int) -> None:
        self._pending -= len(batch)
        batch = [it for it in batch if not it.future.done()]  # a client that went away
        if not batch:
            return
        loop = asyncio.get_running_loop()
        if len(batch) == 1:
            feed = batch[0].feed
        else:
            feed = {k: np.concatenate([it.feed[k] for it in batch]) for k in batch[0].feed}
        start = time.perf_counter_ns()
        try:
            outs = await loop.run_in_executor(self._pool, self._run, feed)
        except Exception as e:  # the model's own failure: every request of the batch gets it
            for it in batch:
                if not it.future.done():
                    it.future.set_exception(e)
            return
        self.stats.record(len(batch), rows, time.perf_counter_ns() - start)
        if self._on_batch is not None:
            self._on_batch(rows)
        if len(batch) == 1:
            if not batch[0].future.done():
                batch[0].future.set_result(outs)
            return
        offset = 0
        for it in batch:
            part = {k: v[offset:offset + it.rows] for k, v in outs.items()}
            offset += it.rows
            if not it.future.done():
                it.future.set_result(part)

    async def stop(self) -> None:
        for w in self._workers:
            w.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
