"""Every bad request gets OpenAI's error JSON with the right status, and never harms the server.

Malformed bodies go through raw httpx2 requests (the `openai` client would refuse to send
them); a few go through the client too, to check the exception a learner would see.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest
from openai import OpenAI

from embedlab.server.launch import LocalServer

from .helpers import RawHTTP, assert_openai_error

MODEL = "wordllama-l2-supercat"


def body_of(**fields: Any) -> bytes:
    return json.dumps({"model": MODEL, **fields}).encode()


HUGE = b"9" * 5000  # more digits than Python converts to an int by default


def with_huge(field: str, around: bytes = b"%s") -> bytes:
    return b'{"model": "%s", "input": "a cat", "%s": %s}' % (MODEL.encode(), field.encode(), around % HUGE)


# (case, raw body, status, param, code) against the default server
BAD_BODIES = [
    ("malformed JSON", b'{"model": "wordllama-l2-supercat", "input": ', 400, None, None),
    ("not UTF-8", b'{"model": "\xff\xfe", "input": "x"}', 400, None, None),
    ("absurdly nested", b"[" * 100_000 + b"]" * 100_000, 400, None, None),
    ("not an object", b'["a sleeping cat"]', 400, None, None),
    ("empty body", b"", 400, None, None),
    ("missing model", json.dumps({"input": "a cat"}).encode(), 400, "model", "missing_required_parameter"),
    ("model not a string", json.dumps({"model": 7, "input": "a cat"}).encode(), 400, "model", "invalid_type"),
    ("missing input", body_of(), 400, "input", "missing_required_parameter"),
    ("null input", body_of(input=None), 400, "input", "invalid_type"),
    ("input an object", body_of(input={"text": "a cat"}), 400, "input", "invalid_type"),
    ("empty list", body_of(input=[]), 400, "input", "empty_array"),
    ("empty string", body_of(input=""), 400, "input", "empty_string"),
    ("empty string in a list", body_of(input=["a cat", ""]), 400, "input[1]", "empty_string"),
    ("non-string item", body_of(input=["a cat", 42]), 400, "input[1]", "invalid_type"),
    ("null item", body_of(input=["a cat", None]), 400, "input[1]", "invalid_type"),
    # token ids (cl100k_base) are taken; these are not ids of it, or not ids at all
    ("token id past the last", body_of(input=[1820, 100277]), 400, "input[1]", "invalid_value"),
    ("negative token id", body_of(input=[[1820], [-1]]), 400, "input[1][0]", "invalid_value"),
    ("token id of no token", body_of(input=[[1820, 100256]]), 400, "input[0][1]", "invalid_value"),
    ("empty token array", body_of(input=[[1820], []]), 400, "input[1]", "empty_array"),
    ("text among token ids", body_of(input=[[1820, "a"]]), 400, "input[0][1]", "invalid_type"),
    ("an id, then text", body_of(input=[1, "a"]), 400, "input[0]", "invalid_type"),
    ("text, then an id", body_of(input=["a", 1]), 400, "input[1]", "invalid_type"),
    ("lone surrogate", body_of(input="a\ud800b"), 400, "input", "invalid_value"),
    ("lone surrogate in a list", body_of(input=["a cat", "\udfffz"]), 400, "input[1]", "invalid_value"),
    ("5000-digit dimensions", with_huge("dimensions"), 400, "dimensions", "integer_above_max_value"),
    ("-5000-digit dimensions", with_huge("dimensions", b"-%s"), 400, "dimensions", "integer_below_min_value"),
    ("5000-digit token id", with_huge("input", b"[%s]").replace(b'"input": "a cat", ', b""), 400, "input[0]",
     "invalid_value"),
    ("too many inputs", body_of(input=["a cat"] * 2049), 400, "input", "array_above_max_length"),
    ("over-long input", body_of(input=["a cat", "x" * 32_769]), 400, "input[1]", "string_above_max_length"),
    ("unknown model", body_of(input="a cat") .replace(MODEL.encode(), b"text-embedding-3-small"), 404, "model",
     "model_not_found"),
    ("unknown encoding", body_of(input="a cat", encoding_format="md5"), 400, "encoding_format", "invalid_value"),
    ("encoding not a string", body_of(input="a cat", encoding_format=1), 400, "encoding_format", "invalid_value"),
    ("dimensions 0", body_of(input="a cat", dimensions=0), 400, "dimensions", "integer_below_min_value"),
    ("dimensions too big", body_of(input="a cat", dimensions=257), 400, "dimensions", "integer_above_max_value"),
    ("dimensions a string", body_of(input="a cat", dimensions="64"), 400, "dimensions", "invalid_type"),
    ("dimensions a boolean", body_of(input="a cat", dimensions=True), 400, "dimensions", "invalid_type"),
    ("dimensions a decimal", body_of(input="a cat", dimensions=64.5), 400, "dimensions", "invalid_type"),
    ("unknown field", body_of(inputs="a cat"), 400, "inputs", "unknown_parameter"),
    ("user not a string", body_of(input="a cat", user=5), 400, "user", "invalid_type"),
]


@pytest.mark.parametrize(("case", "body", "status", "param", "code"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_body(server: LocalServer, case: str, body: bytes, status: int, param: str | None, code: str | None) -> None:
    response = httpx2.post(
        f"{server.base_url}/embeddings", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    error = assert_openai_error(response, status)
    assert (error["param"], error["code"]) == (param, code)


def test_messages_say_what_was_wrong(server: LocalServer) -> None:
    def message(body: bytes) -> str:
        response = httpx2.post(f"{server.base_url}/embeddings", content=body, headers={"content-type": "application/json"})
        return response.json()["error"]["message"]

    assert "input[1]" in message(body_of(input=["a cat", 42])) and "integer" in message(body_of(input=["a cat", 42]))
    assert "100277 is not a token id of cl100k_base (0 to 100276)" in message(body_of(input=[1, 100277]))
    assert "input[0]': expected a string, but got an integer" in message(body_of(input=[1, "a"]))
    assert "2048" in message(body_of(input=["a"] * 2049))
    assert "32768" in message(body_of(input="x" * 32_769))
    assert "['float', 'base64']" in message(body_of(input="a", encoding_format="md5"))
    assert "lone surrogate (\\ud800) at position 1" in message(body_of(input="a\ud800b"))
    assert "but got a 5000-digit integer instead" in message(with_huge("dimensions"))


def test_nothing_long_is_echoed_back(server: LocalServer) -> None:
    long_name = "m" * 1_000_000
    for body in (
        json.dumps({"model": long_name, "input": "a cat"}).encode(),
        json.dumps({"model": MODEL, "input": "a cat", long_name: 1}).encode(),
        json.dumps({"model": MODEL, "input": "a cat", "encoding_format": long_name}).encode(),
    ):
        response = httpx2.post(
            f"{server.base_url}/embeddings", content=body, headers={"content-type": "application/json"}, timeout=30
        )
        assert response.status_code in (400, 404)
        assert len(response.content) < 1000, response.text[:300]
        assert "more characters" in response.text
    response = httpx2.get(f"{server.base_url}/{'p' * 20_000}")
    assert_openai_error(response, 404)
    assert len(response.content) < 1000


def test_malformed_http_gets_json_and_a_closed_connection(server: LocalServer) -> None:
    for garbage in (b"HELLO\r\n\r\n", b"POST /v1/embeddings HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"\x16\x03\x01\x00"):
        with RawHTTP(server.base_url) as raw:
            raw.send(garbage)
            reply = raw.reply()
            error = assert_openai_error(reply, 400)
            assert "Invalid HTTP request" in error["message"]
            assert reply.headers["connection"] == "close"
            assert raw.closed_by_server()


def test_unknown_path_and_wrong_method(server: LocalServer) -> None:
    root = server.base_url.removesuffix("/v1")
    error = assert_openai_error(httpx2.post(f"{root}/v1/embedding", json={}), 404)
    assert "POST /v1/embedding" in error["message"]
    assert_openai_error(httpx2.get(f"{root}/embeddings"), 404)
    error = assert_openai_error(httpx2.get(f"{server.base_url}/embeddings"), 405)
    assert "POST" in error["message"]
    assert_openai_error(httpx2.delete(f"{server.base_url}/models"), 405)
    error = assert_openai_error(httpx2.get(f"{server.base_url}/models/text-embedding-3-small"), 404)
    assert error["code"] == "model_not_found"


def test_body_too_large(strict_server: LocalServer) -> None:
    headers = {"authorization": f"Bearer {strict_server.api_key}", "content-type": "application/json"}
    big = json.dumps({"model": MODEL, "input": ["a cat sat"] * 2000}).encode()  # ~24 kB > 0.01 MiB
    url = f"{strict_server.base_url}/embeddings"
    error = assert_openai_error(httpx2.post(url, content=big, headers=headers), 413)
    assert "too large" in error["message"]

    def chunked():  # no Content-Length: the limit holds while reading
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    assert_openai_error(httpx2.post(url, content=chunked(), headers=headers), 413)


def test_the_configured_limits(strict_server: LocalServer) -> None:
    client = OpenAI(base_url=strict_server.base_url, api_key=strict_server.api_key, max_retries=0)
    client.embeddings.create(model=MODEL, input=["a cat"] * 8)
    with pytest.raises(openai.BadRequestError, match="maximum length 8"):
        client.embeddings.create(model=MODEL, input=["a cat"] * 9)
    client.embeddings.create(model=MODEL, input="x" * 200)
    with pytest.raises(openai.BadRequestError, match="maximum length 200"):
        client.embeddings.create(model=MODEL, input="x" * 201)


def test_what_the_openai_client_raises(server: LocalServer) -> None:
    client = OpenAI(base_url=server.base_url, api_key="anything", max_retries=0)
    with pytest.raises(openai.NotFoundError) as not_found:
        client.embeddings.create(model="text-embedding-3-small", input="a cat")
    assert not_found.value.code == "model_not_found"
    assert f"EMBED_MODEL={MODEL}" in not_found.value.message
    with pytest.raises(openai.BadRequestError, match="empty string"):
        client.embeddings.create(model=MODEL, input="")
    with pytest.raises(openai.BadRequestError, match="empty array"):
        client.embeddings.create(model=MODEL, input=[])


def test_the_server_survives_every_bad_request(server: LocalServer) -> None:
    for _, body, *_ in BAD_BODIES:
        httpx2.post(f"{server.base_url}/embeddings", content=body, headers={"content-type": "application/json"}, timeout=30)
    assert server.process is not None and server.process.poll() is None
    client = OpenAI(base_url=server.base_url, api_key="anything", max_retries=0)
    assert len(client.embeddings.create(model=MODEL, input="still here").data) == 1
    assert "Traceback" not in server.output
