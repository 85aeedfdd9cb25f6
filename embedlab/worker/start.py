"""The worker's first moments: from the fork to the first learner import, its walls go up.

In order (see `embedlab.worker.walls` for what each wall keeps out): its own session, stdio on
the output pipe and every other descriptor closed, signals back to their defaults, no secrets in
the environment; then the unprivileged user (when the grader is root), the namespaces with their
read-only mounts, and — in a PID namespace — a fork: the forked process says its child's pid to
the grading process and exits, and the child, pid 1 of the new namespace, mounts its own `/proc`,
locks the mounts and becomes the worker. Then the hard limits, the in-process walls, and `ready`
with a sentence saying which walls stood.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from embedlab.worker import walls
from embedlab.worker import wire

SECRET_PREFIXES = ("OPENAI_", "EMBED_", "AZURE_OPENAI", "GITHUB_")
_exit = os._exit  # bound before any learner code runs: it cannot be patched away from the channel thread


def prepare(config: dict, keep_fds: tuple[int, ...], output_fd: int) -> str:
    """Everything between the fork and the first learner import. Returns how it is isolated."""
    if hasattr(os, "setsid"):
        os.setsid()
    walls.dumpable(True)  # the grader is not; the worker must be, to write its own uid_map
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    _close_other_fds({0, 1, 2, *keep_fds})
    sys.stdin = open(0, "r", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGALRM", "SIGHUP", "SIGPIPE", "SIGUSR1"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)

    for name in [k for k in os.environ if k.startswith(SECRET_PREFIXES) or k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")]:
        del os.environ[name]
    os.environ["EMBEDLAB_WORKER"] = "1"  # embedlab.common reads no .env here
    common = sys.modules.get("embedlab.common")
    if common is not None:
        common.EMBED_MODEL = None
    sys.dont_write_bytecode = True
    os.chdir(config["cwd"])

    user = config.get("user")  # [uid, gid, name] when the grader is root
    if user:
        walls.drop_user(int(user[0]), int(user[1]))
        walls.dumpable(True)  # a change of user turned it off again
        os.environ["HOME"] = config["cwd"]
    why = (config.get("why_off") or "turned off") if not config.get("isolate", True) else None
    note = None
    if why is None:
        why = walls.enter_namespaces(
            [Path(p) for p in config.get("readonly", [])],
            [Path(p) for p in config.get("hidden", [])],
            [Path(p) for p in config.get("writable", [])],
            Path(config["cwd"]) / ".hidden",
        )
        if why is None:
            note = _become_init(keep_fds[1])
            os.chdir(config["cwd"])  # again: the old working folder is on the old, now read-only, mount
    walls.limit_resources(config.get("processes"), fresh_namespace=why is None)
    if why is not None:
        walls.block_network_in_process()
    if config.get("block"):
        walls.block_imports(config["block"], "the grader does not let exercises import the reference solutions")
    directory = str(Path(config["directory"]).parent)
    sys.path[:] = [directory, *(p for p in sys.path if p not in ("", ".", directory))]
    for name in [n for n in sys.modules if n == config["package"] or n.startswith(config["package"] + ".")]:
        del sys.modules[name]
    isolation = walls.describe(why, user[2] if user else None, config.get("why_no_user"))
    return isolation + (f"; {note}" if note else "")


def _become_init(channel_out: int) -> str | None:
    """Fork into the new PID namespace: the parent says the child's pid and exits; the child,
    pid 1 there, waits until its parent is gone (so it is the grading process's child), then
    mounts its /proc and locks its mounts."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(ready_r)
        try:
            wire.send(channel_out, {"op": "init", "pid": pid})
        finally:
            _exit(0)
    os.close(ready_w)
    while os.read(ready_r, 1):
        pass
    os.close(ready_r)
    return walls.inside_pid_namespace()


def _close_other_fds(keep: set[int]) -> None:
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


def run(channel_in: int, channel_out: int, output_fd: int, config: dict) -> None:
    """The worker's whole life, in a freshly forked child. Never returns."""
    code = 0
    try:
        isolation = prepare(config, (channel_in, channel_out), output_fd)
        import numpy  # noqa: F401 - warm up before saying ready: the grading process may not have these
        import openai.resources.embeddings  # noqa: F401

        from embedlab.worker.inside import Worker

        worker = Worker(channel_in, channel_out, config)
        worker.send({"op": "ready", "pid": os.getpid(), "isolation": isolation})
        worker.serve()
    except BaseException:  # noqa: BLE001
        code = 71
    finally:
        _exit(code)


def main() -> None:
    """`python -m embedlab.worker`, where there is no fork: the channel is stdin/stdout, the
    configuration its first message."""
    channel_in, channel_out = os.dup(0), os.dup(1)
    output = os.dup(2)
    config = wire.Reader(channel_in).blocking_frame() or {}
    run(channel_in, channel_out, output, config)
