"""What the worker may not do, raised inside it by `start`: another user, limits, in-process blocks.

The walls of namespaces, filesystem, user, Landlock and seccomp are decided by
`embedlab.handle.sandbox` (the grading side: the plan and the command line) and raised by
`embedlab.worker.kernel` (inside the worker). These are the rest:

- **another user**: `drop_user`, first of all when the grader is root (`embedlab.handle.users`
  chooses who);
- **hard limits** (soft and hard alike, so they cannot be raised again): address space
  (`MEMORY_LIMIT` above what the worker starts with), processes and threads (`PROCESS_LIMIT`),
  open files (`OPEN_FILES`), the size of any file written (`FILE_LIMIT`), no core files;
- where there are no namespaces: an audit hook refuses internet sockets and name lookups in the
  worker's own process and threads (seccomp and Landlock refuse them to every process);
- `import solutions` refused by an audit hook, with a sentence.

"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space the learner's code may add
FILE_LIMIT = 64 * 1024**2  # the largest file the worker may write
PROCESS_LIMIT = 256  # processes and threads the worker's user may have (in its namespace)
OPEN_FILES = 256  # file descriptors the worker may hold
PROCESS_LIMIT_ENV = "EMBEDLAB_WORKER_PROCESSES"


def limit_resources(processes: int | None = None, fresh_namespace: bool = False) -> None:
    """Hard limits: soft and hard set alike, so the learner's code cannot raise them back."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return

    def cap(kind: int, value: int) -> None:
        try:
            _, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_FSIZE, FILE_LIMIT)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails; it does not kill
    cap(resource.RLIMIT_NOFILE, OPEN_FILES)
    if sys.platform.startswith("linux"):
        cap(resource.RLIMIT_AS, _address_space() + MEMORY_LIMIT)
        if processes is None:
            processes = int(os.environ.get(PROCESS_LIMIT_ENV) or PROCESS_LIMIT)
        # Counted per user: in a fresh user namespace only the worker's own; else every task of its user.
        already = _threads_now() if fresh_namespace else _tasks_of(os.getuid())
        if hasattr(resource, "RLIMIT_NPROC"):
            cap(resource.RLIMIT_NPROC, already + processes)


def _address_space() -> int:
    return _status_field("VmSize") * 1024


def _threads_now() -> int:
    return _status_field("Threads") or 1


def _status_field(name: str, pid: str = "self") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _tasks_of(uid: int) -> int:
    """Threads of every process whose real uid is `uid` (what RLIMIT_NPROC counts)."""
    total = 0
    for entry in _proc_entries():
        try:
            text = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        real, threads = None, 1
        for line in text.splitlines():
            if line.startswith("Uid:"):
                real = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if real == uid:
            total += threads
    return total


def _proc_entries() -> list[str]:
    try:
        return [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def block_network_in_process() -> None:
    """Where namespaces are not available: refuse internet sockets and lookups in this process."""

    def hook(event: str, args: tuple) -> None:
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"):
            family = getattr(args[0], "family", None)
            if family is not None and int(family) in (2, 10):
                raise ConnectionRefusedError("the network is off while grading: every answer comes through the `client` you are given")
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
            raise ConnectionRefusedError("the network is off while grading: every answer comes through the `client` you are given")

    sys.addaudithook(hook)


def block_imports(package: str, message: str) -> None:
    """`import <package>` fails in this process, whatever the learner's code does to sys.meta_path."""

    def hook(event: str, args: tuple) -> None:
        if event == "import":
            name = args[0]
            if isinstance(name, str) and (name == package or name.startswith(package + ".")):
                raise ImportError(message)

    sys.addaudithook(hook)


def drop_user(uid: int, gid: int) -> None:
    """This process becomes `uid`/`gid`, with no supplementary groups, for good."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
