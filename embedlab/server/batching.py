"""Run a backend in one worker thread: merge small requests, split big ones, isolate failures.

The event loop never runs a model: a request hands its texts to `MicroBatcher.embed` and
awaits a future. One worker thread builds each model call from the requests waiting, at most
one chunk (`max_texts` texts, `max_chars` characters) at a time:

- **merging**: requests that wait while the model is busy go into the next call together, so
  under load the calls grow by themselves and no request waits on a timer (the "continuous
  batching" of text-embeddings-inference and infinity-emb). A transformer gains a lot from it;
  one thread also keeps torch from fighting itself over the cores.
- **sharing**: a request bigger than a chunk is cut into chunks, and the requests take turns:
  each call is filled first from the requests that have waited longest since their last turn,
  and a newly arrived request has waited longest of all. So a one-text request goes into the
  very next call, waiting for at most the chunk in hand whatever another client sent, and two
  big requests alternate instead of the newer one going first until it has caught up.
- **isolation**: if a call that merged several requests fails, each request's part is run again
  alone, so only the request that broke the model gets the error.
- **leaving**: a request whose client has gone (its `embed` was cancelled) is dropped from the
  queue, and the rest of its chunks are never run.
- **stopping**: `stop_accepting` answers every request still queued with a 503 at once; the
  worker finishes only the call in hand.

With `sort_by_length`, a request's texts go to the model longest first, so the texts that share
a call have similar lengths and a transformer pads less (what `SentenceTransformer.encode`
does within one call, kept across chunks).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from embedlab.server.backends import Embedded
from embedlab.server.errors import APIError, server_error, shutting_down

logger = logging.getLogger("embedlab.server")


@dataclass(eq=False)
class _Job:
    """One request's texts, and its rows as they come back from the model."""

    texts: list[str]
    order: list[int]  # positions in `texts`, in the order they go to the model
    future: asyncio.Future[Embedded] = field(repr=False)
    loop: asyncio.AbstractEventLoop = field(repr=False)
    arrival: int
    in_order: bool  # `order` is 0, 1, 2, ...: rows can come back as they are
    taken: int = 0  # how many of `order` were handed to the model
    last_turn: int = -1  # the last model call it had texts in (-1: none yet)
    embedded: int = 0  # how many rows came back
    closed: bool = False  # answered, failed or abandoned: nothing more to do for it
    vectors: np.ndarray | None = field(default=None, repr=False)
    counts: list[int] = field(default_factory=list, repr=False)


@dataclass(eq=False)
class _Piece:
    """The part of one job that goes into one model call."""

    job: _Job
    positions: list[int]


