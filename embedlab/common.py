"""What every exercise shares: the configured client and model, read from `.env`.

The course's own scripts start with `from common import get_client, EMBED_MODEL`; here it is
`from embedlab.common import get_client, EMBED_MODEL`. Settings come from the environment or a
`.env` file in the folder you run from (see `.env.example`):

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1   # your endpoint (course server, Ollama, embedlab serve)
    OPENAI_API_KEY=...                          # leave empty for an endpoint that needs no key
    EMBED_MODEL=all-MiniLM-L6-v2                # an embedding model that endpoint serves
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from dotenv import find_dotenv, load_dotenv

if TYPE_CHECKING:
    from openai import OpenAI

if not os.environ.get("EMBEDLAB_WORKER"):  # while grading, the learner's code gets no .env
    load_dotenv(find_dotenv(usecwd=True))

#: The embedding model to use, or None when `.env` sets none.
EMBED_MODEL: str | None = os.environ.get("EMBED_MODEL") or None

NO_MODEL_MESSAGE = (
    "Set EMBED_MODEL in your .env to an embedding model your endpoint serves "
    "(see .env.example), or start a local one with `embedlab serve` and paste what it prints."
)


def get_client() -> OpenAI:
    """An OpenAI client for the endpoint in `.env` (OPENAI_BASE_URL, OPENAI_API_KEY)."""
    from openai import OpenAI  # imported here: `import openai` takes most of a second

    # Local endpoints (embedlab serve, Ollama) need no key, but the client insists on one.
    return OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "no-key-needed")


_CONFIGURED = get_client  # while a test calls with no client, the grader's worker puts its own in its place


def package_of(file: str) -> str:
    """For an exercise file run as a script (`python exercises/similarity.py`, as the course runs
    its scripts): make its folder importable as a package and return the package's name, so its
    `from .embed import embed` works as it does under `python -m exercises.similarity`."""
    import sys
    from pathlib import Path

    folder = Path(file).resolve().parent
    if str(folder.parent) not in sys.path:
        sys.path.insert(0, str(folder.parent))
    return folder.name


def run_script(main: Callable[[], None]) -> None:
    """Run an exercise file's script part and turn the usual problems into one readable line."""
    if not EMBED_MODEL:
        raise SystemExit(NO_MODEL_MESSAGE)
    import openai

    try:
        main()
    except NotImplementedError as err:
        raise SystemExit(str(err) or "A function this script calls is not written yet.") from None
    except openai.APIConnectionError:
        raise SystemExit("Could not reach the endpoint in OPENAI_BASE_URL. Is the server running? (`embedlab serve` starts a local one.)") from None
    except (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError) as err:
        raise SystemExit(
            f"The endpoint rejected EMBED_MODEL={EMBED_MODEL!r}: {api_message(err)}\n"
            "If it serves only a chat model, it cannot make embeddings: set EMBED_MODEL to an "
            "embedding model it serves, or use `embedlab serve`."
        ) from None
    except openai.AuthenticationError:
        raise SystemExit("The endpoint refused the key: check OPENAI_API_KEY in your .env.") from None


def api_message(err: Exception) -> str:
    """The message of an OpenAI-shaped error body, else the exception's text."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return str(inner["message"])
    return str(err)


#: While grading, no .env is read: a function that gets no model was called without one by a caller.
NOT_PASSED_ON = (
    "model is None: the grader gives the function it tests a `client` and a `model`, and no .env is read "
    "while grading. A function you call got neither: pass client=client, model=model on to it."
)


def client_and_model(client: OpenAI | None, model: str | None) -> tuple[OpenAI, str]:
    """The client and model an exercise function should use: the ones given, else the configured ones."""
    model = model or EMBED_MODEL
    if not model:
        if not os.environ.get("EMBEDLAB_WORKER"):
            raise RuntimeError(NO_MODEL_MESSAGE)
        raise _not_passed_on("model")
    if client is None and os.environ.get("EMBEDLAB_WORKER") and get_client is _CONFIGURED:
        raise _not_passed_on("client")  # while grading, no client is configured unless a test says so
    return client or get_client(), model


def _not_passed_on(what: str) -> RuntimeError:
    """While grading: the function that had a client and a model and called on without `what` is
    the mistake, so the error names that caller and points at its line (the grader's worker reads
    `embedlab_frame`)."""
    import sys

    callee = sys._getframe(2)  # the function that called client_and_model()
    caller = callee.f_back
    while caller is not None and caller.f_locals.get(what) is None:
        callee, caller = caller, caller.f_back
    if caller is None or what not in caller.f_code.co_varnames:
        return RuntimeError(NOT_PASSED_ON.replace("model is None", f"{what} is None", 1))
    given = [name for name in ("client", "model") if callee.f_locals.get(name) is not None]
    missing = "them" if not given else ("its model" if given == ["client"] else "its client")
    err = RuntimeError(
        f"{caller.f_code.co_name}() was given a client and a model, but calls {callee.f_code.co_name}() "
        f"without {missing}: pass client=client, model=model on to it."
    )
    err.embedlab_frame = (caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name)
    return err
