"""Many clients at once: no errors, each gets its own rows, and waiting requests share a call."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import numpy as np
import pytest
from openai import AsyncOpenAI

from embedlab.server.backends import Embedded
from embedlab.server.batching import MicroBatcher
from embedlab.server.errors import APIError
from embedlab.server.launch import LocalServer

CLIENTS = 64
REQUESTS_EACH = 5


def test_64_concurrent_clients(server: LocalServer) -> None:
    texts = [f"client {c} asks about cat number {r}" for c in range(CLIENTS) for r in range(REQUESTS_EACH)]

    async def main() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        client = AsyncOpenAI(base_url=server.base_url, api_key="anything", max_retries=0, timeout=60)
        got: dict[str, np.ndarray] = {}

        async def one_client(c: int) -> None:
            for r in range(REQUESTS_EACH):
                text = texts[c * REQUESTS_EACH + r]
                response = await client.embeddings.create(model=server.model, input=text)
                assert response.data[0].index == 0
                got[text] = np.array(response.data[0].embedding)

        await asyncio.gather(*(one_client(c) for c in range(CLIENTS)))
        reference = await client.embeddings.create(model=server.model, input=texts)
        await client.close()
        return got, {t: np.array(item.embedding) for t, item in zip(texts, reference.data)}

    got, reference = asyncio.run(main())
    assert len(got) == len(texts)
    for text in texts:  # every client got the vector of its own text, not a neighbour's
        np.testing.assert_allclose(got[text], reference[text], atol=1e-6)


class SlowBackend:
    """Records each call; the first one blocks until released, so others pile up behind it.
    A call with "boom" in it fails, as a model fails on a text it cannot take."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.busy = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: list[str]) -> Embedded:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.busy.set()
            self.release.wait(10)
        if "boom" in texts:
            raise RuntimeError("model failure")
        vectors = np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)
        return Embedded(vectors, [len(t) for t in texts])


def run_with_busy_model(batcher: MicroBatcher, backend: SlowBackend, later: list[list[str]]) -> list[object]:
    """One request occupies the model; the `later` requests queue behind it; then the model goes
    on. Returns each later request's result or exception, in order."""

    async def main() -> list[object]:
        batcher.start()
        first = asyncio.ensure_future(batcher.embed(["x"]))
        while not backend.busy.is_set():
            await asyncio.sleep(0.01)
        rest = []
        for texts in later:  # queued in this order
            rest.append(asyncio.ensure_future(batcher.embed(texts)))
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        backend.release.set()
        results = await asyncio.gather(first, *rest, return_exceptions=True)
        batcher.close()
        return results[1:]

    return asyncio.run(asyncio.wait_for(main(), 20))


def test_requests_waiting_on_a_busy_model_share_one_call() -> None:
    backend = SlowBackend()
    results = run_with_busy_model(MicroBatcher(backend.embed, max_texts=8), backend, [["y" * n] for n in range(1, 11)])
    assert [len(call) for call in backend.calls] == [1, 8, 2]  # 10 waiting requests: 8 (a chunk), then 2
    for n, result in enumerate(results, start=1):
        assert isinstance(result, Embedded)
        assert result.token_counts == [n]  # each request got its own row back
        assert result.vectors[0, 0] == n


def test_a_big_request_takes_turns_with_small_ones() -> None:
    backend = SlowBackend()
    big = [f"big {i}" for i in range(20)]
    batcher = MicroBatcher(backend.embed, max_texts=8)
    results = run_with_busy_model(batcher, backend, [big, ["small one"], ["small two"]])
    # The big request was first, so it starts; the small ones, served nothing yet, go first in
    # the next call: each waited for one chunk of the big request at most.
    assert backend.calls[1] == big[:8]
    assert backend.calls[2][:2] == ["small one", "small two"]
    assert [len(call) for call in backend.calls] == [1, 8, 8, 6]
    whole = results[0]
    assert isinstance(whole, Embedded)
    assert whole.token_counts == [len(t) for t in big]  # the chunks put back in the request's order
    np.testing.assert_array_equal(whole.vectors[:, 0], [len(t) for t in big])


