"""How fast `embedlab serve` is, next to the model called in-process. Prints figures; not a test.

For each backend (the bundled WordLlama and all-MiniLM-L6-v2 through sentence-transformers),
in one run and side by side:

- embeddings per second in-process (the library itself: `WordLlama.embed`,
  `SentenceTransformer.encode`), 256 texts per call and 32 texts per call;
- through the server with the `openai` client, 256 texts per request;
- through the server with 32 concurrent clients sending one text each;
- for WordLlama, whose inference takes microseconds, the time the server adds to a request.

Goals for all-MiniLM-L6-v2, where inference dominates: the server at 256 texts per request at
least 90% of in-process; 32 concurrent single-text clients at least 50% of in-process at 32
texts per call (reachable only because the server merges concurrent requests).

    python benchmarks/bench_server.py [--minilm DIR] [--seconds 5] [--markdown]

all-MiniLM-L6-v2 comes from `embedlab fetch-model all-MiniLM-L6-v2` (the default folder) or
any folder given with --minilm; without it only WordLlama is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedlab.server.catalog import cached_model_dir, find_known
from embedlab.server.launch import LocalServer

CONCURRENT_CLIENTS = 32
BIG_REQUEST = 256


@dataclass
class Figures:
    name: str
    in_process_256: float = 0.0  # texts per second
    in_process_32: float = 0.0
    server_256: float = 0.0
    server_concurrent: float = 0.0  # openai client
    server_concurrent_raw: float = 0.0  # bare HTTP client
    mean_batch: float = 0.0  # texts per backend call during the concurrent run
    overhead_ms: dict[str, float] = field(default_factory=dict)


def corpus(n: int = 4096, seed: int = 0) -> list[str]:
    """Distinct short English sentences, 6 to 20 words, the size of the section's examples."""
    rng = np.random.default_rng(seed)
    subjects = ["a cat", "the dog", "my neighbour", "a small child", "the old server", "our team", "a feline",
                "the python script", "a student", "the database", "a bird", "the teacher"]  # fmt: skip
    verbs = ["sleeps", "runs", "crashed", "barked", "writes code", "reads a book", "waits", "sings", "fails",
             "naps", "jumps", "restarts"]  # fmt: skip
    tails = ["on the warm mat", "in the garden", "after midnight", "during the meeting", "near the river",
             "without any warning", "for the third time today", "under the bright sun", "in the cold rain",
             "while everyone watched", "at the end of the day", "before the deadline"]  # fmt: skip
    extra = "quietly loudly slowly quickly again happily sadly suddenly".split()
    texts = set()
    while len(texts) < n:
        words = [rng.choice(subjects), rng.choice(verbs), rng.choice(tails)]
        words += list(rng.choice(extra, size=rng.integers(0, 4)))
        words += [rng.choice(tails)] * int(rng.integers(0, 2))
        texts.add(" ".join(words) + f" #{len(texts)}")
    return sorted(texts)


def rate(run_once: Callable[[int], int], seconds: float) -> float:
    """Texts per second: call run_once(i) (which returns the texts it embedded) for `seconds`."""
    run_once(0)  # warm up
    done, i, start = 0, 1, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += run_once(i)
        i += 1
    return done / (time.perf_counter() - start)


def median_seconds(call: Callable[[int], object], n: int) -> float:
    call(0)
    times = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class RawHTTP:
    """A bare keep-alive HTTP/1.1 client on a socket: measures the server, not a client library."""

    def __init__(self, base_url: str) -> None:
        host, port = base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        self.host, self.port = host.strip("[]"), int(port)
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    @staticmethod
    def request(host: str, body: bytes) -> bytes:
        head = f"POST /v1/embeddings HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    def post(self, body: bytes) -> bytes:
        self.sock.sendall(self.request(self.host, body))
        return _read_response(self.reader.readline, self.reader.read)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _read_response(readline: Callable[[], bytes], read: Callable[[int], bytes]) -> bytes:
    status = readline()
    if b" 200 " not in status:
        raise RuntimeError(f"server answered {status!r}")
    length = 0
    while (line := readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return read(length)


async def raw_concurrent_clients(server: LocalServer, texts: list[str], seconds: float) -> float:
    bodies = [_body(server.model, t) for t in texts]
    counts = [0] * CONCURRENT_CLIENTS
    stop_at = time.perf_counter() + seconds
    address = server.base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)

    async def one_client(c: int) -> None:
        reader, writer = await asyncio.open_connection(address[0].strip("[]"), int(address[1]))
        i = c
        while time.perf_counter() < stop_at:
            writer.write(RawHTTP.request(address[0], bodies[i % len(bodies)]))
            await _read_response_async(reader)
            counts[c] += 1
            i += CONCURRENT_CLIENTS
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(CONCURRENT_CLIENTS)))
    return sum(counts) / (time.perf_counter() - start)


