"""No network while grading offline: a request that slips past the cassettes (a learner's own
client in a test answered by a fake server, say) fails at once instead of reaching a real host."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

MESSAGE = "the network is blocked while grading offline: every answer comes from the cassettes"


class NetworkBlocked(ConnectionRefusedError):
    pass


@contextmanager
def blocked() -> Iterator[None]:
    """Refuse internet connections and name lookups (local Unix sockets still work)."""
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guard(original):
        def refuse(self, *args, **kwargs):
            if self.family == getattr(socket, "AF_UNIX", None):
                return original(self, *args, **kwargs)
            raise NetworkBlocked(MESSAGE)

        return refuse

    def no_lookup(*args, **kwargs):
        raise NetworkBlocked(MESSAGE)

    socket.socket.connect, socket.socket.connect_ex = guard(connect), guard(connect_ex)
    socket.getaddrinfo = no_lookup
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
