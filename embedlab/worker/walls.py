"""The walls around the worker that runs a learner's code, and the sweep that leaves no process behind.

Applied in the worker right after it is forked, before any learner file is imported:

- its own session (so the grading process can kill it and its children as one group);
- limits: address space (`MEMORY_LIMIT` above what the worker starts with), size of any file it
  writes, no core files;
- on Linux, where unprivileged user namespaces are allowed: a user, mount and network namespace
  of its own. It has no network at all (only a loopback that is down). The kit's folder (and any
  other folder the grader names) is mounted read-only, the cassettes and the reference solutions
  are hidden behind empty folders; then a second user namespace locks those mounts so the
  learner's code cannot undo them;
- everywhere else (or when namespaces are refused): an audit hook, which no Python code can
  remove, refuses internet sockets and name lookups in the worker's own process and threads.

The grading process makes itself a *child subreaper* (Linux), so a process that the learner's
code detaches (double fork, setsid) is re-parented to it instead of to init; `sweep()` then
finds every descendant that is not on the keep list and kills it.

Out of reach without a container: the worker runs with the user's own rights, so it can read
whatever that user can read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import time
from pathlib import Path

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space the learner's code may add
FILE_LIMIT = 64 * 1024**2  # the largest file the worker may write

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_CHILD_SUBREAPER = 36


def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


# -- in the worker -------------------------------------------------------------------------------


def limit_resources() -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return

    def cap(kind: int, value: int) -> None:
        try:
            soft, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(kind, (value, hard if hard != resource.RLIM_INFINITY else value))
        except (ValueError, OSError):
            pass

    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_FSIZE, FILE_LIMIT)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails; it does not kill
    if sys.platform.startswith("linux"):
        cap(resource.RLIMIT_AS, _address_space() + MEMORY_LIMIT)


def _address_space() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def isolate(readonly: list[Path], hidden: list[Path], empty: Path) -> str | None:
    """Namespaces for this (single-threaded) process. None when done, else why it could not be."""
    if not sys.platform.startswith("linux"):
        return "namespaces are Linux only"
    libc = _libc()
    if libc is None:
        return "no C library found"
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0:
        return f"unshare refused: {os.strerror(ctypes.get_errno())}"
    try:
        _map_ids(uid, gid)
        _mount(libc, None, "/", MS_REC | MS_PRIVATE)
        empty.mkdir(mode=0o500, exist_ok=True)
        for path in hidden:
            if path.is_dir():
                _mount(libc, str(empty), str(path), MS_BIND)
        for path in readonly:
            if path.is_dir():
                _mount(libc, str(path), str(path), MS_BIND | MS_REC)
                _mount(libc, None, str(path), MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(path))
        # A second user namespace: the mounts above become locked, so "root" in it cannot undo them.
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "second unshare")
        _map_ids(uid, gid)
    except OSError as err:
        os._exit(70)  # half-isolated is worse than none: the grading process sees this and says so
        raise AssertionError from err  # unreachable
    return None


def _map_ids(uid: int, gid: int) -> None:
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _mount(libc, source: str | None, target: str, flags: int) -> None:
    if libc.mount(source.encode() if source else None, target.encode(), None, flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _kept_flags(path: Path) -> int:
    """The flags a read-only remount must repeat (the kernel refuses to drop them)."""
    got = os.statvfs(path).f_flag
    flags = 0
    for st, ms in ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME), (4096, MS_RELATIME)):
        if got & st:
            flags |= ms
    return flags


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


# -- in the grading process ----------------------------------------------------------------------


def become_subreaper() -> bool:
    """Orphans of our descendants come to us instead of init (Linux); True if it took."""
    if not sys.platform.startswith("linux"):
        return False
    libc = _libc()
    return bool(libc) and libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (Linux); [] elsewhere."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def descendants_of(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        children = [c for p in frontier for c in children_of(p)]
        found.extend(children)
        frontier = children
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process, its group and every descendant we can find."""
    victims = [pid, *descendants_of(pid)]
    for victim in victims:
        try:
            os.kill(victim, signal.SIGSTOP)  # no new children while we collect them
        except (ProcessLookupError, PermissionError):
            pass
    victims = [pid, *descendants_of(pid)]
    for victim in victims:
        for kill in (lambda v: os.killpg(v, signal.SIGKILL), lambda v: os.kill(v, signal.SIGKILL)):
            try:
                kill(victim)
            except (ProcessLookupError, PermissionError, OSError):
                pass


def sweep(keep: frozenset[int] | set[int] = frozenset(), rounds: int = 50) -> int:
    """Kill every descendant of this process not in `keep` (and theirs) and reap them; how many."""
    me, killed = os.getpid(), 0
    for _ in range(rounds):
        strays = [c for c in children_of(me) if c not in keep]
        if not strays:
            break
        for stray in strays:
            kill_tree(stray)
            killed += 1
        time.sleep(0.02)
        for stray in strays:  # only these: a child we still manage keeps its exit status for us
            try:
                os.waitpid(stray, os.WNOHANG)
            except ChildProcessError:
                pass
    return killed
