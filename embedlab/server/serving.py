"""uvicorn, on sockets we bind ourselves, with a callback once it accepts requests.

Binding first lets `--port 0` learn its port before anything is printed, and turns "port in
use" into one clear message instead of a log line from inside uvicorn. By default the server
listens on both loopback addresses, 127.0.0.1 and ::1, on the same port: `localhost` may resolve
to either, and `http://[::1]:PORT` works as `http://127.0.0.1:PORT` does.

Signals: the first Ctrl-C or SIGTERM stops taking work (`on_stop`: the batcher answers every
queued request 503 at once), lets the requests in the model call in hand finish, and exits
with status 0; a second signal calls `on_force`, which abandons that call and exits at once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)) if s is not None)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0: a free port the system picks)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":  # on Windows SO_REUSEADDR would let two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


LOOPBACK = ("127.0.0.1", "::1")
_NO_IPV6 = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, getattr(errno, "EPROTONOSUPPORT", -1))


class BindError(OSError):
    """A socket that could not be bound, with the address it was for (`where`, e.g. [::1]:8000)."""

    def __init__(self, exc: OSError, where: str) -> None:
        super().__init__(exc.errno, exc.strerror)
        self.where = where


def bind_loopback(port: int, attempts: int = 8) -> list[socket.socket]:
    """Sockets on 127.0.0.1 and ::1, with the same port (port 0: a free one on both). Only
    127.0.0.1 on a machine without IPv6; BindError if the port is taken on either address."""
    for attempt in range(attempts):
        try:
            first = bind(LOOPBACK[0], port)
        except OSError as exc:
            raise BindError(exc, f"{LOOPBACK[0]}:{port}") from None
        chosen = first.getsockname()[1]
        try:
            second = bind(LOOPBACK[1], chosen)
        except socket.gaierror:  # no IPv6 at all
            return [first]
        except OSError as exc:
            if exc.errno in _NO_IPV6 or not socket.has_ipv6:
                return [first]
            first.close()
            if port == 0 and exc.errno == errno.EADDRINUSE and attempt < attempts - 1:
                continue  # the free IPv4 port is taken on ::1: try another
            raise BindError(exc, f"[{LOOPBACK[1]}]:{chosen}") from None
        return [first, second]
    raise AssertionError("unreachable")


def url_host(sock: socket.socket) -> str:
    """The host to put in a URL for this socket: a wildcard address becomes loopback."""
    host = sock.getsockname()[0]
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        *,
        on_ready: Callable[[], None] = lambda: None,
        on_stop: Callable[[], None] = lambda: None,
        on_force: Callable[[str], None] = lambda reason: None,
        parent_pid: int | None = None,
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._on_stop = on_stop
        self._on_force = on_force
        self._parent_pid = parent_pid
        self.stopped_by: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._on_ready()

    async def on_tick(self, counter: int) -> bool:
        # With --exit-with-parent (set by LocalServer): if the process that started us is gone,
        # stop instead of holding the port forever.
        if self._parent_pid is not None and counter % 10 == 0 and os.getppid() != self._parent_pid:
            self.stopped_by = "parent exited"
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_stop()  # before uvicorn waits for the requests in flight: the queued ones leave now
        await super().shutdown(sockets=sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version re-raises the signal once it has shut down, so a SIGTERM would
        # end the process with -15 after a clean shutdown. Ours just asks it to stop.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        name = "Ctrl-C" if sig == signal.SIGINT else signal.Signals(sig).name
        if self.should_exit:  # a second signal: do not wait for anything
            self.force_exit = True
            self._on_force(f"a second {name}")
            return
        self.stopped_by = name
        self.should_exit = True
