"""How fast `embedlab serve` is, next to the same model called in-process at its best batch
size. Prints figures; not a test.

For each backend (the bundled WordLlama and all-MiniLM-L6-v2 through sentence-transformers),
in one run and side by side:

- in-process at several batch sizes, and the best of them: for all-MiniLM-L6-v2,
  `SentenceTransformer.encode` on 256 texts with `batch_size` 16 to 256; for WordLlama, the
  server's own pooling (`WordLlamaBackend.embed`) on 32 to 1,024 texts per call;
- through the server, 256 texts per request, against the best in-process batch size;
- through the server, 32 concurrent clients sending one text each, against in-process at 32
  texts per call;
- for WordLlama, whose inference takes microseconds, the time the server adds to a request;
- gzip: a 256-text request, float and base64, with and without `Accept-Encoding: gzip` (bare
  HTTP, the client inflating what it gets): bytes on the wire and the round trip, in turns.

Server figures are taken twice: with the `openai` client, as a learner calls it, and with a
bare HTTP client on a socket, which shows the server itself (on 2 cores, the `openai` client's
own CPU time takes a visible share from the server it measures).

Goals for all-MiniLM-L6-v2, where inference dominates: the server at 256 texts per request at
least 95% of the best in-process batch size; 32 concurrent single-text clients at least 50% of
in-process at 32 texts per call (reachable only because the server merges concurrent requests).

Each figure is the median of several rounds. Within a round the ways of embedding take turns,
one call or request each (the concurrent clients and in-process at 32 texts per call take turns
in slices), so a burst of other work on the machine hits both sides of a ratio alike.

    python benchmarks/bench_server.py [--minilm DIR] [--seconds 4] [--rounds 3] [--markdown]
                                      [--only wordllama|minilm] [--server-arg=--batch-size=32 ...]
                                      [--gzip-only]

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
import contextlib  # noqa: E402
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

from embedlab.server.known_models import cached_model_dir, find_known  # noqa: E402
from embedlab.server.launch import LocalServer  # noqa: E402

CLIENTS = 32  # concurrent single-text clients
BIG = 256  # texts per request

MINILM_SIZES = (16, 32, 64, 128, 256)  # encode(256 texts, batch_size=B)
WORDLLAMA_SIZES = (32, 256, 1024)  # WordLlamaBackend.embed on B texts per call

# What is measured, in the order of the table; (key, label, the in-process key it is compared to)
MEASURES = [
    ("in_process_best", "in-process, best batch size", None),
    ("in_process_32", "in-process, 32 texts per call", None),
    ("server_256", "server, 256 texts per request (openai client)", "in_process_best"),
    ("server_256_raw", "server, 256 texts per request (bare HTTP)", "in_process_best"),
    ("concurrent", f"server, {CLIENTS} concurrent clients × 1 text (openai client)", "in_process_32"),
    ("concurrent_raw", f"server, {CLIENTS} concurrent clients × 1 text (bare HTTP)", "in_process_32"),
]


@dataclass
class Figures:
    name: str
    sizes: tuple[int, ...]  # the in-process batch sizes tried
    # Whether one text costs the model more than the HTTP round trip: only then is a concurrent
    # single-text client's speed worth comparing with in-process speed.
    model_bound: bool
    rounds: list[dict[str, float]] = field(default_factory=list)  # texts per second, per round
    mean_batch: float = 0.0  # texts per model call while the concurrent clients ran
    overhead_ms: dict[str, float] = field(default_factory=dict)
    gzip: dict[str, dict[str, float]] = field(default_factory=dict)  # see gzip_figures

    def median(self, key: str) -> float:
        return statistics.median(r[self._key(key)] for r in self.rounds)

    def ratio(self, key: str, base: str) -> float:
        """The median over rounds of (server / in-process in the same round)."""
        return statistics.median(r[key] / r[self._key(base)] for r in self.rounds)

    def best_size(self) -> int:
        """The batch size with the best median over the rounds. (Not the best of each round: on a
        shared machine the sizes trade places from round to round by chance, and the best of
        several noisy figures is a figure lucky noise pushed up.)"""
        return max(self.sizes, key=lambda size: statistics.median(r[f"batch_{size}"] for r in self.rounds))

    def _key(self, key: str) -> str:
        if key.endswith("in_process_best"):
            return key.replace("in_process_best", f"batch_{self.best_size()}")
        return key


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


def _request(host: str, body: bytes, extra: str = "") -> bytes:
    head = f"POST /v1/embeddings HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _body(model: str, texts: str | list[str], encoding_format: str = "base64") -> bytes:
    return json.dumps({"model": model, "input": texts, "encoding_format": encoding_format}).encode()


def _content_length(head: bytes) -> int:
    status, _, headers = head.partition(b"\r\n")
    if b" 200 " not in status:
        raise RuntimeError(f"the server answered {status!r}")
    for line in headers.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


class RawHTTP:
    """Keep-alive HTTP/1.1 over one socket: the server's cost without a client library's. Like
    any client, it opens a new connection when the server has closed an idle one."""

    def __init__(self, base_url: str) -> None:
        self.host, self.port = _address(base_url)
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def post(self, body: bytes, extra: str = "") -> bytes:
        return self.exchange(body, extra)[1]

    def exchange(self, body: bytes, extra: str = "") -> tuple[bytes, bytes]:
        """The response's head and body; `extra`: more header lines, each ending in CRLF."""
        try:
            return self._post(body, extra)
        except ConnectionError:  # closed while idle (the server's keep-alive timeout)
            self.close()
            self._connect()
            return self._post(body, extra)

    def _post(self, body: bytes, extra: str) -> tuple[bytes, bytes]:
        self.sock.sendall(_request(self.host, body, extra))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.reader.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            head += line
        return head, self.reader.read(_content_length(head))

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


