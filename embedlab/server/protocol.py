"""The HTTP connection: uvicorn's httptools protocol, with the limits uvicorn leaves out.

uvicorn reads as much header as a client sends (64 MiB were accepted), waits for a half-sent
request as long as the client likes, and answers unreadable HTTP in plain text. This subclass:

- answers unreadable HTTP with OpenAI's error JSON (400), then closes the connection;
- refuses a request whose request line and headers pass `max_header_bytes` (431);
- gives each request `read_timeout` seconds from its first byte to arrive in full, headers and
  body, and a new connection as long to start one (408, then the connection is closed).

Everything the application answers itself goes through uvicorn's own code unchanged.
"""

from __future__ import annotations

from asyncio import TimerHandle, Transport

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from embedlab.server import errors

DEFAULT_MAX_HEADER_BYTES = 32 * 1024


class GuardedHttpProtocol(HttpToolsProtocol):
    """Used through `protocol_class`, which sets the two limits."""

    max_header_bytes: int
    read_timeout: float

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True  # reading a request line and headers (or waiting for them)
        self._head_bytes = 0  # bytes received while reading a head, counted before parsing
        self._head_size = 0  # the parsed request line and headers
        self._deadline: TimerHandle | None = None
        self._arm()  # a connection that never sends a request is closed in time too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse(errors.headers_too_large(self.max_header_bytes))

    def send_400_response(self, msg: str) -> None:
        self._refuse(errors.malformed_http())

    # httptools' callbacks, around uvicorn's
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_size = 0
        if self._deadline is None:
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_size <= self.max_header_bytes:
            super().on_headers_complete()
            return
        # A head that arrived whole in one read: uvicorn runs the request cycle as usual, but with
        # an application that only refuses it (and closes the connection).
        app, self.app = self.app, _refusal(errors.headers_too_large(self.max_header_bytes))
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._in_head = True
        self._head_bytes = 0

    # the read deadline
    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = None if self._in_head else self.cycle
        if cycle is not None and cycle.response_started:  # the application answered already
            self.transport.close()
            return
        self._refuse(errors.request_timeout(self.read_timeout))

    def _refuse(self, error: errors.APIError) -> None:
        """Answer `error` ourselves and close; a request the application is reading ends for it."""
        self._disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            if self.cycle.response_started:
                self.transport.close()
                return
            self.cycle.disconnected = True  # the application's own answer, if any, is dropped
            self.cycle.message_event.set()
        body = error.body_bytes()
        head = [STATUS_LINE[error.status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def _refusal(error: errors.APIError) -> ASGIApp:
    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        response = error.response()
        response.headers["connection"] = "close"
        await response(scope, receive, send)

    return refuse


def protocol_class(*, max_header_bytes: int, read_timeout: float) -> type[GuardedHttpProtocol]:
    """The protocol with these limits, for `uvicorn.Config(http=...)`."""
    return type(
        "EmbedlabHttpProtocol",
        (GuardedHttpProtocol,),
        {"max_header_bytes": max_header_bytes, "read_timeout": read_timeout},
    )
