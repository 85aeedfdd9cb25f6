"""The worker's first moments: from its exec to the first learner import, its walls go up.

The grading process execs `python -I -B -m embedlab.worker` (inside bubblewrap's namespaces where
they stand: `embedlab.handle.sandbox`), with an environment built from an allow-list: a fresh
interpreter, never a fork of a process that has seen secrets or other submissions. Its channel
is stdin (calls) and stdout (replies); stderr takes what it prints. The configuration is the
first frame.

In order: another user (`--user UID:GID`, when the grader is root: before anything else), its
own session, stdio on the output pipe and every other descriptor closed, signals back to their
defaults; the hard limits; Landlock and seccomp (`embedlab.worker.kernel`); then numpy and openai
are imported and `ready` says which walls stood, for the grading process to check against its
plan.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from embedlab import wire
from embedlab.worker import kernel, limits

_exit = os._exit  # bound before any learner code runs: it cannot be patched away from the channel thread
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full")


def prepare(config: wire.WorkerConfig, keep_fds: tuple[int, ...], output_fd: int) -> tuple[str, dict]:
    """Everything between the exec and the first learner import: how it is isolated, what stood."""
    if hasattr(os, "setsid"):
        try:
            os.setsid()
        except OSError:
            pass  # a session leader already (bubblewrap's --new-session, or start_new_session)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    close_other_fds({0, 1, 2, *keep_fds})
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's stdio for its whole life, never closed
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115 - the process's stdio for its whole life, never closed
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115 - the process's stdio for its whole life, never closed
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGALRM", "SIGHUP", "SIGPIPE", "SIGUSR1"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.dont_write_bytecode = True
    scratch = config.cwd
    os.chdir(scratch)
    os.makedirs(os.environ.get("TMPDIR") or os.path.join(scratch, "tmp"), exist_ok=True)

    namespaces = config.namespaces
    limits.limit_resources(fresh_namespace=config.userns)
    read = [*config.readonly, *DEVICES, "/proc" if namespaces else "/proc/self", "/sys/devices/system/cpu"]
    write = [scratch, "/dev/null", *(["/tmp", "/dev/shm"] if namespaces else [])]
    stood = kernel.raise_walls(read, write, config.landlock, config.seccomp)
    if not namespaces:
        limits.block_network_in_process()
    if config.block:
        limits.block_imports(config.block, "the grader does not let exercises import the reference solutions")
    directory = str(Path(config.directory).parent)
    sys.path[:] = [directory, *(p for p in sys.path if p not in ("", ".", directory))]
    for name in [n for n in sys.modules if n == config.package or n.startswith(config.package + ".")]:
        del sys.modules[name]
    return config.isolation, stood


def close_other_fds(keep: set[int]) -> None:
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 256))
    for fd in open_fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def run(channel_in: int, channel_out: int, output_fd: int, frame: dict) -> None:
    """The worker's whole life, from its configuration's frame. Never returns."""
    code = 0
    try:
        config = wire.WorkerConfig.from_frame(frame)
        isolation, stood = prepare(config, (channel_in, channel_out), output_fd)
        import numpy  # noqa: F401 - warm up before saying ready
        import openai.resources.embeddings  # noqa: F401 - the same warm-up

        from embedlab.worker.inside import Worker

        worker = Worker(channel_in, channel_out, config)
        worker.send({"op": "ready", "pid": os.getpid(), "isolation": isolation, "stood": stood})
        worker.serve()
    except BaseException:  # noqa: BLE001 - whatever ends the worker, it exits with 71
        code = 71
    finally:
        _exit(code)


def main() -> None:
    """`python -I -B -m embedlab.worker [--user UID:GID]`."""
    if "--user" in sys.argv:  # first of all: no learner code, no configuration, is read as root
        uid, _, gid = sys.argv[sys.argv.index("--user") + 1].partition(":")
        limits.drop_user(int(uid), int(gid))
    channel_in, channel_out = os.dup(0), os.dup(1)
    output = os.dup(2)
    frame = wire.Reader(channel_in).blocking_frame() or {}
    run(channel_in, channel_out, output, frame)
