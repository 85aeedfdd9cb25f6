"""One bad request never hurts another: a text no model can take, a model call that fails while
other requests share it, and errors on a keep-alive connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx2
import numpy as np
import pytest
from openai import OpenAI

from embedlab.server.launch import LocalServer

from .helpers import API_KEY, RawHTTP, assert_openai_error, embeddings_body

MODEL = "wordllama-l2-supercat"
SLOW = 0.3  # seconds each model call of the faulty server sleeps, so requests queue behind it


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[LocalServer]:
    """WordLlama whose model calls each take SLOW seconds, and fail when a text is "boom"."""
    with LocalServer("--test-slow", str(SLOW), "--test-fail-on", "boom") as running:
        yield running


async def post_all(base_url: str, bodies: list[bytes], *, first: bytes | None = None) -> list[httpx2.Response]:
    """POST each body at once (after `first`, if given, has reached the model: the rest queue
    behind it and go into one model call together)."""
    async with httpx2.AsyncClient(base_url=base_url, timeout=30, limits=httpx2.Limits(max_connections=64)) as client:

        def post(body: bytes):
            return client.post("/embeddings", content=body, headers={"content-type": "application/json"})

        blocker = asyncio.ensure_future(post(first)) if first is not None else None
        if blocker is not None:
            await asyncio.sleep(SLOW / 3)
        responses = await asyncio.gather(*(post(body) for body in bodies))
        if blocker is not None:
            assert (await blocker).status_code == 200
        return list(responses)


def test_a_lone_surrogate_is_refused_alone(server: LocalServer) -> None:
    # What `json.dumps("a\ud800b")` writes, and what the `requests` package sends for that string.
    bad = b'{"model": "%s", "input": ["fine", "a\\ud800b"]}' % MODEL.encode()
    good = [embeddings_body(MODEL, [f"a sleeping cat {i}", "a dog"]) for i in range(12)]
    responses = asyncio.run(post_all(server.base_url, [*good[:6], bad, *good[6:]]))
    error = assert_openai_error(responses[6], 400)
    assert (error["param"], error["code"]) == ("input[1]", "invalid_value")
    assert "surrogate" in error["message"]
    assert [r.status_code for i, r in enumerate(responses) if i != 6] == [200] * 12


def test_a_failing_merged_call_fails_only_the_culprit(faulty_server: LocalServer) -> None:
    texts = [["a sleeping cat"], ["a dog", "a feline"], ["boom"], ["the server crashed"], ["python code"]]
    bodies = [embeddings_body(MODEL, t, encoding_format="float") for t in texts]
    responses = asyncio.run(post_all(faulty_server.base_url, bodies, first=embeddings_body(MODEL, "hold on")))
    error = assert_openai_error(responses[2], 500)
    assert "RuntimeError" in error["message"]
    for i, (sent, response) in enumerate(zip(texts, responses)):
        if i == 2:
            continue
        assert response.status_code == 200, response.text
        got = np.array([item["embedding"] for item in response.json()["data"]])
        alone = OpenAI(base_url=faulty_server.base_url, api_key="x", max_retries=0).embeddings.create(
            model=MODEL, input=sent, encoding_format="float"
        )
        np.testing.assert_allclose(got, np.array([item.embedding for item in alone.data]), atol=1e-6)
    assert "a model call shared by 5 requests failed" in faulty_server.output  # they did share it
    assert faulty_server.output.count("embedding a request of 1 texts failed") == 1  # then the culprit alone
    assert faulty_server.process.poll() is None


ERRORS = [  # (what, method, path, body, extra headers, status)
    ("bad JSON", "POST", "/v1/embeddings", b"{", {}, 400),
    ("validation", "POST", "/v1/embeddings", embeddings_body(MODEL, ""), {}, 400),
    ("unknown model", "POST", "/v1/embeddings", embeddings_body("gpt-4", "a cat"), {}, 404),
    ("unknown path", "GET", "/v1/nothing", b"", {}, 404),
    ("wrong method", "DELETE", "/v1/models", b"", {}, 405),
    ("not JSON", "POST", "/v1/embeddings", b"a cat", {"content-type": "text/plain"}, 415),
    ("web page", "POST", "/v1/embeddings", embeddings_body(MODEL, "a cat"), {"origin": "https://example.com"}, 403),
    ("model failure", "POST", "/v1/embeddings", embeddings_body(MODEL, "boom"), {}, 500),
    # big enough for the server to count its tokens, which fails: an error the server did not expect
    ("unexpected error", "POST", "/v1/embeddings", embeddings_body(MODEL, ["boom"] + ["x" * 30_000] * 11), {}, 500),
]


def test_errors_keep_the_connection_open(faulty_server: LocalServer) -> None:
    good = embeddings_body(MODEL, "a sleeping cat")
    with RawHTTP(faulty_server.base_url) as raw:
        for what, method, path, body, headers, status in ERRORS:
            reply = raw.request(method, path, body, headers)
            assert_openai_error(reply, status)
            assert "close" not in reply.headers.get("connection", ""), what
            assert raw.post(good).status_code == 200, f"the request after {what} failed"
    assert "unexpected error in POST /v1/embeddings" in faulty_server.output  # logged once, by us
    assert "Exception in ASGI application" not in faulty_server.output  # not by uvicorn, which drops the connection


def test_limit_errors_keep_the_connection_open(strict_server: LocalServer) -> None:
    key = {"authorization": f"Bearer {API_KEY}"}
    good = embeddings_body(MODEL, "a sleeping cat")
    too_big = json.dumps({"model": MODEL, "input": ["a cat sat"] * 2000}).encode()
    with RawHTTP(strict_server.base_url) as raw:
        for headers, body, status in (({}, good, 401), (key, too_big, 413), (key, embeddings_body(MODEL, ["a"] * 9), 400)):
            reply = raw.post(body, **headers)
            assert_openai_error(reply, status)
            assert "close" not in reply.headers.get("connection", "")
            assert raw.post(good, **key).status_code == 200
