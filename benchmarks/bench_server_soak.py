"""A soak of `embedlab serve`: many clients, a share of them hostile. Prints figures; not a test.

32 clients (by default) send 10,000 requests over loopback; about one in six is hostile:
malformed JSON or HTTP, a lone surrogate, a page's Origin, a foreign Host, text/plain,
2,049 inputs, too many tokens, a 5,000-digit number, a megabyte model name, 100 kB of
headers, a request left half-sent, a client that hangs up while its request waits, a failing
model call (`--test-fail-on`). Every valid request's vectors are checked against the text's
own vector (no mix-ups); every hostile one must get its OpenAI JSON error (or, for those that
leave, cost nothing).

Reports: errors among the valid requests (goal 0), hostile requests not answered as expected
(goal 0), latency of the valid ones (p50, p99), the server's memory before and after, and
whether it is still healthy.

    python benchmarks/bench_server_soak.py [--requests 10000] [--clients 32] [--max-seconds 300]
                                           [--hostile 0.15] [--minilm DIR] [--seed 0]

Bounded: it stops sending after --requests or --max-seconds, whichever comes first, and the
server (started on a free loopback port) is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import _address, corpus  # noqa: E402

from embedlab.server.known_models import cached_model_dir, find_known  # noqa: E402
from embedlab.server.launch import LocalServer  # noqa: E402

READ_TIMEOUT = 2.0  # the server's --read-timeout here, so that half-sent requests end soon
MAX_TOKENS = 10_000  # the server's --max-tokens here, so that "too many tokens" needs no huge body
FAIL_ON = "please fail"  # the server's --test-fail-on: a model call with this text raises


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict | None:
        try:
            value = json.loads(self.body)["error"]
        except (ValueError, KeyError, TypeError):
            return None
        return value if isinstance(value, dict) and set(value) == {"message", "type", "param", "code"} else None


class Connection:
    """One keep-alive connection with a bare HTTP/1.1 client (no client library's CPU time)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, data: bytes) -> None:
        if self.writer is None:
            await self.open()
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self) -> Reply:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            self.close()
        return Reply(int(lines[0].split()[1]), headers, body)

    async def exchange(self, data: bytes) -> Reply:
        try:
            await self.send(data)
            return await self.reply()
        except (ConnectionError, asyncio.IncompleteReadError):  # an idle connection the server closed
            self.close()
            await self.send(data)
            return await self.reply()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def http_request(host: str, body: bytes, *, content_type: str = "application/json", extra: str = "",
                 path: str = "/v1/embeddings") -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


@dataclass
class Tally:
    valid: Counter = field(default_factory=Counter)  # kind -> requests
    valid_errors: list[str] = field(default_factory=list)
    hostile: Counter = field(default_factory=Counter)
    hostile_unexpected: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    memory: list[tuple[int, int]] = field(default_factory=list)  # (requests sent, server RSS in KiB)


