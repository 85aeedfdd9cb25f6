"""What arrives on the wire as clients send it: an `Upgrade: h2c` the server does not speak,
compressed bodies (and a gzip bomb), a byte order mark, token ids instead of text, `[::1]`;
and what every answer carries: an `x-request-id`, and gzip when the client asks for it.

Raw sockets where no client library would send the bytes, httpx2 elsewhere; vectors are compared
with the same texts sent plainly.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path

import httpx2
import numpy as np
import openai
import pytest

from embedlab.server import tokens
from embedlab.server.launch import LocalServer

from .helpers import API_KEY, RawHTTP, assert_openai_error, embeddings_body, has_ipv6_loopback

TEXTS = ["a cat sleeps on the mat", "a dog barked loudly"]
JSON = {"content-type": "application/json"}
H2C = {"connection": "Upgrade, HTTP2-Settings", "upgrade": "h2c", "http2-settings": "AAMAAABkAAQAoAAAAAIAAAAA"}
# LangChain's ids for TEXTS (tiktoken's cl100k_base, as OpenAIEmbeddings sends them)
TEXT_IDS = [[64, 8415, 72490, 389, 279, 5634], [64, 5679, 293, 43161, 54945]]


def post(server: LocalServer, body: bytes, **headers: str) -> httpx2.Response:
    return httpx2.post(f"{server.base_url}/embeddings", content=body, headers={**JSON, **headers}, timeout=60)


def vectors(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.array([item["embedding"] for item in response.json()["data"]])


@pytest.fixture(scope="module")
def plain(server: LocalServer) -> np.ndarray:
    return vectors(post(server, embeddings_body(server.model, TEXTS)))


# --- Upgrade: h2c ------------------------------------------------------------------------------


def test_an_upgrade_is_ignored_and_the_body_read(server: LocalServer, plain: np.ndarray) -> None:
    body = embeddings_body(server.model, TEXTS)
    with RawHTTP(server.base_url) as raw:
        reply = raw.post(body, **H2C)
        np.testing.assert_array_equal(vectors(reply), plain)
        assert "upgrade" not in reply.headers  # answered in HTTP/1.1, as if it had not asked
        # The connection goes on: a plain request after it, and a second upgrade.
        assert raw.request("GET", "/health").status_code == 200
        np.testing.assert_array_equal(vectors(raw.post(body, **H2C)), plain)
    assert "Unsupported upgrade" not in server.output


def test_an_upgrade_with_a_chunked_body_in_pieces_then_a_pipelined_request(server: LocalServer, plain: np.ndarray) -> None:
    body = embeddings_body(server.model, TEXTS)
    head = "".join(f"{k}: {v}\r\n" for k, v in H2C.items())
    with RawHTTP(server.base_url) as raw:
        request = (
            f"POST /v1/embeddings HTTP/1.1\r\nhost: {raw.host}\r\ncontent-type: application/json\r\n{head}"
            "transfer-encoding: chunked\r\n\r\n"
        ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        pipelined = f"GET /health HTTP/1.1\r\nhost: {raw.host}\r\n\r\n".encode()
        cut = request.index(b"\r\n\r\n") - 10  # the head itself arrives in two reads
        for piece in (request[:cut], request[cut : cut + 40], request[cut + 40 :] + pipelined):
            raw.send(piece)
        np.testing.assert_array_equal(vectors(raw.reply()), plain)
        assert raw.reply().json()["status"] == "ok"


def test_many_pipelined_upgrades_in_one_read(server: LocalServer) -> None:
    with RawHTTP(server.base_url) as raw:
        head = "".join(f"{k}: {v}\r\n" for k, v in H2C.items())
        one = f"GET /health HTTP/1.1\r\nhost: {raw.host}\r\n{head}\r\n".encode()
        raw.send(one * 2000)  # 300 kB: read a few hundred requests at a time
        assert all(raw.reply().status_code == 200 for _ in range(2000))


def test_a_websocket_upgrade_is_answered_as_http(server: LocalServer) -> None:
    with RawHTTP(server.base_url) as raw:
        headers = {"connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
                   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
        reply = raw.request("GET", "/v1/models", headers=headers)
        assert reply.status_code == 200 and reply.json()["object"] == "list"


# --- compressed and marked bodies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "pack"),
    [
        ("gzip", lambda b: gzip.compress(b)),
        ("x-gzip", lambda b: gzip.compress(b)),
        ("deflate", zlib.compress),  # HTTP's deflate: zlib's format
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw deflate, as some clients send it
        ("gzip, identity", lambda b: gzip.compress(b)),
        ("deflate, gzip", lambda b: gzip.compress(zlib.compress(b))),
    ],
    ids=["gzip", "x-gzip", "deflate", "raw deflate", "gzip then identity", "deflate then gzip"],
)
def test_a_compressed_body(server: LocalServer, plain: np.ndarray, coding: str, pack) -> None:
    body = pack(embeddings_body(server.model, TEXTS))
    np.testing.assert_array_equal(vectors(post(server, body, **{"content-encoding": coding})), plain)


def test_a_byte_order_mark(server: LocalServer, plain: np.ndarray) -> None:
    marked = b"\xef\xbb\xbf" + embeddings_body(server.model, TEXTS)
    np.testing.assert_array_equal(vectors(post(server, marked)), plain)
    np.testing.assert_array_equal(vectors(post(server, gzip.compress(marked), **{"content-encoding": "gzip"})), plain)


def test_an_unknown_or_broken_encoding(server: LocalServer) -> None:
    body = embeddings_body(server.model, TEXTS)
    error = assert_openai_error(post(server, body, **{"content-encoding": "br"}), 415)
    assert "`br`" in error["message"] and "gzip, deflate" in error["message"]
    packed = gzip.compress(body)
    for broken in (packed[: len(packed) // 2], b"not gzip at all", gzip.compress(b"") * 100):  # 100 members
        error = assert_openai_error(post(server, broken, **{"content-encoding": "gzip"}), 400)
        assert "not valid gzip" in error["message"]
    two_members = gzip.compress(body[:10]) + gzip.compress(body[10:])  # what `cat a.gz b.gz` makes
    assert post(server, two_members, **{"content-encoding": "gzip"}).status_code == 200


def test_the_size_limit_counts_after_decompressing(strict_server: LocalServer) -> None:
    # --max-body-mb 0.01: 10 KiB. 2 KB of gzip that inflates to 1 MiB.
    body = gzip.compress(b'{"model": "%s", "input": "%s"}' % (strict_server.model.encode(), b"a" * 2**20))
    assert len(body) < 10_000
    error = assert_openai_error(post(strict_server, body, **{"content-encoding": "gzip", "authorization": f"Bearer {API_KEY}"}), 413)
    assert "once decompressed" in error["message"]


def peak_memory(server: LocalServer) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak memory from /proc")
def test_a_gzip_bomb_is_refused_without_being_inflated(server: LocalServer) -> None:
    # 256 MiB of zeros in 250 KB of gzip, made a block at a time.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(2**20)
    bomb = b"".join(packer.compress(block) for _ in range(256)) + packer.flush()
    before = peak_memory(server)
    error = assert_openai_error(post(server, bomb, **{"content-encoding": "gzip"}), 413)
    assert "once decompressed" in error["message"]
    grown = peak_memory(server) - before
    assert grown < 160 * 2**20, f"the server's peak memory grew by {grown >> 20} MiB"  # the limit is 32 MiB
    assert post(server, embeddings_body(server.model, "a cat")).status_code == 200


# --- token ids -----------------------------------------------------------------------------------


def test_token_ids_are_the_texts_they_stand_for(server: LocalServer, plain: np.ndarray) -> None:
    pytest.importorskip("bpe_openai", reason="needs bpe-openai (the `local` extra)")
    response = post(server, embeddings_body(server.model, TEXT_IDS))
    np.testing.assert_array_equal(vectors(response), plain)
    ids = sum(map(len, TEXT_IDS))
    assert response.json()["usage"] == {"prompt_tokens": ids, "total_tokens": ids}  # the ids sent, as OpenAI counts
    one = post(server, embeddings_body(server.model, TEXT_IDS[0]))
    alone = post(server, embeddings_body(server.model, TEXTS[0]))
    np.testing.assert_array_equal(vectors(one), vectors(alone))
    assert one.json()["usage"]["prompt_tokens"] == len(TEXT_IDS[0])


def test_token_ids_without_bpe_openai(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shadow = tmp_path / "shadow" / "bpe_openai"  # an import of bpe_openai that fails, as when it is not installed
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ImportError("bpe-openai is not installed (a test)")\n')
    path = os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH")]))
    with LocalServer(env={"PYTHONPATH": path}) as running:
        error = assert_openai_error(post(running, embeddings_body(running.model, TEXT_IDS)), 400)
        assert (error["param"], error["code"]) == ("input", "unsupported_value")
        assert "check_embedding_ctx_length=False" in error["message"] and "bpe-openai" in error["message"]
        assert post(running, embeddings_body(running.model, TEXTS)).status_code == 200
        # What a LangChain user with its defaults sees there (proof too that they send token ids).
        langchain_openai = pytest.importorskip("langchain_openai", reason="needs the `clients` extra")
        pytest.importorskip("bpe_openai", reason="needs bpe-openai (the `local` extra) in the test process")
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tokens.write_tiktoken_cache(tmp_path / "tiktoken").parent))
        embeddings = langchain_openai.OpenAIEmbeddings(model=running.model, base_url=running.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="check_embedding_ctx_length=False"):
            embeddings.embed_documents(TEXTS)


# --- what every answer carries ---------------------------------------------------------------------


def test_every_answer_has_a_request_id(server: LocalServer, strict_server: LocalServer) -> None:
    answers = [
        post(server, embeddings_body(server.model, "a cat")),  # 200
        post(server, b"{"),  # 400 from the application
        httpx2.get(server.base_url + "/nowhere", timeout=10),  # 404 from the router
        httpx2.get(server.base_url.removesuffix("/v1") + "/health", timeout=10),
        post(strict_server, embeddings_body(strict_server.model, "a cat")),  # 401: no key
    ]
    ids = [answer.headers.get("x-request-id", "") for answer in answers]
    with RawHTTP(server.base_url) as raw:  # answered by the connection itself, not the application
        raw.send(b"NOT HTTP AT ALL\r\n\r\n")
        ids.append(raw.reply().headers.get("x-request-id", ""))
    assert all(len(i) == 36 and i.startswith("req_") for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_large_answers_are_gzipped_when_asked(server: LocalServer) -> None:
    body = embeddings_body(server.model, [f"text number {i}" for i in range(64)], encoding_format="float")
    asked = httpx2.post(f"{server.base_url}/embeddings", content=body, headers={**JSON, "accept-encoding": "gzip"}, timeout=60)
    unasked = httpx2.post(f"{server.base_url}/embeddings", content=body, headers={**JSON, "accept-encoding": "identity"}, timeout=60)
    assert asked.headers["content-encoding"] == "gzip" and "content-encoding" not in unasked.headers
    assert asked.headers["vary"] == unasked.headers["vary"] == "Accept-Encoding"
    assert int(asked.headers["content-length"]) < int(unasked.headers["content-length"]) / 1.8
    assert asked.json() == unasked.json()  # httpx2 inflates it, as every client does
    refused = httpx2.post(
        f"{server.base_url}/embeddings", content=body, headers={**JSON, "accept-encoding": "gzip;q=0, br"}, timeout=60
    )
    assert "content-encoding" not in refused.headers
    small = httpx2.post(f"{server.base_url}/embeddings", content=embeddings_body(server.model, "a cat"),
                        headers={**JSON, "accept-encoding": "gzip"}, timeout=60)
    assert "content-encoding" not in small.headers  # a few kilobytes: not worth it


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_ipv6_loopback_by_default(server: LocalServer, plain: np.ndarray) -> None:
    port = server.base_url.rsplit(":", 1)[1].split("/")[0]
    ipv6 = f"http://[::1]:{port}/v1"
    response = httpx2.post(f"{ipv6}/embeddings", content=embeddings_body(server.model, TEXTS), headers=JSON, timeout=30)
    np.testing.assert_array_equal(vectors(response), plain)
    with RawHTTP(ipv6) as raw:
        assert raw.request("GET", "/health").status_code == 200  # Host: [::1]:PORT is this server
    assert json.loads(httpx2.get(f"http://localhost:{port}/health", timeout=10).text)["status"] == "ok"
