"""The walls around the worker that runs a learner's code: who it runs as, what it may use, what it sees.

Applied in the worker right after it is forked, before any learner file is imported
(`embedlab.worker.start` calls them in this order):

- **its own session**, so the grading process can kill it and its children as one group;
- **another user** when the grader runs as root (Gradescope, containers): the worker drops to an
  unprivileged user and group (`EMBEDLAB_WORKER_USER`: a name or `uid:gid`; default
  `embedlab-worker`, which the Gradescope `setup.sh` creates, else `nobody`; `off` keeps root).
  It then cannot signal, ptrace or read `/proc/<pid>/fd` of the grader, nor write the interpreter,
  the venv or the kit. Only where that user can read the interpreter and the kit; else the run
  says why not;
- on Linux, where user namespaces are allowed, **namespaces**: user, mount, network and PID. Its
  network is a loopback that is down. In its mount namespace the kit, `sys.prefix`,
  `sys.base_prefix`, every folder on `sys.path` and every other mount are read-only, except the
  temporary folder and its own scratch folder; the cassettes and the reference solutions are
  hidden behind empty folders; a second user namespace locks those mounts. In its PID namespace
  the worker is init: it sees (in a fresh `/proc`) and can signal only itself and its children,
  and when it dies the kernel kills every process it left — that is the whole sweep;
- **hard limits** (soft and hard alike, so they cannot be raised again): address space
  (`MEMORY_LIMIT` above what the worker starts with), processes and threads (`PROCESS_LIMIT`),
  open files (`OPEN_FILES`), the size of any file written (`FILE_LIMIT`), no core files;
- where there are no namespaces: an audit hook, which no Python code can remove, refuses
  internet sockets and name lookups in the worker's own process and threads.

In the grading process: it is a *child subreaper* (Linux), so a process that the learner's code
detaches (double fork, setsid) is re-parented to it instead of to init, and `sweep()` kills every
descendant it does not manage, reading `/proc` once per round (linear in the processes; in
`embedlab.worker.sweep`). It is not dumpable, so a worker running as the same user cannot ptrace
it or open its `/proc/<pid>/fd`. Who the worker runs as is decided in `embedlab.worker.users`.

`describe()` / `isolated()` say which walls stood; with neither namespaces nor another user, the
run says so (results' `extra_data.isolation`; for instructors, the class CSV's flags and the
screen of `embedlab grade` and `autograde`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from pathlib import Path

from embedlab.worker.sweep import become_subreaper, children_of, descendants, kill_tree, process_table, sweep  # noqa: F401
from embedlab.worker.users import (  # noqa: F401 - the walls' one name for each
    SLOT_ENV,
    SLOT_UIDS,
    WORKER_USER_ENV,
    drop_user,
    unreachable,
    worker_needs,
    worker_user,
)

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space the learner's code may add
FILE_LIMIT = 64 * 1024**2  # the largest file the worker may write
PROCESS_LIMIT = 256  # processes and threads the worker's user may have (in its namespace)
OPEN_FILES = 256  # file descriptors the worker may hold
NO_NAMESPACES_ENV = "EMBEDLAB_NO_NAMESPACES"  # "1": the in-process walls only (as --no-sandbox)
PROCESS_LIMIT_ENV = "EMBEDLAB_WORKER_PROCESSES"

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
UNWALLED = ("/proc", "/sys", "/dev")  # mounts left as they are (devices, the kernel's views)


def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = _libc()
    return bool(libc) and libc.prctl(option, value, 0, 0, 0) == 0


# -- in the worker -------------------------------------------------------------------------------


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
    from embedlab.worker.sweep import _proc_entries as entries

    return entries()


def readonly_paths(extra: list[Path]) -> list[Path]:
    """What the grading process imports from, and the kit: read-only for the worker."""
    found = [Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)]
    found += [Path(p) for p in sys.path if p and os.path.isdir(p)]
    found += list(extra)
    unique: dict[str, Path] = {}
    for path in found:
        try:
            unique.setdefault(os.path.realpath(path), Path(os.path.realpath(path)))
        except OSError:
            pass
    return list(unique.values())


def enter_namespaces(readonly: list[Path], hidden: list[Path], writable: list[Path], empty: Path) -> str | None:
    """User, mount, network and PID namespaces for this (single-threaded) process, and its mounts.
    None when done, else why it could not be (nothing changed then). The PID namespace takes
    effect for the next child: `start` forks the worker's init right after."""
    if not sys.platform.startswith("linux"):
        return "namespaces are Linux only"
    libc = _libc()
    if libc is None:
        return "no C library found"
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) != 0:
        return f"unshare refused: {os.strerror(ctypes.get_errno())}"
    try:
        _map_ids(uid, gid)
        _mount(libc, None, "/", MS_REC | MS_PRIVATE)
        empty.mkdir(mode=0o500, exist_ok=True)
        for path in hidden:
            if _reachable_dir(path):  # one the worker cannot reach is hidden from it already
                _mount(libc, str(empty), str(path), MS_BIND)
        kept = []
        for path in writable:  # own mounts, so the read-only pass below leaves them writable
            if path.is_dir():
                _mount(libc, str(path), str(path), MS_BIND | MS_REC)
                kept.append(os.path.realpath(path))
        for point in _mount_points():
            if point in kept or any(point == u or point.startswith(u + "/") for u in UNWALLED):
                continue
            if any(point.startswith(k + "/") for k in kept):
                continue
            try:
                _mount(libc, None, point, MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(Path(point)))
            except OSError:
                if point == "/":
                    raise
        for path in readonly:
            if _reachable_dir(path):  # one the worker cannot reach, it cannot write either
                _mount(libc, str(path), str(path), MS_BIND | MS_REC)
                _mount(libc, None, str(path), MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(path))
    except OSError as err:
        os._exit(70)  # half-isolated is worse than none: the grading process sees this and says so
        raise AssertionError from err  # unreachable
    return None


