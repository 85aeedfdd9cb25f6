"""What several of the server's tests share."""

from __future__ import annotations

from typing import Any

import httpx2

API_KEY = "embedlab-test-key-0123456789abcdef"


def assert_openai_error(response: httpx2.Response, status: int) -> dict[str, Any]:
    """The response is OpenAI's error JSON with this status; returns its "error" object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == ("invalid_request_error" if status < 500 else "server_error")
    return error