class MicroBatcher:
    def __init__(
        self,
        embed: Callable[[list[str]], Embedded],
        *,
        max_texts: int = 256,
        max_chars: int | None = None,
        sort_by_length: bool = False,
    ) -> None:
        self._embed = embed
        self._max_texts = max_texts
        self._max_chars = max_chars
        self._sort = sort_by_length
        self._lock = threading.Condition()
        self._pending: list[_Job] = []  # jobs with texts not yet handed to the model
        self._arrivals = itertools.count()
        self._turns = itertools.count()  # model calls built
        self._accepting = False
        self._thread: threading.Thread | None = None
        self.calls = 0  # backend calls made, for tests and the benchmark
        self.texts = 0  # texts embedded

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._accepting = True
            self._thread = threading.Thread(target=self._work, name="embedlab-batcher", daemon=True)
            self._thread.start()

    def stop_accepting(self) -> None:
        """Refuse new requests and answer the queued ones 503 now; the call in hand finishes."""
        with self._lock:
            self._accepting = False
            refused, self._pending = self._pending, []
            for job in refused:
                job.closed = True
            self._lock.notify_all()
        for job in refused:
            _deliver(job, error=shutting_down())

    def close(self, timeout: float | None = None) -> bool:
        """`stop_accepting`, then wait for the call in hand. False if it is still running."""
        self.stop_accepting()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        return True

    async def embed(self, texts: list[str]) -> Embedded:
        loop = asyncio.get_running_loop()
        order = list(range(len(texts)))
        in_order = True
        if self._sort and len(texts) > 1:
            order.sort(key=lambda i: -len(texts[i]))
            in_order = order == list(range(len(texts)))
        with self._lock:
            if not self._accepting:
                raise shutting_down()
            job = _Job(texts, order, loop.create_future(), loop, next(self._arrivals), in_order)
            self._pending.append(job)
            self._lock.notify()
        try:
            return await job.future
        except asyncio.CancelledError:  # the client left: run none of what is left of it
            with self._lock:
                job.closed = True
                if job in self._pending:
                    self._pending.remove(job)
            raise

    # --- the worker thread ------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._accepting and not self._pending:
                    self._lock.wait()
                if not self._accepting:
                    return
                pieces = self._take()
            self._run(pieces)

    def _take(self) -> list[_Piece]:
        """The next call: the requests that waited longest since their last turn first (new ones
        before all, oldest first), up to one chunk."""
        pieces: list[_Piece] = []
        texts = chars = 0
        turn = next(self._turns)
        for job in sorted(self._pending, key=lambda j: (j.last_turn, j.arrival)):
            start = stop = job.taken
            while stop < len(job.order) and texts < self._max_texts:
                size = len(job.texts[job.order[stop]])
                if self._max_chars is not None and texts and chars + size > self._max_chars:
                    break
                texts += 1
                chars += size
                stop += 1
            if stop > start:
                pieces.append(_Piece(job, job.order[start:stop]))
                job.taken = stop
                job.last_turn = turn
                if stop == len(job.order):
                    self._pending.remove(job)
            if texts >= self._max_texts or (self._max_chars is not None and chars >= self._max_chars):
                break
        return pieces

    def _run(self, pieces: list[_Piece]) -> None:
        texts = [piece.job.texts[i] for piece in pieces for i in piece.positions]
        try:
            result = self._embed(texts)
        except Exception as exc:  # noqa: BLE001 - turned into each culprit's own error below
            if len(pieces) > 1:
                logger.warning("a model call shared by %d requests failed (%r): running each alone", len(pieces), exc)
                for piece in pieces:  # alone, each request either works or is the culprit
                    if not piece.job.closed:
                        self._run([piece])
                return
            self._fail(pieces[0].job, exc)
            return
        self.calls += 1
        self.texts += len(texts)
        start = 0
        for piece in pieces:
            stop = start + len(piece.positions)
            self._place(piece, result, start, stop)
            start = stop

    def _place(self, piece: _Piece, result: Embedded, start: int, stop: int) -> None:
        job = piece.job
        if job.closed:
            return
        n = len(job.texts)
        if stop - start == n and job.in_order:
            job.vectors = result.vectors[start:stop]  # the whole request, in order: no copy
            job.counts = result.token_counts[start:stop]
        else:
            if job.vectors is None:
                job.vectors = np.empty((n, result.vectors.shape[1]), dtype=result.vectors.dtype)
                job.counts = [0] * n
            job.vectors[piece.positions] = result.vectors[start:stop]
            for i, count in zip(piece.positions, result.token_counts[start:stop]):
                job.counts[i] = count
        job.embedded += stop - start
        if job.embedded == n:
            job.closed = True
            _deliver(job, result=Embedded(job.vectors, job.counts))

    def _fail(self, job: _Job, exc: Exception) -> None:
        logger.error("embedding a request of %d texts failed", len(job.texts), exc_info=exc)
        with self._lock:
            job.closed = True
            if job in self._pending:
                self._pending.remove(job)
        if not isinstance(exc, APIError):
            exc = server_error(f"The model failed on this request's texts ({type(exc).__name__}). ")
        _deliver(job, error=exc)


def _deliver(job: _Job, *, result: Embedded | None = None, error: BaseException | None = None) -> None:
    def settle() -> None:
        if job.future.done():  # the request was cancelled meanwhile
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)  # type: ignore[arg-type]  # a job's result type follows its kind, which the future's type cannot say

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass
