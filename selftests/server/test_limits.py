"""No client takes more than its share: tokens per request, header size, the time a request may
take to arrive, and big requests that take turns with small ones."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from embedlab.server.launch import LocalServer

from .helpers import RawHTTP, assert_openai_error, embeddings_body

MAX_TOKENS = 200
READ_TIMEOUT = 1.0
CALL = 0.1  # seconds each model call takes (--test-slow), with 4 texts per call (--batch-size)


@pytest.fixture(scope="module")
def limited() -> Iterator[LocalServer]:
    with LocalServer(
        "--max-tokens", str(MAX_TOKENS), "--read-timeout", str(READ_TIMEOUT), "--batch-size", "4", "--test-slow", str(CALL)
    ) as running:
        yield running


def test_tokens_per_request_in_openais_words(limited: LocalServer) -> None:
    client = OpenAI(base_url=limited.base_url, api_key="x", max_retries=0)
    assert client.embeddings.create(model=limited.model, input=["a sleeping cat"] * 8).usage.prompt_tokens <= MAX_TOKENS
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model=limited.model, input=["a sleeping cat on the warm mat"] * 40)
    assert refused.value.code == "max_tokens_per_request"
    body = refused.value.body
    assert isinstance(body, dict)
    assert body["type"] == "max_tokens_per_request" and body["param"] is None
    assert body["message"].startswith("Requested ") and body["message"].endswith(f", max {MAX_TOKENS} tokens per request")
    requested = int(body["message"].split()[1])
    assert requested > MAX_TOKENS


def test_the_default_token_limit_is_openais() -> None:
    from embedlab.server.validation import Limits

    assert (Limits().max_tokens, Limits().max_inputs) == (300_000, 2048)


def test_headers_past_the_limit_get_431(limited: LocalServer) -> None:
    with RawHTTP(limited.base_url) as raw:
        reply = raw.request("GET", "/v1/models", headers={"x-padding": "a" * 100_000})
        assert_openai_error(reply, 431)
        assert raw.closed_by_server()
    with RawHTTP(limited.base_url) as raw:  # many small headers add up the same way
        reply = raw.request("GET", "/v1/models", headers={f"x-h{i}": "a" * 50 for i in range(1000)})
        assert_openai_error(reply, 431)
    with RawHTTP(limited.base_url) as raw:  # headers of a usual size are fine
        assert raw.request("GET", "/v1/models", headers={"x-padding": "a" * 8000}).status_code == 200


def test_a_half_sent_request_times_out_with_408(limited: LocalServer) -> None:
    body = embeddings_body(limited.model, "a cat")
    partial_head = b"POST /v1/embeddings HTTP/1.1\r\ncontent-type: application/json\r\n"
    partial_body = b"POST /v1/embeddings HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body), body[:10])
    for sent in (partial_head, partial_body):  # half the headers, half the body
        with RawHTTP(limited.base_url) as raw:
            raw.send(sent)
            started = time.monotonic()
            error = assert_openai_error(raw.reply(), 408)
            assert f"{READ_TIMEOUT:g} seconds" in error["message"]
            assert READ_TIMEOUT - 0.2 < time.monotonic() - started < READ_TIMEOUT + 3
            assert raw.closed_by_server()


def test_a_connection_that_sends_nothing_is_closed(limited: LocalServer) -> None:
    with RawHTTP(limited.base_url) as raw:
        started = time.monotonic()
        assert raw.closed_by_server(within=READ_TIMEOUT + 3)
        assert time.monotonic() - started > READ_TIMEOUT - 0.2
        assert raw.buffer == b""  # without an answer: a client would take it for the answer to its next request


def test_a_slow_but_steady_request_within_the_time_is_fine(limited: LocalServer) -> None:
    body = embeddings_body(limited.model, "a cat")
    with RawHTTP(limited.base_url) as raw:
        raw.send(b"POST /v1/embeddings HTTP/1.1\r\ncontent-type: application/json\r\n")
        time.sleep(READ_TIMEOUT / 3)
        raw.send(b"content-length: %d\r\n\r\n" % len(body))
        time.sleep(READ_TIMEOUT / 3)
        raw.send(body)
        assert raw.reply().status_code == 200
        time.sleep(READ_TIMEOUT * 0.8)  # the clock starts again with each request
        assert raw.post(body).status_code == 200


def test_a_big_request_does_not_hold_up_a_small_one(limited: LocalServer) -> None:
    big = [f"cat {i}" for i in range(40)]  # ten calls of 4 texts: about a second

    async def main() -> tuple[float, float]:
        client = AsyncOpenAI(base_url=limited.base_url, api_key="x", max_retries=0, timeout=30)
        await client.embeddings.create(model=limited.model, input="warm up")  # the client's first call is slow
        started = time.monotonic()
        big_request = asyncio.ensure_future(client.embeddings.create(model=limited.model, input=big))
        await asyncio.sleep(3 * CALL)
        sent = time.monotonic()
        small = await client.embeddings.create(model=limited.model, input="a sleeping cat")
        small_took = time.monotonic() - sent
        assert len(small.data) == 1
        response = await big_request
        assert [item.index for item in response.data] == list(range(40))
        big_took = time.monotonic() - started
        await client.close()
        return small_took, big_took

    small_took, big_took = asyncio.run(main())
    assert big_took > 10 * CALL
    assert small_took < big_took / 3, (small_took, big_took)  # one call in hand, then its own


def test_the_server_is_still_healthy(limited: LocalServer) -> None:
    assert httpx2.get(limited.base_url.removesuffix("/v1") + "/health").status_code == 200
    assert limited.process is not None and limited.process.poll() is None
    assert "Traceback" not in limited.output


def test_the_listening_socket_is_loopback(limited: LocalServer) -> None:
    host = limited.base_url.split("//", 1)[1].rsplit(":", 1)[0]
    assert host == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", int(limited.info["port"])), timeout=5):
        pass
