"""What several of the server's tests share."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any, Protocol

API_KEY = "embedlab-test-key-0123456789abcdef"


class _Response(Protocol):
    status_code: int
    headers: Any
    text: str

    def json(self) -> Any: ...


def assert_openai_error(response: _Response, status: int, type: str | None = None) -> dict[str, Any]:
    """The response (httpx2's or `Reply`) is OpenAI's error JSON with this status; returns its "error"."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == (type or ("invalid_request_error" if status < 500 else "server_error"))
    return error


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]  # names in lower case
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class RawHTTP:
    """One HTTP/1.1 connection on a plain socket: for what no client library sends (malformed or
    half-sent requests, forged headers), and to see whether a connection stays open."""

    def __init__(self, base_url: str, timeout: float = 15) -> None:
        host, port = base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> RawHTTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def start(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Send a request without waiting for its answer (`reply()` reads it)."""
        fields = {"host": self.host, "content-type": "application/json", **(headers or {})}
        if body or method == "POST":
            fields["content-length"] = str(len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.send(head.encode("latin-1") + b"\r\n" + body)

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
        self.start(method, path, body, headers)
        return self.reply()

    def post(self, body: bytes, **headers: str) -> Reply:
        return self.request("POST", "/v1/embeddings", body, headers)

    def reply(self) -> Reply:
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Reply(status, headers, body)

    def closed_by_server(self, within: float = 5) -> bool:
        """Whether the server closes the connection (reads until it does, or `within` seconds;
        what it sends meanwhile goes to `buffer`)."""
        self.sock.settimeout(within)
        try:
            while data := self.sock.recv(65536):
                self.buffer += data
        except (TimeoutError, socket.timeout):
            return False
        except ConnectionResetError:
            return True
        return True

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._read()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data


def has_ipv6_loopback() -> bool:
    """Whether this machine has ::1 (the server then listens there too)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def embeddings_body(model: str, texts: str | list[str], **fields: Any) -> bytes:
    return json.dumps({"model": model, "input": texts, **fields}).encode()
