"""How fast `embedlab serve` is, next to the model called in-process. Prints figures; not a test.

For each backend (the bundled WordLlama and all-MiniLM-L6-v2 through sentence-transformers),
in one run and side by side:

- embeddings per second in-process (the library itself: `WordLlama.embed`,
  `SentenceTransformer.encode`), 256 texts per call and 32 texts per call;
- through the server, 256 texts per request;
- through the server, 32 concurrent clients sending one text each;
- for WordLlama, whose inference takes microseconds, the time the server adds to a request.

Server figures are taken twice: with the `openai` client, as a learner calls it, and with a
bare HTTP client on a socket, which shows the server itself (on 2 cores, the `openai` client's
own CPU time takes a visible share from the server it measures).

Goals for all-MiniLM-L6-v2, where inference dominates: the server at 256 texts per request at
least 90% of in-process; 32 concurrent single-text clients at least 50% of in-process at 32
texts per call (reachable only because the server merges concurrent requests).

Each figure is the median of several rounds; a round measures in-process and through the server
one after the other, so a burst of other work on the machine hits both sides of a ratio.

    python benchmarks/bench_server.py [--minilm DIR] [--seconds 4] [--rounds 3] [--markdown]

all-MiniLM-L6-v2 comes from `embedlab fetch-model all-MiniLM-L6-v2` (the default folder) or
any folder given with --minilm; without it only WordLlama is measured.
"""

from __future__ import annotations

import os

# Like the server (see embedlab.server.backends): idle OpenMP threads sleep rather than spin.
# On an idle machine this changes nothing; with any other work running, spinning threads make
# torch several times slower, which would make the in-process baseline meaningless.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from embedlab.server.catalog import cached_model_dir, find_known  # noqa: E402
from embedlab.server.launch import LocalServer  # noqa: E402

CLIENTS = 32  # concurrent single-text clients
BIG = 256  # texts per request

# What is measured, in the order of the table; (key, label, the in-process key it is compared to)
MEASURES = [
    ("in_process_256", "in-process, 256 texts per call", None),
    ("in_process_32", "in-process, 32 texts per call", None),
    ("server_256", "server, 256 texts per request (openai client)", "in_process_256"),
    ("server_256_raw", "server, 256 texts per request (bare HTTP)", "in_process_256"),
    ("concurrent", f"server, {CLIENTS} concurrent clients × 1 text (openai client)", "in_process_32"),
    ("concurrent_raw", f"server, {CLIENTS} concurrent clients × 1 text (bare HTTP)", "in_process_32"),
]


@dataclass
class Figures:
    name: str
    rounds: list[dict[str, float]] = field(default_factory=list)  # texts per second, per round
    mean_batch: float = 0.0  # texts per model call while the concurrent clients ran
    overhead_ms: dict[str, float] = field(default_factory=dict)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.rounds)

    def ratio(self, key: str, base: str) -> float:
        """The median over rounds of (server / in-process in the same round)."""
        return statistics.median(r[key] / r[base] for r in self.rounds)


def corpus(n: int = 4096, seed: int = 0) -> list[str]:
    """Distinct short English sentences, 6 to 20 words, the size of the section's examples."""
    rng = np.random.default_rng(seed)
    subjects = ["a cat", "the dog", "my neighbour", "a small child", "the old server", "our team", "a feline",
                "the python script", "a student", "the database", "a bird", "the teacher"]
    verbs = ["sleeps", "runs", "crashed", "barked", "writes code", "reads a book", "waits", "sings", "fails",
             "naps", "jumps", "restarts"]
    tails = ["on the warm mat", "in the garden", "after midnight", "during the meeting", "near the river",
             "without any warning", "for the third time today", "under the bright sun", "in the cold rain",
             "while everyone watched", "at the end of the day", "before the deadline"]
    extra = "quietly loudly slowly quickly again happily sadly suddenly".split()
    texts: set[str] = set()
    while len(texts) < n:
        words = [rng.choice(subjects), rng.choice(verbs), rng.choice(tails)]
        words += list(rng.choice(extra, size=rng.integers(0, 4)))
        words += [rng.choice(tails)] * int(rng.integers(0, 2))
        texts.add(" ".join(words) + f" #{len(texts)}")
    return sorted(texts)


# --- timing -------------------------------------------------------------------------------


def rate(run_once: Callable[[int], int], seconds: float) -> float:
    """Texts per second: call run_once(i), which returns how many texts it embedded, for `seconds`."""
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


def chunks_of(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts) - size + 1, size)]


# --- a bare HTTP client ---------------------------------------------------------------------


def _address(base_url: str) -> tuple[str, int]:
    host, port = base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    return host.strip("[]"), int(port)


def _request(host: str, body: bytes) -> bytes:
    head = f"POST /v1/embeddings HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _body(model: str, texts: str | list[str]) -> bytes:
    return json.dumps({"model": model, "input": texts, "encoding_format": "base64"}).encode()