def _reachable_dir(path: Path) -> bool:
    try:
        return path.is_dir() and os.access(path, os.X_OK)
    except OSError:
        return False


def inside_pid_namespace() -> str | None:
    """In the worker's init (pid 1 of its namespace): a /proc that shows only its own processes,
    then a second user namespace that locks every mount. None, or what could not be done."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    note = None
    if libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        note = f"the old /proc stays ({os.strerror(ctypes.get_errno())})"
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        os._exit(70)
    _map_ids(uid, gid)
    return note


def _map_ids(uid: int, gid: int) -> None:
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _mount(libc, source: str | None, target: str, flags: int) -> None:
    if libc.mount(source.encode() if source else None, target.encode(), None, flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _mount_points() -> list[str]:
    points = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ["/"]
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].encode().decode("unicode_escape")  # \040 for a space
            if point not in points:
                points.append(point)
    return points


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


def dumpable(on: bool) -> bool:
    """Off in the grader: a process of the same user can neither ptrace it nor open its /proc fds.
    Back on in the worker (a forked child inherits it), which must write its own uid_map."""
    return _prctl(PR_SET_DUMPABLE, 1 if on else 0)


def die_with_parent() -> bool:
    """SIGKILL when the parent goes (a grading process whose runner was killed)."""
    return _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# -- what the run says about its walls -----------------------------------------------------------


def describe(namespaces: str | None, user: str | None, why_no_user: str | None = None) -> str:
    """`extra_data.isolation`: "namespaces" (and ", user NAME"), "user NAME, no namespaces (why)",
    or "none: ..." when neither stood."""
    if namespaces is None:
        return "namespaces" + (f", user {user}" if user else "")
    if user:
        return f"user {user}, no namespaces ({namespaces})"
    return f"none: no namespaces ({namespaces}) and the grader's own user" + (f" ({why_no_user})" if why_no_user else "")


def isolated(isolation: str | None) -> bool:
    """Namespaces or another user stood between the learner's code and the grader."""
    return bool(isolation) and (isolation.startswith("namespaces") or isolation.startswith("user "))