async def _read_response_async(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"server answered {head[:80]!r}")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


def _body(model: str, text: str) -> bytes:
    return json.dumps({"model": model, "input": text, "encoding_format": "base64"}).encode()


def in_process(embed: Callable[[list[str]], object], texts: list[str], size: int, seconds: float) -> float:
    def once(i: int) -> int:
        start = (i * size) % (len(texts) - size)
        embed(texts[start : start + size])
        return size

    return rate(once, seconds)


def through_server(server: LocalServer, texts: list[str], figures: Figures, seconds: float) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key=server.api_key or "any", max_retries=0, timeout=300)

    def big(i: int) -> int:
        start = (i * BIG_REQUEST) % (len(texts) - BIG_REQUEST)
        client.embeddings.create(model=server.model, input=texts[start : start + BIG_REQUEST])
        return BIG_REQUEST

    figures.server_256 = rate(big, seconds)
    health = server.base_url.removesuffix("/v1") + "/health"
    before = _stats(health)
    figures.server_concurrent = asyncio.run(concurrent_clients(server, texts, seconds))
    after = _stats(health)
    figures.server_concurrent_raw = asyncio.run(raw_concurrent_clients(server, texts, seconds))
    if after and before and after["calls"] > before["calls"]:
        figures.mean_batch = (after["texts"] - before["texts"]) / (after["calls"] - before["calls"])
    client.close()


async def concurrent_clients(server: LocalServer, texts: list[str], seconds: float) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=server.base_url, api_key=server.api_key or "any", max_retries=0, timeout=300)
    await client.embeddings.create(model=server.model, input=texts[0])  # warm up
    counts = [0] * CONCURRENT_CLIENTS
    stop_at = time.perf_counter() + seconds

    async def one_client(c: int) -> None:
        i = c
        while time.perf_counter() < stop_at:
            await client.embeddings.create(model=server.model, input=texts[i % len(texts)])
            counts[c] += 1
            i += CONCURRENT_CLIENTS

    start = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(CONCURRENT_CLIENTS)))
    elapsed = time.perf_counter() - start
    await client.close()
    return sum(counts) / elapsed


def server_overhead(server: LocalServer, backend_embed: Callable[[list[str]], object], texts: list[str]) -> dict[str, float]:
    """Per single-text request: the round trip with the openai client and with a bare HTTP
    client on a socket, and the inference inside it (the backend as the server runs it)."""
    from openai import OpenAI

    n = 400
    client = OpenAI(base_url=server.base_url, api_key=server.api_key or "any", max_retries=0)
    with_client = median_seconds(lambda i: client.embeddings.create(model=server.model, input=texts[i]), n)
    client.close()
    bodies = [_body(server.model, t) for t in texts[: n + 1]]
    http = RawHTTP(server.base_url)
    bare = median_seconds(lambda i: http.post(bodies[i]), n)
    http.close()
    inference = median_seconds(lambda i: backend_embed([texts[i]]), n)
    return {"openai": with_client * 1000, "http": bare * 1000, "inference": inference * 1000}


def _stats(health_url: str) -> dict[str, int] | None:
    import httpx2

    body = httpx2.get(health_url).json()
    return body.get("batches")


def bench_wordllama(texts: list[str], seconds: float) -> Figures:
    from embedlab.server.backends import WordLlamaBackend, _root_logging_untouched

    with _root_logging_untouched():
        import wordllama

        library = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    figures = Figures("wordllama-l2-supercat")
    embed = lambda batch: library.embed(batch, norm=True)  # noqa: E731
    figures.in_process_256 = in_process(embed, texts, BIG_REQUEST, seconds)
    figures.in_process_32 = in_process(embed, texts, CONCURRENT_CLIENTS, seconds)
    with LocalServer() as server:
        through_server(server, texts, figures, seconds)
        figures.overhead_ms = server_overhead(server, WordLlamaBackend().embed, texts)
    return figures


def bench_minilm(folder: Path, texts: list[str], seconds: float) -> Figures:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    figures = Figures("all-MiniLM-L6-v2")

    def embed(batch: list[str]) -> object:
        return model.encode(batch, batch_size=32, normalize_embeddings=True, show_progress_bar=False)

    figures.in_process_256 = in_process(embed, texts, BIG_REQUEST, seconds)
    figures.in_process_32 = in_process(embed, texts, CONCURRENT_CLIENTS, seconds)
    del model  # the server gets the cores to itself
    with LocalServer("--backend", "sentence-transformers", "--model", str(folder), "--served-name",
                     "all-MiniLM-L6-v2") as server:  # fmt: skip
        through_server(server, texts, figures, seconds)
    return figures