def _content_length(head: bytes) -> int:
    status, _, headers = head.partition(b"\r\n")
    if b" 200 " not in status:
        raise RuntimeError(f"the server answered {status!r}")
    for line in headers.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


class RawHTTP:
    """Keep-alive HTTP/1.1 over one socket: the server's cost without a client library's."""

    def __init__(self, base_url: str) -> None:
        self.host, port = _address(base_url)
        self.sock = socket.create_connection((self.host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def post(self, body: bytes) -> bytes:
        self.sock.sendall(_request(self.host, body))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.reader.readline()
            if not line:
                raise RuntimeError("the server closed the connection")
            head += line
        return self.reader.read(_content_length(head))

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


# --- the measurements ------------------------------------------------------------------------


def in_process(embed: Callable[[list[str]], object], texts: list[str], size: int, seconds: float) -> float:
    batches = chunks_of(texts, size)

    def once(i: int) -> int:
        embed(batches[i % len(batches)])
        return size

    return rate(once, seconds)


def big_requests(server: LocalServer, texts: list[str], seconds: float) -> tuple[float, float]:
    from openai import OpenAI

    batches = chunks_of(texts, BIG)
    client = OpenAI(base_url=server.base_url, api_key=server.api_key or "any", max_retries=0, timeout=300)

    def with_client(i: int) -> int:
        return len(client.embeddings.create(model=server.model, input=batches[i % len(batches)]).data)

    http = RawHTTP(server.base_url)
    bodies = [_body(server.model, batch) for batch in batches]

    def bare(i: int) -> int:
        http.post(bodies[i % len(bodies)])
        return BIG

    try:
        return rate(with_client, seconds), rate(bare, seconds)
    finally:
        client.close()
        http.close()


async def concurrent_openai(server: LocalServer, texts: list[str], seconds: float) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=server.base_url, api_key=server.api_key or "any", max_retries=0, timeout=300)

    async def send(c: int, i: int) -> None:
        await client.embeddings.create(model=server.model, input=texts[i % len(texts)])

    try:
        return await _closed_loop(send, seconds)
    finally:
        await client.close()


async def concurrent_bare(server: LocalServer, texts: list[str], seconds: float) -> float:
    host, port = _address(server.base_url)
    requests = [_request(host, _body(server.model, t)) for t in texts]
    connections = [await asyncio.open_connection(host, port) for _ in range(CLIENTS)]  # one per client

    async def send(c: int, i: int) -> None:
        reader, writer = connections[c]
        writer.write(requests[i % len(requests)])
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(_content_length(head))

    try:
        return await _closed_loop(send, seconds)
    finally:
        for _, writer in connections:
            writer.close()


async def _closed_loop(send: Callable[[int, int], Awaitable[None]], seconds: float) -> float:
    """CLIENTS clients, each sending its next request (send(client, i)) once its last one is answered."""
    await send(0, 0)  # warm up
    done = [0] * CLIENTS
    stop_at = time.perf_counter() + seconds

    async def client(c: int) -> None:
        i = c
        while time.perf_counter() < stop_at:
            await send(c, i)
            done[c] += 1
            i += CLIENTS

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(CLIENTS)))
    return sum(done) / (time.perf_counter() - start)


def batch_counts(server: LocalServer) -> tuple[int, int]:
    """Model calls and texts so far, from the server's /health."""
    import httpx2

    batches = httpx2.get(server.base_url.removesuffix("/v1") + "/health").json()["batches"]
    return batches["calls"], batches["texts"]


def one_round(server: LocalServer, embed: Callable[[list[str]], object], texts: list[str], seconds: float,
              figures: Figures) -> None:
    r: dict[str, float] = {}
    r["in_process_256"] = in_process(embed, texts, BIG, seconds)
    r["server_256"], r["server_256_raw"] = big_requests(server, texts, seconds)
    r["in_process_32"] = in_process(embed, texts, CLIENTS, seconds)
    calls, done = batch_counts(server)
    r["concurrent"] = asyncio.run(concurrent_openai(server, texts, seconds))
    r["concurrent_raw"] = asyncio.run(concurrent_bare(server, texts, seconds))
    calls_after, done_after = batch_counts(server)
    figures.rounds.append(r)
    figures.mean_batch = (done_after - done) / max(1, calls_after - calls)


def server_overhead(server: LocalServer, backend_embed: Callable[[list[str]], object], texts: list[str]) -> dict[str, float]:
    """Per single-text request: the round trip with the openai client and with the bare
    client, and the inference inside it (the backend as the server runs it)."""
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


def bench_wordllama(texts: list[str], seconds: float, rounds: int) -> Figures:
    from embedlab.server.backends import WordLlamaBackend, _root_logging_untouched

    with _root_logging_untouched():
        import wordllama

        library = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    figures = Figures("wordllama-l2-supercat")
    with LocalServer() as server:
        for _ in range(rounds):
            one_round(server, lambda batch: library.embed(batch, norm=True), texts, seconds, figures)
        figures.overhead_ms = server_overhead(server, WordLlamaBackend().embed, texts)
    return figures


