"""Many clients at once: no errors, each gets its own rows, and waiting requests share a call."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from openai import AsyncOpenAI

from embedlab.server.backends import Embedded
from embedlab.server.batching import MicroBatcher
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
    """Records each call; the first one blocks until released, so others pile up behind it."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()

    def embed(self, texts: list[str]) -> Embedded:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.release.wait(10)
        vectors = np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)
        return Embedded(vectors, [len(t) for t in texts])


def test_requests_waiting_on_a_busy_model_share_one_call() -> None:
    backend = SlowBackend()
    batcher = MicroBatcher(backend.embed, max_batch=8)

    async def main() -> list[Embedded]:
        batcher.start()
        first = asyncio.ensure_future(batcher.embed(["x"]))
        while not backend.calls:  # the worker is now busy with the first request
            await asyncio.sleep(0.01)
        rest = [asyncio.ensure_future(batcher.embed(["y" * n])) for n in range(1, 11)]
        await asyncio.sleep(0.1)
        backend.release.set()
        results = await asyncio.gather(first, *rest)
        batcher.close()
        return results

    results = asyncio.run(main())
    assert [len(call) for call in backend.calls] == [1, 8, 2]  # 10 waiting requests: 8 (max_batch), then 2
    for n, result in enumerate(results[1:], start=1):
        assert result.token_counts == [n]  # each request got its own row back
        assert result.vectors[0, 0] == n


def test_a_failing_backend_fails_only_its_batch() -> None:
    calls = []

    def embed(texts: list[str]) -> Embedded:
        calls.append(texts)
        if "boom" in texts:
            raise RuntimeError("model failure")
        return Embedded(np.ones((len(texts), 2), dtype=np.float32), [1] * len(texts))

    batcher = MicroBatcher(embed)

    async def main() -> None:
        batcher.start()
        with pytest.raises(RuntimeError, match="model failure"):
            await batcher.embed(["boom"])
        assert (await batcher.embed(["fine"])).token_counts == [1]
        batcher.close()

    asyncio.run(main())


def test_a_closed_batcher_refuses_with_503() -> None:
    from embedlab.server.errors import APIError

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
