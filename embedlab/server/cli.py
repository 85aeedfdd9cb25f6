"""Run a local OpenAI-compatible embeddings endpoint (POST /v1/embeddings, GET /v1/models).

By default it serves the WordLlama model bundled with the `wordllama` package: no download, no
key, numpy only. On start it prints the base URL and the lines to paste into your .env.
Stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

API_KEY_ENV = "EMBEDLAB_API_KEY"
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_PORT = 8000
NO_KEY_PLACEHOLDER = "embedlab-local"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  embedlab serve                      the bundled WordLlama model on 127.0.0.1:8000\n"
        "  embedlab serve --port 0             any free port (printed)\n"
        "  embedlab fetch-model all-MiniLM-L6-v2\n"
        "  embedlab serve --backend sentence-transformers --model all-MiniLM-L6-v2"
    )
    where = parser.add_argument_group("where it listens")
    where.add_argument(
        "--host",
        metavar="ADDR",
        help="address to bind (default: both loopback addresses, 127.0.0.1 and ::1: this machine only)",
    )
    where.add_argument("--port", metavar="N", type=_port, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 picks a free one)")
    model = parser.add_argument_group("the model")
    model.add_argument(
        "--backend",
        choices=("wordllama", "sentence-transformers"),
        default="wordllama",
        help="wordllama (default): the bundled static model; sentence-transformers: a transformer model from local files (needs the `st` extra)",
    )
    model.add_argument(
        "--model",
        metavar="NAME_OR_DIR",
        help="for sentence-transformers: a model folder, a name put in the cache by "
        "`embedlab fetch-model`, or a name already in the Hugging Face cache (default: all-MiniLM-L6-v2)",
    )
    model.add_argument(
        "--served-name",
        metavar="NAME",
        help="the model id clients send as `model` (default: wordllama-l2-supercat, or the sentence-transformers model's name, e.g. all-MiniLM-L6-v2)",
    )
    model.add_argument(
        "--cache-dir",
        metavar="DIR",
        type=Path,
        help="where `embedlab fetch-model` put its models (default: $EMBEDLAB_CACHE or ~/.cache/embedlab/models)",
    )
    limits = parser.add_argument_group("limits and access")
    limits.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"require `Authorization: Bearer KEY` (default: ${API_KEY_ENV}; none: any key works). "
        f"Prefer the variable: a command line is visible to other users",
    )
    limits.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        default=[],
        help="let web pages from ORIGIN (e.g. http://localhost:3000; * for any) use the server; "
        "by default every request that comes from a web page is refused. Repeatable",
    )
    limits.add_argument(
        "--allow-host",
        metavar="NAME",
        action="append",
        default=[],
        help="also answer requests addressed to the host NAME (default: only the address it listens on, and localhost). Repeatable",
    )
    limits.add_argument("--max-inputs", metavar="N", type=_positive_int, default=2048, help="most texts per request (default: 2048)")
    limits.add_argument("--max-chars", metavar="N", type=_positive_int, default=32_768, help="most characters per text (default: 32768)")
    limits.add_argument("--max-tokens", metavar="N", type=_positive_int, default=300_000, help="most tokens per request (default: 300000)")
    limits.add_argument("--max-body-mb", metavar="MIB", type=_positive_float, default=32.0, help="largest request body, in MiB (default: 32)")
    limits.add_argument(
        "--read-timeout",
        metavar="S",
        type=_positive_float,
        default=DEFAULT_READ_TIMEOUT,
        help=f"seconds a request may take to arrive in full (default: {DEFAULT_READ_TIMEOUT:g})",
    )
    limits.add_argument(
        "--batch-size",
        metavar="N",
        type=_positive_int,
        help="most texts per model call (default: 1024 for wordllama, 32 for sentence-transformers); "
        "a bigger request is embedded in several calls, taking turns with other requests",
    )
    limits.add_argument("--log-requests", action="store_true", help="print one line per request")
    tools = parser.add_argument_group("for tools")
    tools.add_argument(
        "--ready-file",
        metavar="PATH",
        type=Path,
        help="once ready, write the base URL, port and model as JSON to this file",
    )
    tools.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    # For the server's own tests: a model call that sleeps first, or fails on a given text.
    tools.add_argument("--test-slow", metavar="S", type=float, default=0.0, help=argparse.SUPPRESS)
    tools.add_argument("--test-fail-on", metavar="TEXT", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    try:
        import httptools  # noqa: F401 - the `local` extra: check it before anything else
        import starlette  # noqa: F401 - the same check
        import uvicorn  # noqa: F401 - the same check

        from embedlab.server.serving import bind, bind_loopback
    except ImportError as exc:
        return _fail(f'`embedlab serve` needs the `local` extra ({exc}). Install it with: pip install -e ".[local]"')

    api_key = (args.api_key or os.environ.get(API_KEY_ENV) or "").strip() or None
    # Bind before loading the model: a taken port fails at once, not after a long load.
    loopback = args.host in (None, "localhost")
    try:
        sockets = bind_loopback(args.port) if loopback else [bind(args.host, args.port)]
    except OSError as exc:
        hint = " Pick another with --port N, or --port 0 for any free port." if args.port else ""
        where = getattr(exc, "where", f"{args.host}:{args.port}")
        return _fail(f"cannot listen on {where}: {exc.strerror or exc}.{hint}")
    # Until uvicorn takes over the signals, SIGTERM stops the model load like Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        code = _serve(args, sockets, api_key)
    except KeyboardInterrupt:
        _say("\nembedlab serve: stopped before it was ready.")
        code = 130
    finally:
        for sock in sockets:
            sock.close()
    # Everything is finished and said, but Python's own clean-up before the process exits (freeing
    # every module one by one) takes 1.3 s more with torch loaded on an idle 2-core machine, and
    # far longer on a busy one: skip it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve(args: argparse.Namespace, sockets: list[socket.socket], api_key: str | None) -> int:
    import uvicorn

    from embedlab.server.access import AccessRules
    from embedlab.server.app import ServerSettings, create_app
    from embedlab.server.backends import BackendError, load_backend
    from embedlab.server.protocol import DEFAULT_MAX_HEADER_BYTES, protocol_class
    from embedlab.server.serving import Server, url_host
    from embedlab.server.validation import Limits

    what = "the bundled WordLlama model" if args.backend == "wordllama" else f"{args.model or 'all-MiniLM-L6-v2'}"
    _say(f"embedlab serve: loading {what} ...")
    try:
        backend = load_backend(args.backend, args.model, args.cache_dir, args.batch_size)
    except BackendError as exc:
        return _fail(str(exc))
    if args.test_slow or args.test_fail_on is not None:
        from embedlab.server.faults import FaultyBackend

        backend = FaultyBackend(backend, delay=args.test_slow, fail_on=args.test_fail_on)
    served_name = args.served_name or backend.name
    sock = sockets[0]
    address = sock.getsockname()[0]
    base_url = f"http://{url_host(sock)}:{sock.getsockname()[1]}/v1"

    settings = ServerSettings(
        served_name=served_name,
        access=AccessRules.for_address(address, api_key=api_key, origins=args.allow_origin, names=args.allow_host),
        limits=Limits(
            max_inputs=args.max_inputs,
            max_chars=args.max_chars,
            max_tokens=args.max_tokens,
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        ),
    )
    app = create_app(backend, settings)
    batcher = app.state.batcher
    config = uvicorn.Config(
        app,
        http=protocol_class(max_header_bytes=DEFAULT_MAX_HEADER_BYTES, read_timeout=args.read_timeout),
        log_level="info" if args.log_requests else "warning",
        access_log=args.log_requests,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=10,
    )

    def on_ready() -> None:
        wildcard = address in ("0.0.0.0", "::")
        _say(banner(base_url, served_name, backend.description, api_key, wildcard=wildcard))
        if args.ready_file:
            _write_ready_file(
                args.ready_file,
                {
                    "base_url": base_url,
                    "model": served_name,
                    "port": sock.getsockname()[1],
                    "pid": os.getpid(),
                    "backend": backend.kind,
                    "dimensions": backend.dimensions,
                },
            )

    def on_force(reason: str) -> None:
        # The model call in hand cannot be interrupted, and a process that exits normally while
        # torch runs in another thread aborts (SIGABRT): leave without running exit handlers.
        _say(f"\nembedlab serve: stopped at once ({reason}); the model call in hand was abandoned.")
        sys.stderr.flush()
        os._exit(0)

    server = Server(
        config,
        on_ready=on_ready,
        on_stop=batcher.stop_accepting,
        on_force=on_force,
        parent_pid=os.getppid() if args.exit_with_parent else None,
    )
    server.run(sockets=sockets)
    try:
        batcher.close()  # the model call in hand, if uvicorn stopped waiting for it
    except KeyboardInterrupt:
        on_force("Ctrl-C")
    if not server.started:
        return _fail("the server did not start (see the messages above)")
    reason = f" ({server.stopped_by})" if server.stopped_by else ""
    newline = "\n" if server.stopped_by == "Ctrl-C" else ""  # after the terminal's ^C
    _say(f"{newline}embedlab serve: stopped{reason}.")
    return 0


def banner(base_url: str, model: str, description: str, api_key: str | None, *, wildcard: bool = False) -> str:
    """What a person sees once the server is ready: where it is and what to paste into .env."""
    if api_key:
        key_line = "OPENAI_API_KEY=<the key you started the server with>"
        key_note = f"This server needs its key ({_masked(api_key)}): put it in OPENAI_API_KEY."
    else:
        key_line = f"OPENAI_API_KEY={NO_KEY_PLACEHOLDER}"
        key_note = "No key is needed: OPENAI_API_KEY may be any text."
    lines = [
        f"embedlab serve: ready at {base_url}",
        f"  model {model}:",
        f"  {description}",  # its own line: an 80-column terminal shows it whole
        "",
        "Paste into your .env:",
        "",
        f"OPENAI_BASE_URL={base_url}",
        key_line,
        f"EMBED_MODEL={model}",
        "",
        key_note,
    ]
    if wildcard:
        lines.append("Listening on every network interface: other machines can reach this server" + ("." if api_key else ",\nand there is no key (--api-key)."))
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _masked(key: str) -> str:
    return f"ending in ...{key[-4:]}" if len(key) >= 16 else f"{len(key)} characters"


def _write_ready_file(path: Path, data: dict[str, Any]) -> None:
    """Written whole or not at all: a reader polling for the file never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)


def _say(text: str) -> None:
    print(text, flush=True)


def _fail(message: str) -> int:
    print(f"embedlab serve: error: {message}", file=sys.stderr, flush=True)
    return 1


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535)")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value