def bench_minilm(folder: Path, texts: list[str], seconds: float, rounds: int) -> Figures:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    figures = Figures("all-MiniLM-L6-v2")

    def embed(batch: list[str]) -> object:
        return model.encode(batch, batch_size=32, normalize_embeddings=True, show_progress_bar=False)

    with LocalServer("--backend", "sentence-transformers", "--model", str(folder),
                     "--served-name", "all-MiniLM-L6-v2") as server:
        for _ in range(rounds):
            one_round(server, embed, texts, seconds, figures)
    return figures


# --- the report ----------------------------------------------------------------------------


def table(results: list[Figures], markdown: bool) -> str:
    rows: list[tuple[str, list[str]]] = []
    for key, label, base in MEASURES:
        cells = []
        for f in results:
            cell = f"{f.median(key):,.0f}/s"
            cells.append(cell if base is None else f"{cell} ({f.ratio(key, base):.0%})")
        rows.append((label, cells))
    rows.append(("  texts per model call (concurrent clients)", [f"{f.mean_batch:.1f}" for f in results]))
    for key, label in (("openai", "1-text request, round trip (openai client)"),
                       ("http", "1-text request, round trip (bare HTTP)"),
                       ("inference", "  of which inference")):
        rows.append((label, [f"{f.overhead_ms[key]:.2f} ms" if f.overhead_ms else "–" for f in results]))
    rows.append(("time the server adds per request", [
        f"{f.overhead_ms['http'] - f.overhead_ms['inference']:.2f} ms" if f.overhead_ms else "–" for f in results
    ]))
    note = (f"In brackets: the share of in-process speed in the same round (256 texts per call for the "
            f"256 rows, {CLIENTS} per call for the concurrent rows); each figure is the median of "
            f"{len(results[0].rounds)} rounds.")

    names = [f.name for f in results]
    if markdown:
        lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        lines += [f"| {label.strip()} | " + " | ".join(cells) + " |" for label, cells in rows]
        return "\n".join([*lines, "", note])
    width = max(len(label) for label, _ in rows) + 2
    cols = [max(len(n), *(len(cells[i]) for _, cells in rows)) + 2 for i, n in enumerate(names)]
    lines = [" " * width + "".join(n.rjust(c) for n, c in zip(names, cols))]
    lines += [label.ljust(width) + "".join(cell.rjust(c) for cell, c in zip(cells, cols)) for label, cells in rows]
    return "\n".join([*lines, "", note])


def goals(minilm: Figures) -> list[str]:
    lines = []
    for key, base, goal, what in (
        ("server_256", "in_process_256", 0.9, "the server at 256 texts per request"),
        ("concurrent", "in_process_32", 0.5, f"{CLIENTS} concurrent single-text clients"),
    ):
        ratio, bare = minilm.ratio(key, base), minilm.ratio(key + "_raw", base)
        verdict = "met" if ratio >= goal else "MISSED"
        lines.append(f"{verdict}: {what}: {ratio:.0%} of in-process with the openai client, "
                     f"{bare:.0%} with a bare HTTP client (goal ≥ {goal:.0%})")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    known = find_known("all-MiniLM-L6-v2")
    assert known is not None
    parser.add_argument("--minilm", type=Path, default=cached_model_dir(known),
                        help="the all-MiniLM-L6-v2 folder (default: the `embedlab fetch-model` cache)")
    parser.add_argument("--seconds", type=float, default=4.0, help="how long each measurement runs (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per backend; figures are medians (default 3)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", choices=("wordllama", "minilm"), help="measure one backend only")
    args = parser.parse_args()

    try:
        import httptools  # noqa: F401

        http_parser = "httptools"
    except ImportError:
        http_parser = "h11"
    print(f"embedlab server benchmark: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, HTTP parser {http_parser}, load average {os.getloadavg()[0]:.2f} "
          f"before, {args.rounds} rounds of {args.seconds:g} s per figure", flush=True)
    texts = corpus()
    results = []
    if args.only != "minilm":
        print("measuring wordllama-l2-supercat ...", flush=True)
        results.append(bench_wordllama(texts, args.seconds, args.rounds))
    minilm = None
    if args.only != "wordllama":
        if (args.minilm / "modules.json").is_file():
            print(f"measuring all-MiniLM-L6-v2 from {args.minilm} ...", flush=True)
            minilm = bench_minilm(args.minilm, texts, args.seconds, args.rounds)
            results.append(minilm)
        else:
            print(f"all-MiniLM-L6-v2 skipped: no model at {args.minilm}. Get it with "
                  "`embedlab fetch-model all-MiniLM-L6-v2`, or pass its folder with --minilm.")
    print()
    print(table(results, args.markdown))
    if minilm is not None:
        print()
        print("\n".join(goals(minilm)))
    print(f"\nload average {os.getloadavg()[0]:.2f} after (other work on the machine lowers every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