def report(results: list[Figures], markdown: bool) -> str:
    def per_s(x: float) -> str:
        return f"{x:,.0f}/s"

    rows: list[tuple[str, list[str]]] = [
        ("in-process, 256 texts per call", [per_s(f.in_process_256) for f in results]),
        ("in-process, 32 texts per call", [per_s(f.in_process_32) for f in results]),
        ("server, 256 texts per request", [f"{per_s(f.server_256)} ({f.server_256 / f.in_process_256:.0%})" for f in results]),
        (f"server, {CONCURRENT_CLIENTS} concurrent clients × 1 text (openai client)",
         [f"{per_s(f.server_concurrent)} ({f.server_concurrent / f.in_process_32:.0%})" for f in results]),
        (f"server, {CONCURRENT_CLIENTS} concurrent clients × 1 text (bare HTTP)",
         [f"{per_s(f.server_concurrent_raw)} ({f.server_concurrent_raw / f.in_process_32:.0%})" for f in results]),
        ("  texts per model call meanwhile", [f"{f.mean_batch:.1f}" if f.mean_batch else "–" for f in results]),
    ]  # fmt: skip
    for key, label in (("openai", "1-text request, round trip (openai client)"),
                       ("http", "1-text request, round trip (bare HTTP)"),
                       ("inference", "  of which inference")):  # fmt: skip
        rows.append((label, [f"{f.overhead_ms[key]:.2f} ms" if f.overhead_ms else "–" for f in results]))
    added = [f"{f.overhead_ms['http'] - f.overhead_ms['inference']:.2f} ms" if f.overhead_ms else "–" for f in results]
    rows.append(("time the server adds per request", added))

    names = [f.name for f in results]
    if markdown:
        lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        lines += [f"| {label.strip()} | " + " | ".join(cells) + " |" for label, cells in rows]
        return "\n".join(lines)
    width = max(len(label) for label, _ in rows) + 2
    cols = [max(len(n), *(len(cells[i]) for _, cells in rows)) + 2 for i, n in enumerate(names)]
    lines = [" " * width + "".join(n.rjust(c) for n, c in zip(names, cols))]
    lines += [label.ljust(width) + "".join(cell.rjust(c) for cell, c in zip(cells, cols)) for label, cells in rows]
    return "\n".join(lines)


def goals(minilm: Figures) -> list[str]:
    big = minilm.server_256 / minilm.in_process_256
    small = minilm.server_concurrent / minilm.in_process_32
    return [
        f"{'met' if big >= 0.9 else 'MISSED'}: server at 256 texts per request is {big:.0%} of in-process (goal ≥ 90%)",
        f"{'met' if small >= 0.5 else 'MISSED'}: {CONCURRENT_CLIENTS} concurrent single-text clients reach {small:.0%} "
        "of in-process at 32 per call (goal ≥ 50%)",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    known = find_known("all-MiniLM-L6-v2")
    assert known is not None
    parser.add_argument("--minilm", type=Path, default=cached_model_dir(known),
                        help="the all-MiniLM-L6-v2 folder (default: the `embedlab fetch-model` cache)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each measurement runs (default 5)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", choices=("wordllama", "minilm"), help="measure one backend only")
    args = parser.parse_args()

    import uvicorn  # noqa: F401 - only to report which HTTP parser the server uses

    try:
        import httptools  # noqa: F401

        parser_name = "httptools"
    except ImportError:
        parser_name = "h11"
    print(f"embedlab server benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, HTTP parser {parser_name}, load average before "
          f"{os.getloadavg()[0]:.2f}, {args.seconds:g} s per figure", flush=True)  # fmt: skip
    texts = corpus()
    results = []
    if args.only != "minilm":
        print("measuring wordllama-l2-supercat ...", flush=True)
        results.append(bench_wordllama(texts, args.seconds))
    minilm = None
    if args.only != "wordllama":
        if (args.minilm / "modules.json").is_file():
            print(f"measuring all-MiniLM-L6-v2 from {args.minilm} ...", flush=True)
            minilm = bench_minilm(args.minilm, texts, args.seconds)
            results.append(minilm)
        else:
            print(f"all-MiniLM-L6-v2 skipped: no model at {args.minilm}. Get it with "
                  "`embedlab fetch-model all-MiniLM-L6-v2`, or pass its folder with --minilm.")  # fmt: skip
    print()
    print(report(results, args.markdown))
    if minilm is not None:
        print()
        print("\n".join(goals(minilm)))
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (other work on the machine lowers every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
