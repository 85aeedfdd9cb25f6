"""Run a backend in one worker thread, merging requests that wait into one call.

The event loop never runs a model: a request hands its texts to `MicroBatcher.embed` and
awaits a future. One worker thread takes the oldest waiting request and, without waiting any
longer, every other request already queued (up to `max_batch` texts), embeds them in one
backend call and hands each request its rows. While the model is busy, new requests queue up,
so under load the batches grow by themselves and no request waits on a timer: the
"continuous batching" of text-embeddings-inference and infinity-emb. A transformer gains a lot
from it (32 texts cost far less than 32 calls of one); one thread also keeps torch from
fighting itself over the cores.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from embedlab.server.backends import Embedded
from embedlab.server.errors import shutting_down

logger = logging.getLogger("embedlab.server")


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future[Embedded]
    loop: asyncio.AbstractEventLoop = field(repr=False)


_STOP = object()


class MicroBatcher:
    def __init__(self, embed: Callable[[list[str]], Embedded], *, max_batch: int = 256) -> None:
        self._embed = embed
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.calls = 0  # backend calls made, for tests and the benchmark
        self.texts = 0  # texts embedded

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="embedlab-batcher", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand, then refuse what is still queued (503)."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(job, _Job):
                _deliver(job, error=shutting_down())

    async def embed(self, texts: list[str]) -> Embedded:
        if self._thread is None:
            raise shutting_down()
        loop = asyncio.get_running_loop()
        job = _Job(texts, loop.create_future(), loop)
        self._queue.put(job)
        return await job.future

    def _work(self) -> None:
        carry: _Job | object | None = None
        while True:
            first = carry if carry is not None else self._queue.get()
            carry = None
            if first is _STOP:
                return
            assert isinstance(first, _Job)
            jobs, size = [first], len(first.texts)
            while size < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP or size + len(nxt.texts) > self._max_batch:  # type: ignore[union-attr]
                    carry = nxt  # it starts the next batch (or stops the worker after this one)
                    break
                assert isinstance(nxt, _Job)
                jobs.append(nxt)
                size += len(nxt.texts)
            self._run(jobs)

    def _run(self, jobs: list[_Job]) -> None:
        texts = [text for job in jobs for text in job.texts]
        try:
            result = self._embed(texts)
        except Exception as exc:  # noqa: BLE001 - reported to each waiting request, logged once
            logger.exception("embedding %d texts failed", len(texts))
            for job in jobs:
                _deliver(job, error=exc)
            return
        self.calls += 1
        self.texts += len(texts)
        start = 0
        for job in jobs:
            stop = start + len(job.texts)
            part = Embedded(result.vectors[start:stop], result.token_counts[start:stop])
            _deliver(job, result=part)
            start = stop


def _deliver(job: _Job, *, result: Embedded | None = None, error: BaseException | None = None) -> None:
    def settle() -> None:
        if job.future.done():  # the request was cancelled meanwhile
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)  # type: ignore[arg-type]

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass
