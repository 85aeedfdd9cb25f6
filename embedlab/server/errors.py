"""OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}` with the right status.

Every failure of the server answers with this body, so a client (and a learner reading the
exception the `openai` package raises) sees the same thing it would see from OpenAI. Messages
follow OpenAI's wording where it is known and say what to do where OpenAI's would not.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

# Longest piece of a request (a model name, a field name, a path) that a message repeats.
_SHOWN_CHARS = 100


class APIError(Exception):
    """A request the server refuses; turned into OpenAI's error JSON by the app."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def body_bytes(self) -> bytes:
        return json.dumps(self.body()).encode()

    def response(self) -> Response:
        return Response(self.body_bytes(), status_code=self.status, media_type="application/json", headers=self.headers)


def shown(text: str) -> str:
    """`text` as a message may repeat it: at most a hundred characters, then how many more."""
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"{text[:_SHOWN_CHARS]}... ({len(text) - _SHOWN_CHARS} more characters)"


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    """400: the body is understood but not acceptable."""
    return APIError(400, message, param=param, code=code)


def model_not_found(model: str, served: str) -> APIError:
    return APIError(
        404,
        f"The model `{shown(model)}` does not exist or you do not have access to it. This server serves `{served}`: set EMBED_MODEL={served}.",
        param="model",
        code="model_not_found",
    )


def missing_key() -> APIError:
    return APIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header "
        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). This server was started with a key "
        "(--api-key or EMBEDLAB_API_KEY): set OPENAI_API_KEY to it.",
        headers={"www-authenticate": "Bearer"},
    )


def wrong_key() -> APIError:
    # Never echo any part of the key that was sent: it may be a real key for another service.
    return APIError(
        401,
        "Incorrect API key provided. Use the key this server was started with (--api-key or EMBEDLAB_API_KEY) as OPENAI_API_KEY.",
        code="invalid_api_key",
        headers={"www-authenticate": "Bearer"},
    )


def too_many_tokens(requested: int, limit: int) -> APIError:
    # OpenAI's own words, type and code for the same limit (300,000 there too).
    return APIError(
        400,
        f"Requested {requested} tokens, max {limit} tokens per request",
        type="max_tokens_per_request",
        code="max_tokens_per_request",
    )


def body_too_large(size: int, limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is too large: {size} bytes, where this server accepts at most {limit} (--max-body-mb). Send the texts in several requests.",
        code="request_too_large",
    )


def inflated_too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is too large once decompressed: more than {limit} bytes, where this server "
        "accepts at most that many (--max-body-mb, counted after decompressing). Send the texts in "
        "several requests.",
        code="request_too_large",
    )


def unsupported_encoding(coding: str) -> APIError:
    return APIError(
        415,
        f"Unsupported Content-Encoding: `{shown(coding)}`. This server reads request bodies sent as gzip, deflate or identity (uncompressed).",
        code="unsupported_content_encoding",
    )


def bad_encoding(coding: str) -> APIError:
    return APIError(
        400,
        f"The request body is not valid {coding} data (Content-Encoding: {coding}): it could not be decompressed, or it is cut short.",
    )


def not_json(content_type: str) -> APIError:
    # Refusing every other type also keeps web pages out: a page may POST text/plain to any
    # address without the browser asking the server first, but never application/json.
    got = f"`{shown(content_type)}`" if content_type else "none"
    return APIError(
        415,
        f"Unsupported Content-Type: {got}. Send the request body as JSON with the header `Content-Type: application/json`.",
    )


def forbidden_origin(origin: str) -> APIError:
    return APIError(
        403,
        f"Requests from web pages are refused (Origin: {shown(origin)}): a page you visit must not use "
        "your local server. To let this page use it, start the server with --allow-origin ORIGIN.",
        code="origin_not_allowed",
    )


def forbidden_host(host: str) -> APIError:
    return APIError(
        403,
        f"This server does not answer for the host `{shown(host)}`: use its address (as printed when it "
        "started), or start it with --allow-host NAME to answer for that name.",
        code="host_not_allowed",
    )


def malformed_http() -> APIError:
    return APIError(400, "Invalid HTTP request received: this is not an HTTP/1.1 request the server can read.")


def headers_too_large(limit: int) -> APIError:
    return APIError(431, f"The request's headers are too large: this server reads at most {limit} bytes of them.")


def request_timeout(seconds: float) -> APIError:
    return APIError(
        408,
        f"The request was not received in full within {seconds:g} seconds (--read-timeout); the server closed the connection.",
    )


def server_error(detail: str = "") -> APIError:
    return APIError(
        500,
        f"The server had an error while processing your request. Sorry about that! {detail}The server's console shows what went wrong.",
        type="server_error",
    )


def shutting_down() -> APIError:
    return APIError(503, "The server is shutting down. Please retry against a running server.", type="server_error")
