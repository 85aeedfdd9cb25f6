"""The loopback guard fires: every way a test or its children could reach another machine is
refused before the system call, named, and fails the test that made it.

The real attempts run in a fresh, empty network namespace (`unshare --net`, whose only interface
is a loopback that is down), so even a guard that failed to fire could not send a packet. The
destination is in 2001:db8::/32, the block reserved for documentation, and the name is under
`.invalid`, which nothing resolves.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import guard

ROOT = Path(__file__).resolve().parents[1]
ELSEWHERE = "2001:db8::1"  # documentation-only (RFC 3849); never routed


def test_loopback_is_allowed_and_nothing_else():
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"):
        assert guard.loopback_address(host), host
    for host in ("0.0.0.0", "::", ELSEWHERE, "::ffff:c000:201", "embeddings.invalid", "", None, 7):
        assert not guard.loopback_address(host), host


def test_a_refused_attempt_fails_the_test_even_when_swallowed(loopback_violations):
    """Through the audit event itself: no system call, so safe anywhere."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        with pytest.raises(guard.NonLoopback, match=r"connect to 2001:db8::1:9"):
            sys.audit("socket.connect", sock, (ELSEWHERE, 9, 0, 0))
    with pytest.raises(guard.NonLoopback, match="name lookup of 'api.example.invalid'"):
        sys.audit("socket.getaddrinfo", "api.example.invalid", 443, 0, 0, 0)
    seen = loopback_violations()
    assert len(seen) == 2 and "connect to 2001:db8::1:9" in seen[0] and "api.example.invalid" in seen[1]


def test_a_loopback_connection_goes_through(loopback_violations):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5), socket.create_connection(("localhost", port), timeout=5):
            pass
    assert loopback_violations() == []


ATTEMPTS = textwrap.dedent(
    """
    import _socket, socket, subprocess, sys, threading
    target = (sys.argv[1], 9)
    def attempt(name, action):
        try:
            action()
            print(name, "went through")
        except ConnectionRefusedError as err:
            print(name, "refused:", type(err).__name__)
        except OSError as err:
            print(name, "reached the kernel:", err)
    attempt("create_connection", lambda: socket.create_connection(target, timeout=2))
    attempt("raw _socket", lambda: _socket.socket(_socket.AF_INET6, _socket.SOCK_STREAM).connect(target + (0, 0)))
    attempt("udp sendto", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", target))
    attempt("lookup", lambda: socket.getaddrinfo("api.example.invalid", 443))
    thread = threading.Thread(target=attempt, args=("thread", lambda: socket.create_connection(target, timeout=2)))
    thread.start(); thread.join()
    child = "import socket\\ntry:\\n socket.create_connection((%r, 9), timeout=2)\\nexcept ConnectionRefusedError: print('child refused')" % target[0]
    print(subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=30).stdout.strip())
    """
)


def isolated_network() -> list[str] | None:
    """A command prefix that runs in a new, empty network namespace, if this machine allows one."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--user", "--map-root-user", "--net"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    return prefix if probe.returncode == 0 else None


def test_real_attempts_in_this_process_threads_and_children_are_refused(loopback_violations):
    prefix = isolated_network()
    if prefix is None:
        pytest.skip("this machine allows no network namespace (unshare --net), so no real attempt is made")
    env = {**os.environ, guard.STRICT_ENV: "1"}  # the namespace is our safety net here, not a reason to allow
    done = subprocess.run(
        [*prefix, sys.executable, "-c", ATTEMPTS, ELSEWHERE], capture_output=True, text=True, timeout=60, env=env
    )  # inherits PYTHONPATH and the log: the guard is installed in the child as it would be in any test
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for name in ("create_connection", "raw _socket", "udp sendto", "lookup", "thread"):
        assert f"{name} refused: NonLoopback" in lines, done.stdout
    assert "child refused" in lines, done.stdout
    seen = loopback_violations()
    assert sum("connect to 2001:db8::1:9" in line for line in seen) == 4, seen  # main, raw, thread, child
    assert any("sendto to 2001:db8::1:9" in line for line in seen) and any("api.example.invalid" in line for line in seen)


def test_a_test_that_swallows_the_refusal_still_fails(tmp_path):
    """The guard as a session sees it: the test that made the attempt fails, naming the address."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_sneaky.py").write_text(textwrap.dedent(f"""
        import socket, sys

        def test_sneaky():
            with socket.socket(socket.AF_INET6) as sock:
                try:
                    sys.audit("socket.connect", sock, ({ELSEWHERE!r}, 9, 0, 0))
                except ConnectionError:
                    pass  # swallowed, as an HTTP client's retry loop would

        def test_honest():
            pass
    """))
    env = {k: v for k, v in os.environ.items() if k != guard.LOG_ENV}  # a top-level run of its own
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "selftests.conftest", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
         str(tmp_path), "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "tried to reach another machine" in done.stdout and "connect to 2001:db8::1:9" in done.stdout


def test_a_process_with_no_way_off_the_machine_may_try(loopback_violations):
    """The grader's worker has only a loopback that is down: its attempts cannot leave, so they are
    the grader's business (it reports them to the learner), not a failed selftest."""
    prefix = isolated_network()
    if prefix is None:
        pytest.skip("this machine allows no network namespace (unshare --net)")
    done = subprocess.run([*prefix, sys.executable, "-c", ATTEMPTS, ELSEWHERE], capture_output=True, text=True, timeout=60)
    assert "create_connection reached the kernel" in done.stdout, done.stdout + done.stderr
    assert loopback_violations() == []
