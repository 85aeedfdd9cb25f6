"""The sweep: every process the learner's code left behind is killed, reading /proc once a round;
and the scratch folders of graders that were killed (`scratch_folder`) are removed.

In the grading process, which is a child subreaper (`become_subreaper()`): whatever a worker
detaches (a double fork, setsid) is re-parented to it, so `sweep()` finds every stray among its
descendants. Each round reads /proc once (`process_table()`), stops every stray at once (no new
children meanwhile), then kills them: linear in the processes, where a scan per stray was
quadratic. Where the worker has a PID namespace, its init's death already ended them all. Part of
the walls (`embedlab.handle.sandbox`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import stat
import sys
import tempfile
import time
from pathlib import Path

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36


def _proc_entries() -> list[str]:
    try:
        return [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name, use_errno=True) if name else None
    return libc is not None and libc.prctl(option, value, 0, 0, 0) == 0


def become_subreaper() -> bool:
    """Orphans of our descendants come to us instead of init (Linux); True if it took."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def dumpable(on: bool) -> bool:
    """Off in the grader: a process of the same user can neither ptrace it nor open its /proc fds.
    Back on in the worker (a forked child inherits it), which must write its own uid_map."""
    return _prctl(PR_SET_DUMPABLE, 1 if on else 0)


def die_with_parent() -> bool:
    """SIGKILL when the parent goes (a grading process whose runner was killed)."""

    return _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def process_table(zombies: bool = False) -> dict[int, int]:
    """pid -> parent pid of every process this one can see (not the dead, unless asked), read
    from /proc once."""
    table = {}
    for entry in _proc_entries():
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 1 and (zombies or fields[0] not in (b"Z", b"X")):
            table[int(entry)] = int(fields[1])
    return table


def descendants(table: dict[int, int], roots: set[int]) -> list[int]:
    """Every process below `roots` in `table` (linear: one pass to index children)."""
    children: dict[int, list[int]] = {}
    for pid, parent in table.items():
        children.setdefault(parent, []).append(pid)
    found, frontier = [], list(roots)
    seen = set(roots)
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, ()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                frontier.append(child)
    return found


def children_of(pid: int) -> list[int]:
    return [p for p, parent in process_table().items() if parent == pid]


def _signal_all(victims, number: int) -> None:
    for victim in victims:
        try:
            os.kill(victim, number)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def kill_tree(pid: int, rounds: int = 5) -> None:
    """SIGKILL a process, its group and every descendant (stopped first, so none forks meanwhile)."""
    for _ in range(rounds):
        victims = [pid, *descendants(process_table(), {pid})]
        _signal_all(victims, signal.SIGSTOP)
        victims = list(dict.fromkeys([*victims, *descendants(process_table(), {pid})]))
        _signal_all(victims, signal.SIGKILL)
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
        if len(victims) <= 1:
            return


def sweep(keep: frozenset[int] | set[int] = frozenset(), rounds: int = 20) -> int:
    """Kill every descendant of this process not in `keep` (nor below one) and reap them; how many.
    Each round reads /proc once and signals every stray at once."""
    me, killed = os.getpid(), 0
    for _ in range(rounds):
        table = process_table()
        kept = set(keep) | set(descendants(table, set(keep)))
        strays = [p for p in descendants(table, {me}) if p not in kept]
        if not strays:
            break
        _signal_all(strays, signal.SIGSTOP)
        table = process_table()
        kept = set(keep) | set(descendants(table, set(keep)))
        strays = list(dict.fromkeys([*strays, *(p for p in descendants(table, {me}) if p not in kept)]))
        _signal_all(strays, signal.SIGKILL)
        killed += len(strays)
        time.sleep(0.01)
        _reap(keep)
    _reap(keep)
    return killed


def _reap(keep) -> None:
    """Collect the exit status of our direct children that are strays (not the ones we manage)."""
    me = os.getpid()
    for pid, parent in process_table(zombies=True).items():
        if parent == me and pid not in keep:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def scratch_folder(prefix: str) -> Path:
    """A new private folder in the temporary directory, named for this process (`{prefix}{pid}-…`),
    after removing this prefix's folders whose process is gone: a SIGKILL leaves no time to clean."""
    root = Path(tempfile.gettempdir())
    for path in root.glob(f"{prefix}*-*"):
        pid = path.name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and (info.st_uid == os.getuid() or os.getuid() == 0):  # never a link
            remove_folder(path)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


SCRATCH_SIZE = 256 * 1024**2  # bytes of a worker's scratch folder where the grader is root (a tmpfs)


def cap_folder(path: Path, size: int = SCRATCH_SIZE) -> bool:
    """As root on Linux: `path` becomes a tmpfs of at most `size` bytes, the disk a submission may
    fill; True if it is one now. `remove_folder()` unmounts and removes it."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    import ctypes

    options = f"size={size},nr_inodes=50000,mode=0700".encode()
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 2 | 4, options) == 0  # nosuid, nodev


def remove_folder(path: Path) -> None:
    """A scratch folder, gone: its tmpfs unmounted first (lazily), then what is left removed."""
    if sys.platform.startswith("linux") and os.path.ismount(path):
        import ctypes

        ctypes.CDLL(None, use_errno=True).umount2(os.fsencode(path), 2)  # MNT_DETACH
    shutil.rmtree(path, ignore_errors=True)


def cpu_seconds(top: int) -> float:
    """CPU time `top` and every process below it have used, as the kernel counts it: on-CPU
    nanoseconds of each live thread (schedstat), plus what their reaped children used. A clock no
    process can move, and one a busy neighbour does not advance (time waiting for a core is not
    counted). Follows /proc/<pid>/task/<tid>/children, a few reads, not the whole process table."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, todo = 0.0, [top]
    seen: set[int] = set()
    while todo and len(seen) < 4096:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[13]) + int(stat[14])) / ticks  # cutime, cstime: its reaped children
            for task in os.listdir(f"/proc/{pid}/task"):
                try:
                    total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0]) / 1e9
                    todo += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
                except (OSError, ValueError, IndexError):
                    pass
        except (OSError, ValueError, IndexError):
            continue
    return total


class Replaced(Exception):
    """What the grader had just made was not there any more when it looked (a link instead?)."""


def folder_inside(scratch: Path, name: str) -> Path:
    """A new empty folder `name-…` in a worker's scratch, owned as the scratch is. Never by path:
    the worker owns its scratch and could put a link where the folder was, and root's chown of
    that link would hand any file of the host to it; made, opened (following no link) and
    chowned through one descriptor."""
    import secrets

    info = scratch.stat()
    child = f"{name}-{secrets.token_hex(6)}"
    parent = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.mkdir(child, 0o700, dir_fd=parent)
        try:
            made = os.open(child, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except OSError:
            raise Replaced(child) from None
        try:
            if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()) and os.fstat(made).st_uid == os.getuid():
                os.fchown(made, info.st_uid, info.st_gid)  # the worker's own user, as its scratch folder
        finally:
            os.close(made)
    finally:
        os.close(parent)
    return scratch / child