class Soak:
    def __init__(self, server: LocalServer, texts: list[str], reference: dict[str, np.ndarray], tally: Tally) -> None:
        self.server = server
        self.model = server.model
        self.host, self.port = _address(server.base_url)
        self.host_header = f"{self.host}:{self.port}"
        self.texts = texts
        self.reference = reference
        self.tally = tally

    def body(self, texts: object, **fields: object) -> bytes:
        return json.dumps({"model": self.model, "input": texts, "encoding_format": "base64", **fields}).encode()

    # --- valid requests: each must come back 200 with each text's own vector -----------------

    async def valid(self, kind: str, connection: Connection, rng: random.Random) -> None:
        size = {"1 text": 1, "8 texts": 8, "256 texts": 256}[kind]
        texts = rng.sample(self.texts, size)
        started = time.perf_counter()
        try:
            reply = await connection.exchange(http_request(self.host_header, self.body(texts)))
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.tally.valid_errors.append(f"{kind}: {type(exc).__name__} {exc}")
            connection.close()
            return
        self.tally.latencies.setdefault(kind, []).append(time.perf_counter() - started)
        self.tally.valid[kind] += 1
        if reply.status != 200:
            self.tally.valid_errors.append(f"{kind}: {reply.status} {reply.body[:200]!r}")
            return
        data = json.loads(reply.body)["data"]
        for item, text in zip(data, texts):
            vector = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
            if not np.allclose(vector, self.reference[text], atol=1e-5):
                self.tally.valid_errors.append(f"{kind}: the vector of {text!r} is not its own")
                return
        if [item["index"] for item in data] != list(range(size)):
            self.tally.valid_errors.append(f"{kind}: indexes out of order")

    # --- hostile requests: each on its own connection, each must get its error --------------

    def hostile_kinds(self) -> dict[str, Callable[[random.Random], Awaitable[str | None]]]:
        h = self.host_header
        body = self.body("a sleeping cat")
        surrogate = b'{"model": "%s", "input": ["fine", "a\\ud800b"]}' % self.model.encode()
        huge_int = b'{"model": "%s", "input": "a", "dimensions": %s}' % (self.model.encode(), b"9" * 5000)
        return {
            "malformed JSON": self.expect(http_request(h, b'{"model": "x", "input": '), 400),
            "lone surrogate": self.expect(http_request(h, surrogate), 400),
            "5000-digit number": self.expect(http_request(h, huge_int), 400),
            "1 MB model name": self.expect(http_request(h, self.body("a", model=None).replace(b'"model": null', b'"model": "' + b"m" * 2**20 + b'"')), 404),
            "token ids and text": self.expect(http_request(h, self.body([1, "a"])), 400),
            "2049 inputs": self.expect(http_request(h, self.body(["a"] * 2049)), 400),
            "too many tokens": self.expect(http_request(h, self.body(["a sleeping cat on the warm mat"] * 2000)), 400),
            "over-long text": self.expect(http_request(h, self.body("x" * 40_000)), 400),
            "text/plain": self.expect(http_request(h, body, content_type="text/plain"), 415),
            "web page Origin": self.expect(http_request(h, body, extra="Origin: https://evil.example\r\n"), 403),
            "foreign Host": self.expect(http_request(f"evil.example:{self.port}", body), 403),
            "100 kB of headers": self.expect(http_request(h, body, extra="X-Pad: " + "a" * 100_000 + "\r\n"), 431),
            "malformed HTTP": self.expect(b"GET / HTTP/1.1\r\nHost: \x00\x01\r\n\r\n", 400),
            "model failure": self.expect(http_request(h, self.body(["fine", FAIL_ON])), 500),
            "half-sent request": self.expect(http_request(h, body)[:-10], 408),
            "hangs up while queued": self.hang_up(http_request(h, self.body(self.texts[:64]))),
        }

    def expect(self, data: bytes, status: int) -> Callable[[random.Random], Awaitable[str | None]]:
        async def run(rng: random.Random) -> str | None:
            connection = Connection(self.host, self.port)
            try:
                reply = await asyncio.wait_for(connection.exchange(data), READ_TIMEOUT + 10)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                return f"no answer ({type(exc).__name__})"
            finally:
                connection.close()
            if reply.status != status or reply.error() is None:
                return f"{reply.status} {reply.body[:120]!r}"
            return None

        return run

    def hang_up(self, data: bytes) -> Callable[[random.Random], Awaitable[str | None]]:
        async def run(rng: random.Random) -> str | None:
            connection = Connection(self.host, self.port)
            await connection.send(data)
            await asyncio.sleep(rng.uniform(0, 0.02))
            connection.close()
            return None

        return run


async def soak(server: LocalServer, args: argparse.Namespace, tally: Tally) -> tuple[int, float]:
    """Run the clients; samples the server's memory at each quarter of the requests."""
    texts = corpus(2048, seed=args.seed)
    reference = await references(server, texts)
    runner = Soak(server, texts, reference, tally)
    hostile = runner.hostile_kinds()
    valid_kinds, valid_weights = ("1 text", "8 texts", "256 texts"), (0.80, 0.17, 0.03)
    sent = 0
    deadline = time.monotonic() + args.max_seconds

    async def client(c: int) -> None:
        nonlocal sent
        rng = random.Random(args.seed * 1000 + c)
        connection = Connection(runner.host, runner.port)
        while sent < args.requests and time.monotonic() < deadline:
            sent += 1
            if rng.random() < args.hostile:
                kind = rng.choice(list(hostile))
                tally.hostile[kind] += 1
                problem = await hostile[kind](rng)
                if problem is not None:
                    tally.hostile_unexpected.append(f"{kind}: {problem}")
            else:
                await runner.valid(rng.choices(valid_kinds, valid_weights)[0], connection, rng)
        connection.close()

    async def sample() -> None:
        assert server.process is not None
        quarter = 1
        while quarter <= 4:
            if sent >= quarter * args.requests / 4 or time.monotonic() >= deadline:
                tally.memory.append((sent, memory_kib(server.process.pid)["VmRSS"]))
                quarter += 1
            await asyncio.sleep(0.05)

    started = time.monotonic()
    sampler = asyncio.ensure_future(sample())
    await asyncio.gather(*(client(c) for c in range(args.clients)))
    sampler.cancel()
    return sent, time.monotonic() - started


