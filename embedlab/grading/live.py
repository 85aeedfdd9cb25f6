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
        raise LiveUnavailable(
            "EMBED_MODEL is not set: set it in .env for your endpoint, or run `pytest --live local`"
        )
    config = LiveConfig(
        base_url=os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
        api_key=os.environ.get("OPENAI_API_KEY") or "no-key-needed",
        model=common.EMBED_MODEL,
    )
    probe(config)
    return config


def probe(config: LiveConfig) -> None:
    """One small request, quickly: can this endpoint embed with this model?"""
    import openai

    client = openai.OpenAI(
        base_url=config.base_url, api_key=config.api_key, max_retries=0, timeout=PROBE_TIMEOUT
    )
    try:
        client.embeddings.create(model=config.model, input=["ping"], encoding_format="float")
    except openai.APIConnectionError:  # includes timeouts
        raise LiveUnavailable("the endpoint in OPENAI_BASE_URL is unreachable (is the server running?)") from None
    except openai.AuthenticationError:
        raise LiveUnavailable("the endpoint refused OPENAI_API_KEY (401)") from None
    except (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError) as err:
        raise LiveUnavailable(
            f"the endpoint does not embed with EMBED_MODEL={config.model!r} ({err.status_code}): "
            "it may serve only a chat model"
        ) from None
    except openai.APIStatusError as err:
        raise LiveUnavailable(f"the endpoint answered {err.status_code} to a test request") from None
    finally:
        client.close()


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