class SteppedBackend:
    """Each model call waits for the test to let it through, one `step()` at a time."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Semaphore(0)
        self.go = threading.Semaphore(0)

    def embed(self, texts: list[str]) -> Embedded:
        self.calls.append(list(texts))
        self.entered.release()
        self.go.acquire(timeout=10)
        return Embedded(np.ones((len(texts), 2), dtype=np.float32), [1] * len(texts))

    async def step(self) -> None:
        """Let the call in hand finish and wait until the next one has begun."""
        self.go.release()
        await asyncio.to_thread(self.entered.acquire, True, 10)


def test_big_requests_alternate_whoever_came_first() -> None:
    backend = SteppedBackend()
    batcher = MicroBatcher(backend.embed, max_texts=4)

    async def main() -> None:
        batcher.start()
        old = asyncio.ensure_future(batcher.embed([f"old {i}" for i in range(24)]))
        await asyncio.to_thread(backend.entered.acquire, True, 10)
        await backend.step()  # the old request's second chunk is in hand when the new one arrives
        new = asyncio.ensure_future(batcher.embed([f"new {i}" for i in range(12)]))
        await asyncio.sleep(0.05)
        for _ in range(6):
            await backend.step()
        backend.go.release(100)
        await asyncio.gather(old, new)
        batcher.close()

    asyncio.run(asyncio.wait_for(main(), 20))
    owners = [call[0].split()[0] for call in backend.calls]
    # then they take turns (the new one does not go first until it has had as many texts)
    assert owners == ["old", "old", "new", "old", "new", "old", "new", "old", "old"], owners


def test_texts_go_longest_first_and_come_back_in_order() -> None:
    backend = SlowBackend()
    texts = ["bb", "a", "dddd", "ccc", "eeeee"]
    batcher = MicroBatcher(backend.embed, max_texts=2, sort_by_length=True)
    (result,) = run_with_busy_model(batcher, backend, [texts])
    assert backend.calls[1:] == [["eeeee", "dddd"], ["ccc", "bb"], ["a"]]  # similar lengths share a call
    assert isinstance(result, Embedded)
    assert result.token_counts == [2, 1, 4, 3, 5]


def test_a_chunk_holds_at_most_max_chars() -> None:
    backend = SlowBackend()
    batcher = MicroBatcher(backend.embed, max_texts=100, max_chars=10)
    run_with_busy_model(batcher, backend, [["aaaa", "bbbb", "cccc", "d" * 30, "e"]])
    assert backend.calls[1:] == [["aaaa", "bbbb"], ["cccc"], ["d" * 30], ["e"]]  # a longer text goes alone


def test_a_failing_merged_call_fails_only_the_culprit() -> None:
    backend = SlowBackend()
    later = [["fine 1"], ["fine 2", "fine 3"], ["boom"], ["fine 4"]]
    results = run_with_busy_model(MicroBatcher(backend.embed, max_texts=64), backend, later)
    assert backend.calls[1] == ["fine 1", "fine 2", "fine 3", "boom", "fine 4"]  # merged, and failed
    assert backend.calls[2:] == [["fine 1"], ["fine 2", "fine 3"], ["boom"], ["fine 4"]]  # each alone
    assert [type(r).__name__ for r in results] == ["Embedded", "Embedded", "APIError", "Embedded"]
    error = results[2]
    assert isinstance(error, APIError) and error.status == 500
    assert "RuntimeError" in error.message
    assert results[1].token_counts == [6, 6]  # type: ignore[union-attr]


def test_a_request_whose_client_left_is_not_embedded() -> None:
    backend = SlowBackend()
    batcher = MicroBatcher(backend.embed, max_texts=4)

    async def main() -> None:
        batcher.start()
        first = asyncio.ensure_future(batcher.embed(["x"]))
        while not backend.busy.is_set():
            await asyncio.sleep(0.01)
        gone = asyncio.ensure_future(batcher.embed(["left"] * 10))
        stays = asyncio.ensure_future(batcher.embed(["stays"]))
        await asyncio.sleep(0.01)
        gone.cancel()  # what the app does when the client disconnects
        with contextlib.suppress(asyncio.CancelledError):
            await gone
        backend.release.set()
        await asyncio.gather(first, stays)
        batcher.close()

    asyncio.run(asyncio.wait_for(main(), 20))
    assert backend.calls == [["x"], ["stays"]]


def test_stopping_answers_the_queue_at_once_and_finishes_the_call_in_hand() -> None:
    backend = SlowBackend()
    batcher = MicroBatcher(backend.embed, max_texts=4)

    async def main() -> tuple[object, list[object], float]:
        batcher.start()
        in_hand = asyncio.ensure_future(batcher.embed(["in hand"]))
        while not backend.busy.is_set():
            await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(batcher.embed([f"queued {i}"] * 3)) for i in range(5)]
        await asyncio.sleep(0.01)
        started = time.monotonic()
        batcher.stop_accepting()
        refused = await asyncio.gather(*queued, return_exceptions=True)
        waited = time.monotonic() - started
        backend.release.set()
        result = await in_hand
        assert await asyncio.to_thread(batcher.close, 5)
        return result, refused, waited

    result, refused, waited = asyncio.run(asyncio.wait_for(main(), 20))
    assert isinstance(result, Embedded)
    assert waited < 1  # not after the call in hand
    assert all(isinstance(r, APIError) and r.status == 503 for r in refused)
    assert backend.calls == [["in hand"]]


def test_a_closed_batcher_refuses_with_503() -> None:
    batcher = MicroBatcher(lambda texts: Embedded(np.ones((len(texts), 2), np.float32), [1] * len(texts)))

    async def main() -> None:
        batcher.start()
        batcher.close()
        with pytest.raises(APIError) as refused:
            await batcher.embed(["late"])
        assert refused.value.status == 503

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5
