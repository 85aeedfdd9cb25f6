"""The Starlette application: three routes, the access checks, and OpenAI-shaped errors.

- `POST /v1/embeddings`  read (inflating a gzip/deflate body) -> validate (token ids decoded
  back to text) -> queue for the batcher -> encode the response (gzipped if the client asks)
- `GET  /v1/models`, `GET /v1/models/{model}`  the served model, in OpenAI's list shape
- `GET  /health`  200 once the model is loaded; needs no key

Every error, including the framework's own 404/405 and an unexpected exception, leaves as
OpenAI's `{"error": {...}}` JSON on a connection that stays open (with `protocol`); a bad
request never reaches the model. No answer is built from the `Host` header (no redirects).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from embedlab.server import compression, errors, tokens
from embedlab.server.access import AccessCheck, AccessRules
from embedlab.server.backends import Backend
from embedlab.server.batching import MicroBatcher
from embedlab.server.errors import APIError
from embedlab.server.responses import embeddings_body, model_object, models_body, truncate
from embedlab.server.validation import EmbeddingRequest, Limits, ModelInfo, parse_embedding_request, parse_json

# Past these sizes, JSON parsing, token counting and float encoding move off the event loop, so
# one big request does not hold up the small ones.
_THREAD_BODY_BYTES = 256 * 1024
_THREAD_FLOATS = 64 * 1024
_THREAD_IDS = 64 * 1024  # token ids to decode


@dataclass(frozen=True)
class ServerSettings:
    served_name: str
    access: AccessRules = field(default_factory=AccessRules)
    limits: Limits = field(default_factory=Limits)


def create_app(backend: Backend, settings: ServerSettings) -> Starlette:
    model = ModelInfo(settings.served_name, backend.dimensions, backend.supports_dimensions)
    limits = settings.limits
    batcher = MicroBatcher(
        backend.embed,
        max_texts=backend.chunk_texts,
        max_chars=backend.chunk_chars,
        sort_by_length=backend.sort_by_length,
    )
    created = int(time.time())

    async def embeddings(request: Request) -> Response:
        started = time.perf_counter()
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise errors.not_json(content_type)
        codings = compression.request_codings(request.headers.get("content-encoding", ""))
        body = await _read_body(request, limits.max_body_bytes)
        big = len(body) > _THREAD_BODY_BYTES
        if codings:  # off the event loop whatever its size: a few kilobytes may inflate to the limit
            body = await run_in_threadpool(compression.inflate, body, codings, limits.max_body_bytes)
            big = len(body) > _THREAD_BODY_BYTES
        if big:
            query = await run_in_threadpool(_parse, body)
        else:
            query = _parse(body)
        texts, id_counts = query.texts, None
        if query.tokens is not None:
            texts, id_counts = await _decode(query)
        else:
            await _check_tokens(texts, len(body))
        result = await batcher.embed(texts)  # cancelled if the client leaves (see `protocol`)
        vectors = result.vectors
        if query.dimensions is not None and query.dimensions < vectors.shape[1]:
            vectors = truncate(vectors, query.dimensions)
        counts = result.token_counts if id_counts is None else id_counts  # OpenAI counts the ids sent
        if query.encoding_format == "float" and vectors.size > _THREAD_FLOATS:
            content = await run_in_threadpool(embeddings_body, vectors, counts, model.name, query.encoding_format)
        else:
            content = embeddings_body(vectors, counts, model.name, query.encoding_format)
        headers = {"openai-processing-ms": ""}
        if len(content) >= compression.GZIP_MIN_BYTES:
            headers["vary"] = "Accept-Encoding"
            if compression.accepts_gzip(request.headers.get("accept-encoding", "")):
                if len(content) > _THREAD_BODY_BYTES:
                    content = await run_in_threadpool(compression.gzip_body, content)
                else:
                    content = compression.gzip_body(content)
                headers["content-encoding"] = "gzip"
        headers["openai-processing-ms"] = str(round((time.perf_counter() - started) * 1000))
        return Response(content, media_type="application/json", headers=headers)

    def _parse(body: bytes) -> EmbeddingRequest:
        return parse_embedding_request(parse_json(body), model, limits)

    async def _decode(query: EmbeddingRequest) -> tuple[list[str], list[int]]:
        assert query.tokens is not None
        decoder = tokens.decoder() if tokens.loaded() else await run_in_threadpool(tokens.decoder)
        if decoder is None:
            raise tokens.no_decoder()
        total = sum(map(len, query.tokens.ids))
        if total > limits.max_tokens:
            raise errors.too_many_tokens(total, limits.max_tokens)
        if total > _THREAD_IDS:
            return await run_in_threadpool(decoder.texts, query.tokens, limits)
        return decoder.texts(query.tokens, limits)

    async def _check_tokens(texts: list[str], body_bytes: int) -> None:
        # No text has more tokens than UTF-8 bytes plus a few special ones, and the body holds
        # at least those bytes: most requests are under the limit without being counted.
        bound = body_bytes + 3 * len(texts)
        if backend.max_text_tokens is not None:
            bound = min(bound, backend.max_text_tokens * len(texts))
        if bound <= limits.max_tokens:
            return
        count = await run_in_threadpool(backend.count_tokens, texts)
        if count > limits.max_tokens:
            raise errors.too_many_tokens(count, limits.max_tokens)

    async def list_models(request: Request) -> Response:
        return Response(models_body(model.name, created), media_type="application/json")

    async def get_model(request: Request) -> Response:
        name = request.path_params["model"]
        if name != model.name:
            raise errors.model_not_found(name, model.name)
        return _json(model_object(model.name, created))

    async def health(request: Request) -> Response:
        return _json(
            {
                "status": "ok",
                "model": model.name,
                "backend": backend.kind,
                "dimensions": model.dimensions,
                "batches": {"calls": batcher.calls, "texts": batcher.texts},  # how well requests merge
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            batcher.stop_accepting()  # whoever runs the app waits for the call in hand (batcher.close)

    app = Starlette(
        routes=[
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", get_model, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        middleware=[Middleware(AccessCheck, rules=settings.access)],
        exception_handlers={
            APIError: _api_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            # Starlette answers with this, then raises the error again: `protocol` keeps the
            # connection open nonetheless, which uvicorn alone would drop.
            Exception: _unexpected_error,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # a redirect would be built from the Host header
    app.state.batcher = batcher
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise errors.body_too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.body_too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _json(data: object) -> Response:
    return Response(json.dumps(data).encode(), media_type="application/json")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    where = errors.shown(f"{request.method} {request.url.path}")
    if exc.status_code == 404:
        error = APIError(404, f"Invalid URL ({where}). This server serves POST /v1/embeddings and GET /v1/models.")
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error = APIError(405, f"Invalid method for URL ({where}): use {allowed}.", headers=dict(exc.headers or {}))
    else:
        error = APIError(exc.status_code, f"{exc.detail} ({where})")
    return error.response()


async def _client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=400)  # nobody will read it; keeps the log free of a traceback


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return errors.server_error().response()
