"""The walls the worker raises on itself from the kernel's unprivileged layers: Landlock, seccomp.

They run in the learner's process, after its interpreter started and before the first learner
import, in its main thread while it is the only one (the worker runs BLAS on one thread), so every
thread and process the learner's code makes inherits them; neither can be lifted again.

- **Landlock**, through the `landlock` package for the files: read (and execute) only beneath the
  folders the worker was given, write only beneath its scratch. The package's ruleset knows only
  files (ABI <= 5), so a second Landlock layer of its own, made with the same three system calls,
  turns off TCP bind and connect (ABI >= 4) and scopes signals and abstract unix sockets to the
  worker (ABI >= 6): it cannot signal the grader or a classmate's worker, nor reach a socket of
  theirs.
- **seccomp**, through `pyseccomp` (libseccomp): no socket but AF_UNIX (pairs: nothing to
  connect to, as connect, bind and sendmsg are refused, and sendto only without an address), no
  ptrace or process_vm_readv/writev, no new namespaces, no mount, no bpf, perf, io_uring, keyring
  or module loading. Every thread is bound (TSYNC).

`raise_walls()` reports what stood, for the grading process to compare with its plan. Imports
nothing of the grading side.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
PR_SET_NO_NEW_PRIVS = 38
AF_UNIX = 1

DENIED = (  # system calls no learner code needs, each a way out of the walls
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree", "fsopen", "fsmount", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "name_to_handle_at", "open_by_handle_at", "personality",
    "connect", "bind", "listen", "accept", "accept4", "sendmsg", "sendmmsg", "socketcall",
    "msgget", "msgsnd", "msgrcv", "msgctl", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
    "inotify_init", "inotify_init1", "inotify_add_watch", "fanotify_init", "fanotify_mark",
)  # fmt: skip
# As root (only by --allow-root-worker, without namespaces) uid 0 still owns root's files, which
# Landlock does not guard against metadata changes, and no process limit binds it: refused too.
AS_ROOT_DENIED = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime", "utimes", "utimensat", "futimesat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "fork", "vfork", "mknod", "mknodat",
    "setpriority", "sched_setscheduler", "sched_setattr", "ioprio_set", "settimeofday", "clock_settime", "adjtimex", "sethostname",
)  # fmt: skip
CLONE_THREAD = 0x00010000
# clone() flags of a new user, mount, network, PID, IPC, UTS or cgroup namespace
NAMESPACE_FLAGS = (0x10000000, 0x00020000, 0x40000000, 0x20000000, 0x08000000, 0x04000000, 0x02000000)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where there is none."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def landlock_missing() -> str:
    if not sys.platform.startswith("linux"):
        return "Landlock is Linux only"
    return f"no Landlock in this kernel ({os.uname().release}) or it is turned off"


def seccomp_missing() -> str | None:
    """None if a seccomp filter can be loaded here, else why not."""
    if not sys.platform.startswith("linux"):
        return "seccomp is Linux only"
    try:
        import pyseccomp

        pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    except Exception as err:  # noqa: BLE001 - no package, no libseccomp
        return f"pyseccomp or libseccomp is missing ({type(err).__name__}: {str(err)[:100]})"
    return None


def raise_walls(read: list[str], write: list[str], want_landlock: int, want_seccomp: bool) -> dict:
    """Landlock, then seccomp, on this process for good. What stood, for the grading process."""
    stood: dict = {"landlock": 0, "seccomp": False, "uid0": os.geteuid() == 0}
    if os.geteuid() == 0:  # root only by the instructor's flag: root's powers go, its uid stays
        stood["capabilities"] = _drop_capabilities()
    if want_landlock:
        try:
            have = landlock_abi()
            _landlock(read, write, min(have, want_landlock))
            stood["landlock"] = min(have, want_landlock)  # fewer than planned: the grading process refuses it
        except Exception as err:  # noqa: BLE001 - reported: the grading process refuses the worker
            stood["landlock_error"] = f"{type(err).__name__}: {str(err)[:200]}"
    if want_seccomp:
        try:
            _seccomp()
            stood["seccomp"] = True
        except Exception as err:  # noqa: BLE001 - the library's own failure is reported as a wall that did not stand
            stood["seccomp_error"] = f"{type(err).__name__}: {str(err)[:200]}"
    return stood


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> bool:
    """Every capability, from the bounding set and then from this process: uid 0 without root's
    powers (no chown, no kill of others, no reading what is not world-readable)."""
    libc = _libc()
    for number in range(64):
        libc.prctl(24, number, 0, 0, 0)  # PR_CAPBSET_DROP; past the last capability it fails, harmlessly
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    done = libc.capset(ctypes.byref(header), data) == 0
    ctypes.set_errno(0)
    return done


def _landlock(read: list[str], write: list[str], abi: int) -> None:
    import landlock
    from landlock.plumbing import FSAccess

    ctypes.set_errno(0)  # the package takes a stale errno for its own call's failure

    every = FSAccess.all()
    ruleset = landlock.Ruleset(restrict_rules=every)
    reading = FSAccess.READ_FILE | FSAccess.READ_DIR | FSAccess.EXECUTE
    for path in read:
        if os.path.exists(path):
            ruleset.allow(path, rules=reading if os.path.isdir(path) else FSAccess.READ_FILE | FSAccess.EXECUTE)
    for path in write:
        if os.path.isdir(path):
            ruleset.allow(path, rules=every)
        elif os.path.exists(path):  # a device such as /dev/null
            ruleset.allow(path, rules=FSAccess.READ_FILE | FSAccess.WRITE_FILE | (FSAccess.TRUNCATE if abi >= 3 else 0))
    ruleset.apply()  # sets no_new_privs first
    os.close(ruleset._fd)  # the package keeps its ruleset open: no descriptor of it is left to the learner
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    if net or scoped:
        libc = _libc()
        attr = _RulesetAttr(0, net, scoped)
        size = ctypes.sizeof(attr) if abi >= 6 else 16
        fd = libc.syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        if fd < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset (network and scopes)")
        try:
            if libc.syscall(LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
                raise OSError(ctypes.get_errno(), "landlock_restrict_self (network and scopes)")
        finally:
            os.close(fd)


def _seccomp() -> None:
    import pyseccomp as sc

    refused = sc.ERRNO(errno.EPERM)
    rules = sc.SyscallFilter(sc.ALLOW)
    rules.set_attr(sc.Attr.CTL_TSYNC, 1)
    for name in DENIED:
        try:
            rules.add_rule(refused, name)
        except (OSError, ValueError, RuntimeError):
            pass  # a call this architecture does not have
    rules.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    rules.add_rule(refused, "sendto", sc.Arg(4, sc.NE, 0))  # only on a connected socket (a pair)
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(refused, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # its flags are behind a pointer: the C library falls back to clone
    rules.add_rule(refused, "ioctl", sc.Arg(1, sc.EQ, 0x5412))  # TIOCSTI: no typing into a terminal
    if os.geteuid() == 0:
        for name in AS_ROOT_DENIED:
            try:
                rules.add_rule(refused, name)
            except (OSError, ValueError, RuntimeError):
                pass
        rules.add_rule(refused, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))  # threads only: no new process
    rules.load()