# --- the measurements ------------------------------------------------------------------------


Turn = Callable[[int], int]  # one call or request (the i-th); returns how many texts it embedded


def interleaved(turns: dict[str, Turn], seconds: float, server_pid: int) -> dict[str, float]:
    """Texts per second of each way, taking turns: one call of each, in a rotating order, until
    each has run about `seconds`. A burst of other work on the machine then hits every way
    alike, instead of whichever happened to be measured at the time.

    Also, as `cpu_<name>`, texts per CPU-second: this process's and the server's together. Other
    work on the machine slows the clock far more than it changes the CPU time a text costs, so
    this shows the server's own cost even on a busy machine."""
    repeat = {}  # calls per turn: a turn of at least 50 ms, so that measuring it costs nothing
    for name, turn in turns.items():
        turn(0)  # warm up
        start = time.perf_counter()
        turn(0)
        repeat[name] = max(1, round(0.05 / (time.perf_counter() - start)))
    names = list(turns)
    spent = dict.fromkeys(names, 0.0)
    cpu = dict.fromkeys(names, 0.0)
    done = dict.fromkeys(names, 0)
    i = 1
    while min(spent.values()) < seconds:
        for name in names[i % len(names):] + names[: i % len(names)]:
            start, cpu_start = time.perf_counter(), time.process_time() + cpu_seconds(server_pid)
            for k in range(repeat[name]):
                done[name] += turns[name](i * repeat[name] + k)
            spent[name] += time.perf_counter() - start
            cpu[name] += time.process_time() + cpu_seconds(server_pid) - cpu_start
        i += 1
    return {**{name: done[name] / spent[name] for name in names},
            **{f"cpu_{name}": done[name] / max(cpu[name], 1e-9) for name in names}}


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used, all its threads (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process_turn(embed: Callable[[list[str]], object], texts: list[str], size: int) -> Turn:
    batches = chunks_of(texts, size)

    def once(i: int) -> int:
        embed(batches[i % len(batches)])
        return size

    return once


def server_turns(server: LocalServer, texts: list[str], stack: contextlib.ExitStack) -> dict[str, Turn]:
    """256 texts per request, with the openai client and with the bare client."""
    from openai import OpenAI

    batches = chunks_of(texts, BIG)
    client = stack.enter_context(
        OpenAI(base_url=server.base_url, api_key=server.api_key or "any", max_retries=0, timeout=300)
    )
    http = RawHTTP(server.base_url)
    stack.callback(http.close)
    bodies = [_body(server.model, batch) for batch in batches]

    def with_client(i: int) -> int:
        return len(client.embeddings.create(model=server.model, input=batches[i % len(batches)]).data)

    def bare(i: int) -> int:
        http.post(bodies[i % len(bodies)])
        return BIG

    return {"server_256": with_client, "server_256_raw": bare}


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


def one_round(server: LocalServer, in_process_turns: dict[str, Turn], embed_32: Callable[[list[str]], object],
              texts: list[str], seconds: float, figures: Figures) -> None:
    with contextlib.ExitStack() as stack:
        assert server.process is not None
        r = interleaved({**in_process_turns, **server_turns(server, texts, stack)}, seconds, server.process.pid)
    # The concurrent clients against in-process at 32 texts per call, in slices taken in turn.
    slices, spent = 4, {"in_process_32": 0.0, "concurrent": 0.0, "concurrent_raw": 0.0}
    done = dict.fromkeys(spent, 0.0)
    one_32 = in_process_turn(embed_32, texts, CLIENTS)
    calls, embedded = batch_counts(server)
    for _ in range(slices):
        for name, run in (
            ("in_process_32", lambda: rate(one_32, seconds / slices)),
            ("concurrent", lambda: asyncio.run(concurrent_openai(server, texts, seconds / slices))),
            ("concurrent_raw", lambda: asyncio.run(concurrent_bare(server, texts, seconds / slices))),
        ):
            start = time.perf_counter()
            per_second = run()
            elapsed = time.perf_counter() - start
            spent[name] += elapsed
            done[name] += per_second * elapsed
    calls_after, embedded_after = batch_counts(server)
    r.update({name: done[name] / spent[name] for name in spent})
    figures.rounds.append(r)
    figures.mean_batch = (embedded_after - embedded) / max(1, calls_after - calls)
    print(f"  round {len(figures.rounds)}: " + ", ".join(f"{k} {v:,.0f}" for k, v in r.items()), flush=True)


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


def gzip_figures(server: LocalServer, texts: list[str], rounds: int, n: int = 15) -> dict[str, dict[str, float]]:
    """For a 256-text request, float and base64, without and with `Accept-Encoding: gzip`: the
    bytes of the response body and the median round trip, the client inflating a gzipped body
    (as every client does). The four ways take turns, one request each."""
    import zlib

    http = RawHTTP(server.base_url)
    batches = chunks_of(texts, BIG)
    ways = {f"{fmt} {'gzip' if gz else 'plain'}": (fmt, gz) for fmt in ("float", "base64") for gz in (False, True)}
    times: dict[str, list[float]] = {name: [] for name in ways}
    size: dict[str, int] = {}
    try:
        for i in range(rounds * n + 1):
            for name, (fmt, gz) in ways.items():
                body = _body(server.model, batches[i % len(batches)], fmt)
                start = time.perf_counter()
                head, content = http.exchange(body, "Accept-Encoding: gzip\r\n" if gz else "")
                if gz:
                    assert b"content-encoding: gzip" in head.lower(), "the server did not gzip its answer"
                    zlib.decompress(content, 31)
                elapsed = time.perf_counter() - start
                if i:  # the first of each is a warm-up
                    times[name].append(elapsed)
                    size[name] = len(content)
    finally:
        http.close()
    return {name: {"bytes": size[name], "ms": statistics.median(times[name]) * 1000} for name in ways}


def bench_wordllama(texts: list[str], seconds: float, rounds: int, server_args: list[str]) -> Figures:
    from embedlab.server.backends import WordLlamaBackend

    backend = WordLlamaBackend()  # the server's own pooling, in-process
    figures = Figures("wordllama-l2-supercat", WORDLLAMA_SIZES, model_bound=False)
    turns = {f"batch_{size}": in_process_turn(backend.embed, texts, size) for size in WORDLLAMA_SIZES}
    with LocalServer(*server_args) as server:
        for _ in range(rounds):
            one_round(server, turns, backend.embed, texts, seconds, figures)
        figures.overhead_ms = server_overhead(server, backend.embed, texts)
        figures.gzip = gzip_figures(server, texts, rounds)
    return figures


def bench_minilm(folder: Path, texts: list[str], seconds: float, rounds: int, server_args: list[str]) -> Figures:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    figures = Figures("all-MiniLM-L6-v2", MINILM_SIZES, model_bound=True)

    def encode_with(batch_size: int) -> Callable[[list[str]], object]:
        return lambda batch: model.encode(batch, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

    turns = {f"batch_{size}": in_process_turn(encode_with(size), texts, BIG) for size in MINILM_SIZES}
    with LocalServer("--backend", "sentence-transformers", "--model", str(folder),
                     "--served-name", "all-MiniLM-L6-v2", *server_args) as server:
        for _ in range(rounds):
            one_round(server, turns, encode_with(CLIENTS), texts, seconds, figures)
        figures.gzip = gzip_figures(server, texts, rounds, n=3)
    return figures


# --- the report ----------------------------------------------------------------------------


def table(results: list[Figures], markdown: bool) -> str:
    rows: list[tuple[str, list[str]]] = []
    for size in sorted({size for f in results for size in f.sizes}):
        rows.append((f"in-process, batch size {size}",
                     [f"{f.median(f'batch_{size}'):,.0f}/s" if size in f.sizes else "–" for f in results]))
    rows.append(("  best batch size", [str(f.best_size()) for f in results]))
    for key, label, base in MEASURES:
        cells = []
        for f in results:
            cell = f"{f.median(key):,.0f}/s"
            if base is None:
                cells.append(cell)
            elif key.startswith("concurrent") and not f.model_bound:
                cells.append(f"{f.median(key):,.0f} requests/s")
            else:
                cells.append(f"{cell} ({f.ratio(key, base):.0%})")
        rows.append((label, cells))
    for key, label in (("server_256", "CPU per text, server / in-process (openai client)"),
                       ("server_256_raw", "CPU per text, server / in-process (bare HTTP)")):
        rows.append((label, [f"{1 / f.ratio('cpu_' + key, 'cpu_in_process_best'):.2f}" for f in results]))
    rows.append(("  texts per model call (concurrent clients)", [f"{f.mean_batch:.1f}" for f in results]))
    for key, label in (("openai", "1-text request, round trip (openai client)"),
                       ("http", "1-text request, round trip (bare HTTP)"),
                       ("inference", "  of which inference")):
        rows.append((label, [f"{f.overhead_ms[key]:.2f} ms" if f.overhead_ms else "–" for f in results]))
    rows.append(("time the server adds per request", [
        f"{f.overhead_ms['http'] - f.overhead_ms['inference']:.2f} ms" if f.overhead_ms else "–" for f in results
    ]))
    for fmt in ("float", "base64"):
        for way in ("plain", "gzip"):
            name = f"{fmt} {way}"
            label = f"256 texts, {fmt}, {'gzip' if way == 'gzip' else 'not compressed'}: bytes, round trip"
            rows.append((label, [
                f"{f.gzip[name]['bytes'] / 1000:,.0f} kB, {f.gzip[name]['ms']:.1f} ms" if f.gzip else "–" for f in results
            ]))
    note = (f"In brackets: the share of in-process speed in the same round (at the best batch size for the "
            f"256 rows, {CLIENTS} texts per call for the concurrent rows); each figure is the median of "
            f"{len(results[0].rounds)} rounds. In-process batch sizes: all-MiniLM-L6-v2 encodes 256 texts per "
            "call with that batch_size; WordLlama pools that many texts per call.")

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
        ("server_256", "in_process_best", 0.95, "the server at 256 texts per request"),
        ("concurrent", "in_process_32", 0.5, f"{CLIENTS} concurrent single-text clients"),
    ):
        ratio, bare = minilm.ratio(key, base), minilm.ratio(key + "_raw", base)
        verdict = "met" if ratio >= goal else "MISSED"
        lines.append(f"{verdict}: {what}: {ratio:.0%} of in-process with the openai client, "
                     f"{bare:.0%} with a bare HTTP client (goal ≥ {goal:.0%})")
    return lines


def gzip_only(args: argparse.Namespace, texts: list[str]) -> int:
    """Only the gzip rows: a 256-text request with and without gzip, per backend."""
    servers = []
    if args.only != "minilm":
        servers.append(("wordllama-l2-supercat", [], 15))
    if args.only != "wordllama" and (args.minilm / "modules.json").is_file():
        servers.append(("all-MiniLM-L6-v2", ["--backend", "sentence-transformers", "--model", str(args.minilm)], 3))
    for name, serve_args, n in servers:
        with LocalServer(*serve_args, *args.server_arg) as server:
            figures = gzip_figures(server, texts, args.rounds, n=n)
        print(f"{name}, 256 texts per request (median of {args.rounds * n} round trips each, bare HTTP):")
        for way, got in figures.items():
            print(f"  {way:<14} {got['bytes'] / 1000:>7,.0f} kB {got['ms']:>9.1f} ms")
    print(f"\nload average {os.getloadavg()[0]:.2f} after (other work on the machine lowers every figure)")
    return 0


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
    parser.add_argument("--gzip-only", action="store_true", help="measure only the gzip rows (a minute)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="pass ARG to `embedlab serve`, e.g. --server-arg=--batch-size=32 (repeatable)")
    args = parser.parse_args()

    try:
        import httptools  # noqa: F401

        http_parser = "httptools"
    except ImportError:
        http_parser = "h11"
    print(f"embedlab server benchmark: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, HTTP parser {http_parser}, load average {os.getloadavg()[0]:.2f} "
          f"before, {args.rounds} rounds of {args.seconds:g} s per figure"
          + (f", server options {' '.join(args.server_arg)}" if args.server_arg else ""), flush=True)
    texts = corpus()
    if args.gzip_only:
        return gzip_only(args, texts)
    results = []
    if args.only != "minilm":
        print("measuring wordllama-l2-supercat ...", flush=True)
        results.append(bench_wordllama(texts, args.seconds, args.rounds, args.server_arg))
    minilm = None
    if args.only != "wordllama":
        if (args.minilm / "modules.json").is_file():
            print(f"measuring all-MiniLM-L6-v2 from {args.minilm} ...", flush=True)
            minilm = bench_minilm(args.minilm, texts, args.seconds, args.rounds, args.server_arg)
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
