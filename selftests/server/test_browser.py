"""Web pages cannot use the server unless allowed: Origin and Host checks, JSON bodies only, no
redirect built from the Host header."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from embedlab.server.access import AccessRules
from embedlab.server.launch import LocalServer

from .helpers import RawHTTP, assert_openai_error, embeddings_body

PAGE = "http://localhost:3000"


@pytest.fixture(scope="module")
def open_to_a_page() -> Iterator[LocalServer]:
    with LocalServer("--allow-origin", PAGE, "--allow-host", "embeddings.test") as running:
        yield running


def port(server: LocalServer) -> int:
    return int(server.info["port"])


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost:3000", "http://127.0.0.1:8000"])
def test_a_web_page_is_refused(server: LocalServer, origin: str) -> None:
    with RawHTTP(server.base_url) as raw:
        for reply in (
            raw.post(embeddings_body(server.model, "a cat"), origin=origin),
            raw.post(b'{"model": "x", "input": "a cat"}', origin=origin, **{"content-type": "text/plain"}),
            raw.request("GET", "/v1/models", headers={"origin": origin}),
            raw.request("GET", "/health", headers={"origin": origin}),
        ):
            error = assert_openai_error(reply, 403)
            assert error["code"] == "origin_not_allowed"
            assert "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""])
def test_only_json_bodies(server: LocalServer, content_type: str) -> None:
    # What a page may send anywhere without asking first (no CORS preflight), or no type at all.
    with RawHTTP(server.base_url) as raw:
        error = assert_openai_error(raw.post(embeddings_body(server.model, "a cat"), **{"content-type": content_type}), 415)
        assert "application/json" in error["message"]
        assert raw.post(embeddings_body(server.model, "a cat"), **{"content-type": "application/json; charset=utf-8"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "localhost.evil.example:{port}", "127.0.0.2:{port}", ""])
def test_a_foreign_host_is_refused(server: LocalServer, host: str) -> None:
    # A page on a name that resolves to 127.0.0.1 (DNS rebinding) sends its own name as Host.
    with RawHTTP(server.base_url) as raw:
        reply = raw.request("GET", "/v1/models", headers={"host": host.format(port=port(server))})
        assert assert_openai_error(reply, 403)["code"] == "host_not_allowed"


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}", "127.0.0.1"])
def test_the_served_address_is_fine(server: LocalServer, host: str) -> None:
    with RawHTTP(server.base_url) as raw:
        assert raw.request("GET", "/v1/models", headers={"host": host.format(port=port(server))}).status_code == 200


def test_no_redirect_is_built_from_host(server: LocalServer) -> None:
    with RawHTTP(server.base_url) as raw:
        reply = raw.post(embeddings_body(server.model, "a cat"), host="localhost")
        assert reply.status_code == 200
        reply = raw.request("POST", "/v1/embeddings/", embeddings_body(server.model, "a cat"), {"host": "localhost"})
        assert_openai_error(reply, 404)
        assert "location" not in reply.headers


def test_an_allowed_page_gets_cors_headers(open_to_a_page: LocalServer) -> None:
    url = f"{open_to_a_page.base_url}/embeddings"
    preflight = httpx2.options(
        url, headers={"origin": PAGE, "access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == PAGE
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"]
    response = httpx2.post(url, json={"model": open_to_a_page.model, "input": "a cat"}, headers={"origin": PAGE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PAGE
    error = httpx2.post(url, json={"model": "nope", "input": "a cat"}, headers={"origin": PAGE})
    assert_openai_error(error, 404)
    assert error.headers["access-control-allow-origin"] == PAGE  # the page can read why
    other = httpx2.post(url, json={"model": open_to_a_page.model, "input": "a cat"}, headers={"origin": "https://evil.example"})
    assert_openai_error(other, 403)


def test_an_allowed_host_name(open_to_a_page: LocalServer) -> None:
    with RawHTTP(open_to_a_page.base_url) as raw:
        assert raw.request("GET", "/v1/models", headers={"host": f"embeddings.test:{port(open_to_a_page)}"}).status_code == 200
        assert_openai_error(raw.request("GET", "/v1/models", headers={"host": "other.test"}), 403)


def test_the_host_rules_for_each_kind_of_address() -> None:
    loopback = AccessRules.for_address("127.0.0.1")
    assert all(loopback.host_allowed(h) for h in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "localhost."))
    # Other interfaces are written as IPv6 documentation addresses (2001:db8::/32): only strings
    # here, never connected to, and no address of a real network appears in the repo.
    assert not any(loopback.host_allowed(h) for h in ("[2001:db8::5]:8000", "example.com", "127.0.0.1.nip.io:8000"))
    one_interface = AccessRules.for_address("2001:db8::5", names=["laptop.invalid"])
    assert one_interface.host_allowed("[2001:db8::5]:8000") and one_interface.host_allowed("laptop.invalid:8000")
    assert not one_interface.host_allowed("localhost:8000") and not one_interface.host_allowed("[2001:db8::6]")
    everywhere = AccessRules.for_address("0.0.0.0")
    assert everywhere.host_allowed("[2001:db8::7]:8000") and everywhere.host_allowed("[fe80::1]:8000")
    assert everywhere.host_allowed("localhost:8000") and not everywhere.host_allowed("example.com:8000")
    anyone = AccessRules.for_address("127.0.0.1", origins=["*"])
    assert anyone.origin_allowed("https://any.example") and not loopback.origin_allowed("https://any.example")
