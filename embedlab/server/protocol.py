"""The HTTP connection: uvicorn's httptools protocol, with the limits uvicorn leaves out.

uvicorn reads as much header as a client sends (64 MiB were accepted), waits for a half-sent
request as long as the client likes, answers unreadable HTTP in plain text, drops a keep-alive
connection whenever the application raises, and lets a request run on after its client has
gone. This subclass:

- answers unreadable HTTP with OpenAI's error JSON (400), then closes the connection;
- refuses a request whose request line and headers pass `max_header_bytes` (431);
- gives each request `read_timeout` seconds from its first byte to arrive in full, headers and
  body (408, then the connection is closed), and closes a new connection that sends nothing
  for as long;
- keeps the connection open when the application raises after it answered (Starlette answers an
  unexpected error with the handler the app gives it, then raises it again), and answers with
  OpenAI's 500 JSON if it raised before answering;
- cancels the application's task for a request whose client has gone: a request waiting for
  the model leaves the queue (see `batching`);
- answers a request that asks to switch protocols (`Upgrade: h2c`, as Java's HttpClient and
  `curl --http2` send on plain http; or a WebSocket) as if it had not asked, as HTTP/1.1 lets a
  server do. httptools stops reading at an upgrade and never hands over the request's body
  (uvicorn#2722, httptools#124), so such a request is read again by a fresh parser, without its
  `Upgrade` header; every other request costs nothing more;
- gives every response an `x-request-id` (`req_` and 32 hex digits, as OpenAI's), which the
  openai SDKs expose as `request_id`.

Everything else goes through uvicorn's own code unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from asyncio import TimerHandle, Transport

import httptools
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from embedlab.server import errors

DEFAULT_MAX_HEADER_BYTES = 32 * 1024
REQUEST_ID = b"x-request-id"
_HOP_BY_HOP_UPGRADE = frozenset({b"upgrade", b"http2-settings"})  # dropped with the upgrade

logger = logging.getLogger("embedlab.server")


class GuardedHttpProtocol(HttpToolsProtocol):
    """Used through `protocol_class`, which sets the two limits."""

    max_header_bytes: int
    read_timeout: float

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]  # uvicorn's own signature, narrowed here
        super().connection_made(transport)
        self._in_head = True  # reading a request line and headers (or waiting for them)
        self._head_bytes = 0  # bytes received while reading a head, counted before parsing
        # Since when a request has been arriving (None: none is). One timer per connection checks
        # it, rather than one per request: this costs nothing on the way of each request.
        self._reading_since: float | None = self.loop.time()  # a new connection must send one
        self._timer: TimerHandle | None = self.loop.call_later(self.read_timeout, self._check_deadline)
        self._task: tuple[RequestResponseCycle, asyncio.Task[None]] | None = None
        self._upgrade_ignored = False  # the parser stopped at an Upgrade; the request is read again

    def _feed(self, data: bytes) -> None:
        """uvicorn's `data_received`, but an upgrade the server does not speak is ignored."""
        self._unset_keepalive_if_required()
        while True:  # a loop, not recursion: a read may hold many pipelined upgrades
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            except httptools.HttpParserUpgrade as upgrade:
                rest = data[upgrade.args[0] :] if upgrade.args else b""
                if self._upgrade_ignored:
                    data = self._read_again(rest)
                    continue
                self._unsupported_upgrade_warning()  # CONNECT: nothing to read again; uvicorn's way
            return

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        running = self._task
        super().connection_lost(exc)
        if running is not None and not running[0].response_complete:
            running[1].cancel()  # `_run` ends it quietly

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        self._feed(data)
        if self._in_head and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse(errors.headers_too_large(self.max_header_bytes))

    def send_400_response(self, msg: str) -> None:
        self._refuse(errors.malformed_http())

    # httptools' callbacks, around uvicorn's
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._reading_since is None:
            self._reading_since = self.loop.time()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self.parser.should_upgrade() and self.parser.get_method() != b"CONNECT":
            # No request cycle for this reading: the parser will stop here (and has already
            # called on_message_complete without the body). `_read_again` reads it all again.
            self._upgrade_ignored = True
            return
        size = len(self.url) + sum(map(len, itertools.chain.from_iterable(self.headers))) + 4 * len(self.headers)
        if size <= self.max_header_bytes:
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
        if self._upgrade_ignored:
            return
        super().on_message_complete()
        self._reading_since = None
        self._in_head = True
        self._head_bytes = 0

    def _read_again(self, rest: bytes) -> bytes:
        """A new parser, and what to feed it: the request the old one stopped at, without its
        upgrade, then what followed its head. Its body then goes to the application as for any
        other request."""
        self._upgrade_ignored = False
        version = self.parser.get_http_version()
        head = [self.parser.get_method(), b" ", self.url, b" HTTP/", version.encode("ascii"), b"\r\n"]
        for name, value in self.headers:
            if name in _HOP_BY_HOP_UPGRADE:
                continue
            if name == b"connection":
                kept = [t.strip() for t in value.split(b",") if t.strip().lower() not in (b"upgrade", *_HOP_BY_HOP_UPGRADE)]
                if not kept:
                    continue
                value = b", ".join(kept)
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3, as uvicorn does
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        return b"".join(head) + rest

    # running the application
    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGIApp) -> None:  # type: ignore[override]  # uvicorn's own signature, narrowed here
        async def run(scope: Scope, receive: Receive, send_on: Send) -> None:
            request_id = b"req_" + os.urandom(16).hex().encode()

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), (REQUEST_ID, request_id)]
                await send_on(message)

            self._task = (cycle, asyncio.current_task())  # type: ignore[assignment]  # uvicorn types the task alone; we keep its cycle beside it
            try:
                await app(scope, receive, send)
            except asyncio.CancelledError:
                if not cycle.disconnected:  # cancelled for another reason than the client leaving
                    raise
            except Exception:
                logger.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
                if not cycle.response_started:
                    await errors.server_error().response()(scope, receive, send)
            finally:
                if self._task is not None and self._task[0] is cycle:
                    self._task = None

        super()._start_asgi_task(cycle, run)

    # the read deadline
    def _check_deadline(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        left = self.read_timeout if self._reading_since is None else self._reading_since + self.read_timeout - self.loop.time()
        if left > 0:
            self._timer = self.loop.call_later(left, self._check_deadline)
            return
        cycle = None if self._in_head else self.cycle
        if (cycle is not None and cycle.response_started) or (self._in_head and not self._head_bytes):
            # The application answered already, or no byte of a request came: close, as for an
            # idle keep-alive connection (an answer would be read as the answer to a later request).
            self.transport.close()
            return
        self._refuse(errors.request_timeout(self.read_timeout))

    def _refuse(self, error: errors.APIError) -> None:
        """Answer `error` ourselves and close; a request the application is reading ends for it."""
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
            REQUEST_ID + b": req_" + os.urandom(16).hex().encode() + b"\r\n",
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
