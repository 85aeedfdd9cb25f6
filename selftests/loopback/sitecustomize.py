"""The loopback guard: while the kit's own tests run, nothing may talk to another machine.

Installed for the whole `selftests/` run by `selftests/conftest.py`, and in every Python process
the tests start that inherits the environment: this folder goes on `PYTHONPATH`, so Python
imports this file as `sitecustomize` at start-up and installs the guard there too.

It is a `sys.addaudithook` hook, so it sees what the C socket module does — `socket.connect`
(and so `socket.create_connection`, httpx, asyncio, a raw `_socket.socket`), `sendto`/`sendmsg`,
and name lookups — and no code can remove it. A connection to anything but 127.0.0.0/8 or ::1,
a datagram to anything else, or a lookup of any name but `localhost` is refused *before* the
system call (no packet leaves), raises `NonLoopback` naming the address, and is written to the
log file named by `EMBEDLAB_LOOPBACK_LOG`, which the test session reads after every test phase
to fail the test that made it — even when the code under test swallowed the exception.

A process in a network namespace whose only interface is a loopback (the grader's worker, which
runs the learner's code with no network at all) cannot reach another machine whatever it tries,
so the guard lets it try: the learner's mistakes there are the grader's to report, not the guard's.

What it cannot see (documented in docs/design.md, "Tests talk only to this machine"):
- programs that are not Python, or Python started with `-I`/`-E`/`-S` or with an environment
  that drops PYTHONPATH (they skip sitecustomize);
- C extensions and `ctypes` calls that make their own system calls (libcurl, a DNS lookup inside
  a C library);
- a child that clears its environment before starting Python.
"""

from __future__ import annotations

import ipaddress
import os
import sys

LOG_ENV = "EMBEDLAB_LOOPBACK_LOG"
STRICT_ENV = "EMBEDLAB_LOOPBACK_STRICT"  # refuse even where no packet could leave (the guard's own test)
LOCAL_NAMES = frozenset({"localhost", "localhost.", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class NonLoopback(ConnectionRefusedError):
    """A test tried to reach another machine."""


def loopback_address(host: object) -> bool:
    """127.0.0.0/8, ::1 or an IPv4-mapped loopback; nothing else (0.0.0.0 included)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%", 1)[0]
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _numeric(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%", 1)[0])
        return True
    except ValueError:
        return False


def _destination(args: tuple) -> tuple[object, object] | None:
    """(host, port) of a socket.connect / sendto audit event on an internet socket, else None."""
    sock, address = args[0], args[1]
    if not isinstance(address, tuple) or not address:
        return None  # AF_UNIX paths, abstract sockets: local by nature
    family = getattr(sock, "family", None)
    if family is not None and int(family) not in (2, 10):  # AF_INET, AF_INET6
        return None
    return address[0], address[1] if len(address) > 1 else None


def check(event: str, args: tuple) -> str | None:
    """What was refused, in words, or None when the event is fine."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        if event == "socket.sendmsg" and (len(args) < 2 or args[1] is None):
            return None
        found = _destination(args)
        if found is None or loopback_address(found[0]):
            return None
        host, port = found
        return f"{event.split('.')[1]} to {host}:{port}"
    if event == "socket.getaddrinfo":
        host = args[0]
        if host is None or host in ("", b"") or _numeric(host) or loopback_address(host):
            return None
        return f"name lookup of {host!r}"
    if event in ("socket.gethostbyname", "socket.gethostbyaddr"):
        host = args[0]
        if loopback_address(host) or host in ("", b""):
            return None
        return f"name lookup of {host!r}"
    return None


def _report(what: str) -> None:
    log = os.environ.get(LOG_ENV)
    if not log:
        return
    line = f"{os.getpid()}\t{' '.join(sys.argv)[:200]}\t{what}\n"
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError:
        pass


_verdicts: dict[int, bool] = {}


def _no_way_out() -> bool:
    """True in a network namespace with nothing but a loopback interface."""
    if os.environ.get(STRICT_ENV):
        return False
    try:
        namespace = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False
    if namespace not in _verdicts:
        import socket

        try:
            _verdicts[namespace] = all(name == "lo" for _, name in socket.if_nameindex())
        except OSError:
            _verdicts[namespace] = False
    return _verdicts[namespace]


def _hook(event: str, args: tuple) -> None:
    if not event.startswith("socket."):
        return
    what = check(event, args)
    if what is not None and _no_way_out():
        return
    if what is not None:
        _report(what)
        raise NonLoopback(f"loopback guard: refused {what} — the kit's tests talk only to 127.0.0.1/::1")


_installed = False


def install() -> None:
    """Install the hook in this process (once; an audit hook cannot be removed)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


if os.environ.get(LOG_ENV):
    install()
