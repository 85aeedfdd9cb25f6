"""The endpoint the live checks talk to: the one in `.env`, or `embedlab serve` with --live local.

Whatever goes wrong becomes one line for the skip reason, and that line never names the host or
the key: reports and logs may be shared.
"""

from __future__ import annotations

import importlib.util
import os
from contextlib import ExitStack
from dataclasses import dataclass


@dataclass(frozen=True)
class LiveConfig:
    base_url: str
    api_key: str
    model: str


class LiveUnavailable(Exception):
    """Why the live checks cannot run; the message is the one-line skip reason."""


PROBE_TIMEOUT = 5.0


def from_environment() -> LiveConfig:
    """The endpoint in the environment / `.env` (read by embedlab.common), checked by one request."""
    from embedlab import common

    if not common.EMBED_MODEL:
        raise LiveUnavailable("EMBED_MODEL is not set: set it in .env for your endpoint, or run `pytest --live local`")
    config = LiveConfig(
        base_url=os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
        api_key=os.environ.get("OPENAI_API_KEY") or "no-key-needed",
        model=common.EMBED_MODEL,
    )
    probe(config)
    return config


def probe(config: LiveConfig) -> None:
    """One small request, quickly: can this endpoint embed with this model?

    Plain HTTP (httpx2, which grading imports anyway), as the openai client would send it: importing
    openai here would cost this process a second, and a closed port should cost nothing."""
    import httpx2

    from embedlab.grading.cassettes import shared_tls  # the session's one TLS context: a new one costs 0.2 s

    url = config.base_url.rstrip("/") + "/embeddings"
    try:
        response = httpx2.post(
            url,
            json={"model": config.model, "input": ["ping"], "encoding_format": "float"},
            headers={"Authorization": f"Bearer {config.api_key}"},
            timeout=PROBE_TIMEOUT,
            verify=shared_tls(),
        )
    except (httpx2.HTTPError, OSError, ValueError):  # refused, unresolvable, timed out, a bad URL
        raise LiveUnavailable("the endpoint in OPENAI_BASE_URL is unreachable: start its server, or fix the URL in .env") from None
    status = response.status_code
    if status == 401:
        raise LiveUnavailable("the endpoint refused OPENAI_API_KEY (401): check the key in .env")
    if status in (400, 404, 422):
        raise LiveUnavailable(
            f"the endpoint does not embed with EMBED_MODEL={config.model!r} ({status}): "
            "it may serve only a chat model; set EMBED_MODEL in .env to an embedding model it serves"
        )
    if status != 200:
        raise LiveUnavailable(f"the endpoint answered {status} to a test request")


def start_local(stack: ExitStack) -> LiveConfig:
    """Start `embedlab serve` (the bundled model) on a free loopback port until the stack closes."""
    missing = [name for name in ("wordllama", "starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise LiveUnavailable('--live local needs the local server: pip install -e ".[local]"')
    from embedlab.server.launch import LocalServer

    try:
        server = stack.enter_context(LocalServer())
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        raise LiveUnavailable(f"`embedlab serve` could not start: {lines[-1] if lines else 'no output'}") from None
    return LiveConfig(base_url=server.base_url, api_key=server.api_key or "no-key-needed", model=server.model)