async def references(server: LocalServer, texts: list[str]) -> dict[str, np.ndarray]:
    """Each text's own vector, from one request per 256 texts before the soak."""
    host, port = _address(server.base_url)
    connection = Connection(host, port)
    out: dict[str, np.ndarray] = {}
    for i in range(0, len(texts), 256):
        part = texts[i : i + 256]
        body = json.dumps({"model": server.model, "input": part, "encoding_format": "base64"}).encode()
        reply = await connection.exchange(http_request(f"{host}:{port}", body))
        assert reply.status == 200, reply.body[:300]
        for text, item in zip(part, json.loads(reply.body)["data"]):
            out[text] = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
    connection.close()
    return out


def memory_kib(pid: int) -> dict[str, int]:
    """The server's resident memory now and at its peak (Linux /proc)."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests in all (default 10000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long (default 300)")
    parser.add_argument("--hostile", type=float, default=0.15, help="share of hostile requests (default 0.15)")
    parser.add_argument("--seed", type=int, default=0)
    known = find_known("all-MiniLM-L6-v2")
    assert known is not None
    parser.add_argument("--minilm", type=Path, nargs="?", const=cached_model_dir(known), default=None,
                        help="soak all-MiniLM-L6-v2 (from this folder; default: the fetch-model cache) "
                             "instead of WordLlama")
    args = parser.parse_args()

    server_args = ["--read-timeout", str(READ_TIMEOUT), "--max-tokens", str(MAX_TOKENS), "--test-fail-on", FAIL_ON]
    if args.minilm is not None:
        server_args += ["--backend", "sentence-transformers", "--model", str(args.minilm), "--served-name",
                        "all-MiniLM-L6-v2"]
    print(f"embedlab server soak: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
          f"{args.requests} requests from {args.clients} clients, {args.hostile:.0%} hostile, at most "
          f"{args.max_seconds:g} s", flush=True)
    tally = Tally()
    with LocalServer(*server_args) as server:
        assert server.process is not None
        pid = server.process.pid
        before = memory_kib(pid)
        sent, seconds = asyncio.run(soak(server, args, tally))
        after = memory_kib(pid)
        alive = server.process.poll() is None
        health = asyncio.run(references(server, ["still healthy?"])) if alive else {}
    report(tally, sent, seconds, before, after, alive and bool(health), server.model)
    return 0 if not tally.valid_errors and not tally.hostile_unexpected and alive else 1


def report(tally: Tally, sent: int, seconds: float, before: dict[str, int], after: dict[str, int], healthy: bool,
           model: str) -> None:
    valid = sum(tally.valid.values())
    hostile = sum(tally.hostile.values())
    print(f"\nmodel {model}: {sent} requests in {seconds:.1f} s ({sent / seconds:,.0f}/s): {valid} valid, {hostile} hostile\n")
    print(f"errors among the valid requests: {len(tally.valid_errors)} (goal 0)")
    for line in tally.valid_errors[:10]:
        print(f"  {line}")
    print(f"hostile requests not answered as expected: {len(tally.hostile_unexpected)} (goal 0)")
    for line in tally.hostile_unexpected[:10]:
        print(f"  {line}")
    print("\nlatency of the valid requests:")
    for kind, values in sorted(tally.latencies.items()):
        print(f"  {kind:10} {len(values):6} requests   p50 {statistics.median(values) * 1000:8.1f} ms   "
              f"p99 {percentile(values, 0.99) * 1000:8.1f} ms")
    print("\nhostile requests sent:", ", ".join(f"{kind} {n}" for kind, n in sorted(tally.hostile.items())))
    print(f"\nserver memory: {before['VmRSS'] / 1024:.0f} MiB before, {after['VmRSS'] / 1024:.0f} MiB after "
          f"(peak {after['VmHWM'] / 1024:.0f} MiB); along the way: "
          + ", ".join(f"{rss / 1024:.0f} MiB after {n}" for n, rss in tally.memory))
    print(f"server healthy at the end: {'yes' if healthy else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
