"""The optional API key: 401 in OpenAI's shape without it, success with it, never shown."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai import OpenAI

from embedlab.server.launch import LocalServer

from .helpers import API_KEY, assert_openai_error


def post(server: LocalServer, headers: dict[str, str]) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/embeddings", json={"model": server.model, "input": "a cat"}, headers=headers
    )


def test_the_launcher_knows_the_key(strict_server: LocalServer) -> None:
    assert strict_server.api_key == API_KEY
    assert API_KEY not in " ".join(strict_server.process.args)  # handed over in the environment


def test_a_missing_key_is_401(strict_server: LocalServer) -> None:
    error = assert_openai_error(post(strict_server, {}), 401)
    assert "didn't provide an API key" in error["message"]
    assert error["code"] is None


@pytest.mark.parametrize(
    "header",
    [f"Bearer {API_KEY}x", f"Bearer {API_KEY[:-1]}", "Bearer sk-not-the-key", f"Basic {API_KEY}", f"bearer  {API_KEY} extra"],
)
def test_a_wrong_key_is_401(strict_server: LocalServer, header: str) -> None:
    error = assert_openai_error(post(strict_server, {"authorization": header}), 401)
    assert error["code"] == "invalid_api_key"
    assert "not-the-key" not in error["message"]  # the key sent is never echoed


def test_the_right_key_works_with_the_client(strict_server: LocalServer) -> None:
    client = OpenAI(base_url=strict_server.base_url, api_key=API_KEY, max_retries=0)
    assert len(client.embeddings.create(model=strict_server.model, input=["a cat", "a dog"]).data) == 2
    assert [m.id for m in client.models.list().data] == [strict_server.model]
    assert post(strict_server, {"authorization": f"bearer {API_KEY}"}).status_code == 200  # scheme is case-blind


def test_the_client_sees_an_authentication_error(strict_server: LocalServer) -> None:
    client = OpenAI(base_url=strict_server.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.embeddings.create(model=strict_server.model, input="a cat")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_health_needs_no_key(strict_server: LocalServer) -> None:
    assert httpx2.get(strict_server.base_url.removesuffix("/v1") + "/health").status_code == 200


def test_the_key_is_never_printed(strict_server: LocalServer) -> None:
    post(strict_server, {"authorization": f"Bearer {API_KEY}"})
    assert API_KEY not in strict_server.output
    assert "...cdef" in strict_server.output  # its last four characters, to tell keys apart
