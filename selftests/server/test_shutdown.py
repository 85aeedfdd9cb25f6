"""Stopping under load: queued requests get a 503 at once, the model call in hand finishes, the
process exits 0 soon after; a second signal stops it at once; a client that left costs nothing.

The backlog comes from `--test-slow` (each model call sleeps first), not from minutes of work.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx2
import pytest

from embedlab.server.launch import LocalServer

from .helpers import RawHTTP, embeddings_body

IN_HAND = 1.5  # seconds the model call in hand takes


def health(server: LocalServer) -> dict:
    return httpx2.get(server.base_url.removesuffix("/v1") + "/health", timeout=10).json()


async def backlog_then_stop(server: LocalServer, queued: int) -> tuple[list[tuple[int, float, dict]], float]:
    """One request reaches the model, `queued` more wait behind it, then SIGTERM. Returns each
    response's (status, seconds after the signal, body), the one in hand first, and the seconds
    from the signal to the exit."""
    assert server.process is not None
    async with httpx2.AsyncClient(base_url=server.base_url, timeout=30, limits=httpx2.Limits(max_connections=64)) as client:
        sent_at: float | None = None

        async def post(texts: list[str]) -> tuple[int, float, dict]:
            response = await client.post(
                "/embeddings", content=embeddings_body(server.model, texts), headers={"content-type": "application/json"}
            )
            assert sent_at is not None
            return response.status_code, time.monotonic() - sent_at, response.json()

        in_hand = asyncio.ensure_future(post(["a sleeping cat"]))
        await asyncio.sleep(0.3)
        waiting = [asyncio.ensure_future(post([f"text {i}", "cat"])) for i in range(queued)]
        await asyncio.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        sent_at = time.monotonic()
        results = await asyncio.gather(in_hand, *waiting)
    code = await asyncio.to_thread(server.process.wait, 30)
    assert code == 0, server.output
    return results, time.monotonic() - sent_at


@pytest.mark.parametrize("backend", ["wordllama", "sentence-transformers"])
def test_shutdown_under_a_backlog(backend: str, request: pytest.FixtureRequest) -> None:
    args: tuple[str, ...] = ("--test-slow", str(IN_HAND))
    if backend == "sentence-transformers":
        model: Path = request.getfixturevalue("tiny_model_dir")
        args += ("--backend", "sentence-transformers", "--model", str(model))
    with LocalServer(*args) as server:
        results, exited_after = asyncio.run(backlog_then_stop(server, queued=16))
    (status, _, body), *refused = results
    assert status == 200 and len(body["data"]) == 1  # the call in hand finished
    for status, after, body in refused:
        assert status == 503
        assert body["error"]["type"] == "server_error" and "shutting down" in body["error"]["message"]
        assert after < 1.0, "a queued request waited for the call in hand"
    assert exited_after < IN_HAND + 3
    assert server.returncode == 0
    assert "stopped (SIGTERM)" in server.output
    assert "Traceback" not in server.output


@pytest.mark.parametrize("backend", ["wordllama", "sentence-transformers"])
def test_an_idle_server_exits_at_once(backend: str, request: pytest.FixtureRequest) -> None:
    """No linger after "stopped": with torch loaded, Python's own clean-up took 1.5 s more here
    (5 to 15 s on a busy machine). Timed from the "stopped" line to the exit, so that a busy
    machine slowing the shutdown itself does not count."""
    args: tuple[str, ...] = ()
    if backend == "sentence-transformers":
        model: Path = request.getfixturevalue("tiny_model_dir")
        args = ("--backend", "sentence-transformers", "--model", str(model))
    with LocalServer(*args) as server:
        process = server.process
        assert process is not None
        assert httpx2.post(
            server.base_url + "/embeddings", json={"model": server.model, "input": ["a cat"]}, timeout=30
        ).status_code == 200  # the model has run
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while "stopped (SIGTERM)" not in server.output and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        said = time.monotonic()
        assert process.wait(30) == 0
        linger = time.monotonic() - said
    assert "stopped (SIGTERM)" in server.output
    assert linger < 0.5, f"exited {linger:.1f} s after saying it had stopped"


def test_a_second_signal_stops_at_once() -> None:
    with LocalServer("--test-slow", "60") as server:
        assert server.process is not None
        with RawHTTP(server.base_url) as raw:
            raw.start("POST", "/v1/embeddings", embeddings_body(server.model, "x"))
            time.sleep(0.5)  # the request is in the model now, for a minute
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            started = time.monotonic()
            server.process.send_signal(signal.SIGINT)
            assert server.process.wait(10) == 0
            assert time.monotonic() - started < 3
            assert raw.closed_by_server(within=1)
    assert "stopped at once (a second Ctrl-C)" in server.output


def test_the_last_answer_closes_its_connection() -> None:
    with LocalServer("--test-slow", str(IN_HAND)) as server:
        assert server.process is not None
        with RawHTTP(server.base_url) as busy, RawHTTP(server.base_url) as idle:
            busy.start("POST", "/v1/embeddings", embeddings_body(server.model, "x"))
            time.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            assert idle.closed_by_server(within=2)  # an idle keep-alive connection is closed, not left hanging
            reply = busy.reply()
            assert reply.status_code == 200 and reply.headers["connection"] == "close"
        assert server.process.wait(10) == 0


def test_a_request_whose_client_left_is_never_embedded() -> None:
    with LocalServer("--test-slow", "0.5") as server:
        with RawHTTP(server.base_url) as holder:
            holder.start("POST", "/v1/embeddings", embeddings_body(server.model, "x"))
            time.sleep(0.2)  # the model is busy with it
            with RawHTTP(server.base_url) as leaver:
                leaver.start("POST", "/v1/embeddings", embeddings_body(server.model, ["a", "b", "c"]))
                time.sleep(0.1)
            assert holder.reply().status_code == 200
        time.sleep(0.7)
        assert health(server)["batches"]["texts"] == 1  # the three texts of the client that left were skipped
