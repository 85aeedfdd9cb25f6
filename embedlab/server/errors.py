"""OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}` with the right status.

Every failure of the server answers with this body, so a client (and a learner reading the
exception the `openai` package raises) sees the same thing it would see from OpenAI. Messages
follow OpenAI's wording where it is known and say what to do where OpenAI's would not.
"""

from __future__ import annotations

import json
from typing import Any


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


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    """400: the body is understood but not acceptable."""
    return APIError(400, message, param=param, code=code)


def model_not_found(model: str, served: str) -> APIError:
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it. "
        f"This server serves `{served}`: set EMBED_MODEL={served}.",
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
        "Incorrect API key provided. Use the key this server was started with "
        "(--api-key or EMBEDLAB_API_KEY) as OPENAI_API_KEY.",
        code="invalid_api_key",
        headers={"www-authenticate": "Bearer"},
    )


def server_error() -> APIError:
    return APIError(
        500,
        "The server had an error while processing your request. Sorry about that! "
        "The server's console shows what went wrong.",
        type="server_error",
    )


def shutting_down() -> APIError:
    return APIError(503, "The server is shutting down. Please retry against a running server.", type="server_error")
