"""One submission's grading process: a fork of the warm runner that runs pytest on a scratch kit.

`start()` writes the submission's files and a fresh copy of the kit's tests, cassettes and
configuration into a scratch folder, forks, and returns the `Job`: the child dies with the runner
(parent-death signal; gone already, it exits), takes the worker user of its slot
(`embedlab.handle.users`), closes every other descriptor, writes its output to a log, and sends its
results.json up an inherited pipe (`--grade-fd`). `grade_once()` is the same for one run whose
results are read at once (the catalogue of every test; `embedlab watch`). The runner
(`embedlab.instructor.runner`) decides what the results are worth.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from embedlab.instructor.records import GradeSettings, Snapshot, Submission


@dataclass
class Job:
    submission: Submission
    scratch: Path
    pid: int
    results_fd: int
    deadline: float
    started: float
    data: bytearray = field(default_factory=bytearray)
    status: int | None = None
    eof: bool = False
    slot: int = 0


def start(submission: Submission, settings: GradeSettings, snapshot: Snapshot, scratch_root: Path, readonly: tuple, slot: int = 0) -> Job:
    scratch = Path(tempfile.mkdtemp(prefix="s-", dir=scratch_root))
    kit = scratch / "kit"
    snapshot.write(kit)
    exercises = scratch / "exercises"
    exercises.mkdir()
    for relative, data in submission.files.items():
        path = exercises / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    _make_package(exercises)
    log = scratch_root / f"{scratch.name}.log"
    results_r, results_w = os.pipe()
    arguments = [*_arguments(kit, exercises, settings, readonly), f"--grade-fd={results_w}"]
    started = time.monotonic()
    runner = os.getpid()
    pid = os.fork()
    if pid == 0:  # the submission's grading process
        try:
            os.close(results_r)
            _die_with(runner)
            os.environ[walls_slot_env()] = str(slot)
            _grade_here(arguments, kit, log, results_w)
        finally:
            os._exit(70)
    os.close(results_w)
    os.set_blocking(results_r, False)
    return Job(submission, scratch, pid, results_r, started + settings.timeout, started, slot=slot)


def _make_package(exercises: Path) -> None:
    """A regular package, whether or not the learner handed in its `__init__.py`: a folder without
    one is only a namespace portion, which any `exercises/` package on sys.path (the kit's stubs,
    when grading from the kit's folder with `python -m embedlab`) would take precedence over."""
    exercises.mkdir(exist_ok=True)
    if not (exercises / "__init__.py").exists():
        (exercises / "__init__.py").write_bytes(b"")


def _arguments(kit: Path, exercises: Path, settings: GradeSettings, readonly: tuple) -> list[str]:
    """pytest's arguments for grading `exercises` with the scratch kit `kit`, offline."""
    from embedlab.grading.arguments import grading_arguments

    return [*grading_arguments(kit, exercises, cassettes=settings.cassettes), f"--grade-timeout={settings.test_timeout}"]


def every_test(settings: GradeSettings, snapshot: Snapshot) -> dict | None:
    """Every grading test, as a run on no exercise files reports it: the list that a submission
    which timed out, crashed or sent nothing is given, each test at 0 of its points."""
    scratch = Path(tempfile.mkdtemp(prefix="embedlab-catalog-"))
    try:
        snapshot.write(scratch / "kit")
        _make_package(scratch / "exercises")
        arguments = _arguments(scratch / "kit", scratch / "exercises", settings, (*settings.readonly, scratch))
        return grade_once(scratch / "kit", arguments, timeout=max(60.0, settings.timeout))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def grade_once(kit: Path, arguments: list[str], timeout: float = 600.0) -> dict | None:
    """One grading run in a fork of this (warm) process: its results.json, or None if it broke."""
    from embedlab.handle import sweep

    results_r, results_w = os.pipe()
    runner = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(results_r)
            _die_with(runner)
            os.environ[walls_slot_env()] = os.environ.get(walls_slot_env()) or "999"  # not a running submission's user
            _grade_here([*arguments, f"--grade-fd={results_w}"], kit, Path(os.devnull), results_w)
        finally:
            os._exit(70)
    os.close(results_w)
    data = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([results_r], [], [], max(0.0, deadline - time.monotonic()))[0]:
                break
            chunk = os.read(results_r, 1 << 20)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(results_r)
        sweep.kill_tree(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return parse_results(bytes(data))


def walls_slot_env() -> str:
    from embedlab.handle import users

    return users.SLOT_ENV


def _die_with(runner: int) -> None:
    """A grading process ends with its runner: killed, the runner leaves no grader behind."""
    from embedlab.handle import sweep

    sweep.die_with_parent()
    if os.getppid() != runner:  # it went before we could ask
        os._exit(70)


def _grade_here(arguments: list[str], kit: Path, log: Path, results_fd: int) -> None:
    """In the submission's grading process: its own process group, output to a log, then pytest."""
    from embedlab.worker.start import close_other_fds

    os.setsid()  # killed as a group on timeout
    close_other_fds({0, 1, 2, results_fd})
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for fd in (output, devnull):
        os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - the process's stdio for its whole life, never closed
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115 - the process's stdio for its whole life, never closed
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.chdir(kit)
    for name in [n for n in sys.modules if n == "tests" or n.startswith("tests.")]:
        del sys.modules[name]  # the scratch copy's tests, not any other
    import pytest

    code = pytest.main(arguments)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def parse_results(data: bytes) -> dict | None:
    """The grading process's results.json, if it is one (a bad one costs only this row)."""
    try:
        results = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(results, dict) or not isinstance(results.get("tests"), list):
        return None
    if not all(isinstance(results.get(k), (int, float)) for k in ("score", "max_score")):
        return None
    return results
