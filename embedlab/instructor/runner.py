"""`embedlab grade`'s runner: each submission graded in a process of its own, `jobs` at a time.

Each grading process (`embedlab.instructor.grading_process`) is a fork of this warm process (numpy, openai, vcrpy, pytest and the grader
already imported, so it never reads the grader's code from disk again), runs pytest on a fresh
scratch copy of the kit, and sends its results.json up an inherited pipe. They are accepted only
from a grading process that exited by itself with the status its results imply (0 when every
scored test passed, 1 otherwise): a process that was killed, or whose pipe someone else wrote
into, leaves a row that says so, never its results. A grading process dies with the runner
(parent-death signal), and the runner writes each finished row, and its results file, at once
(`Rows`), so a runner that is killed leaves what it graded.

The learner's code runs in each grading process's worker, behind its walls
(`embedlab.handle.sandbox`): its own PID namespace, or an unprivileged user when the runner is
root, so no submission can see or signal another's processes or the runner. Whatever a
submission leaves behind is swept (the runner is their child subreaper) with one read of /proc
per round.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from embedlab.handle.learner import NO_SPARE_ENV
from embedlab.instructor.gradebook import Progress, results_json, write_gradebook
from embedlab.instructor.grading_process import Job, parse_results, start
from embedlab.instructor.records import Graded, GradeSettings, Snapshot, Submission

OUTPUT_FLAGGED = 1024 * 1024  # printing more than this is flagged
RESULTS_CAP = 32 * 1024 * 1024  # bytes of results accepted from one grading process


# Imported once here, so every submission's grading process is a fork that starts warm — and
# never reads the grader's code from disk again, where a submission could have changed it. The
# libraries a grading run also loads lazily (numpy, yaml, httpx2, vcr, …) are listed once, in
# `embedlab.grading.preload`, which `prepare_grader` imports right after these.
PRELOAD = [
    "openai", "pytest", "_pytest.python", "_pytest.terminal",
    "_pytest.assertion.rewrite", "embedlab.grading.plugin", "embedlab.grading.endpoint", "embedlab.grading.cassettes", "embedlab.grading.live",
    "embedlab.grading.network", "embedlab.grading.report", "embedlab.grading.outcomes", "embedlab.grading.session",
    "embedlab.grading.fixtures", "embedlab.grading.preload", "embedlab.grading.arguments", "embedlab.handle.learner", "embedlab.worker.inside",
    "embedlab.handle.process", "embedlab.worker.start", "embedlab.worker.limits", "embedlab.wire", "embedlab.section",
    "embedlab.course", "embedlab.common", "embedlab.testing",
]  # fmt: skip
SECRET_PREFIXES = ("OPENAI_", "EMBED_", "GITHUB_", "AZURE_OPENAI")


def decide_walls(command: str, *, no_sandbox: bool = False, allow_root: bool = False) -> str | None:
    """The walls of this whole run, decided once here before any submission is read into a
    grading process, printed, and handed to every grading process as theirs. The sentence that
    refuses the run, or None."""
    from embedlab.handle import sandbox

    if allow_root:
        os.environ[sandbox.ALLOW_ROOT_ENV] = "1"
    plan = sandbox.plan(no_namespaces=no_sandbox)
    print(plan.table(), file=sys.stderr)
    if plan.refused:
        return f"embedlab {command}: will not grade here: {plan.refused}"
    sandbox.export(plan)
    return None


def prepare_grader() -> None:
    """This process, before any submission: warm imports, no secrets, orphans come back to us."""
    from embedlab.handle import sweep

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from embedlab.grading import preload

    preload.everything()  # and what a grading process would import lazily (numpy.random)
    for name in [k for k in os.environ if k.startswith(SECRET_PREFIXES)]:
        del os.environ[name]  # no submission sees a key
    common = sys.modules.get("embedlab.common")
    if common is not None:
        common.EMBED_MODEL = None
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # `jobs` processes share the cores; no thread pools on top
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.dont_write_bytecode = True
    sweep.become_subreaper()
    sweep.dumpable(False)  # a worker of our own user can neither ptrace us nor open our /proc fds


def grade_all(
    submissions: list[Submission],
    settings: GradeSettings,
    snapshot: Snapshot,
    *,
    jobs: int,
    progress: Progress | None = None,
    on_done: Callable[[Graded], None] | None = None,
) -> list[Graded]:
    """Grade every submission, `jobs` at a time, each in its own process with a deadline;
    `on_done(row)` as soon as each is finished."""
    from embedlab.handle import sandbox, sweep

    prepare_grader()
    if jobs >= (os.cpu_count() or 1):  # no core to spare: a worker warmed ahead would only compete
        os.environ[NO_SPARE_ENV] = "1"
    scratch_root = sweep.scratch_folder("embedlab-grade-")  # and those of killed runs go
    readonly = (*settings.readonly, scratch_root)
    pending, graded = list(reversed(submissions)), {}
    running: list[Job] = []
    slots = list(range(jobs))  # one worker user per submission graded at the same time (see users.worker_user)
    reported: list[str] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                submission = pending.pop()
                if submission.empty:
                    done = Graded(submission.name, "empty", flags=list(submission.flags), reason="no exercise files found")
                    graded[submission.name] = done
                    if on_done:
                        on_done(done)
                    if progress:
                        progress.step(done)
                    continue
                running.append(start(submission, settings, snapshot, scratch_root, readonly, slots.pop(0)))
            if not running:
                continue
            _wait(running)
            for job in list(running):
                timed_out = time.monotonic() >= job.deadline
                if not (job.eof and job.status is not None) and not timed_out:
                    continue
                running.remove(job)
                slots.append(job.slot)
                slots.sort()
                done = _finish(job, settings, timed_out)
                graded[job.submission.name] = done
                sweep.sweep(keep={j.pid for j in running})  # whatever the finished one left behind
                isolation = (done.results or {}).get("extra_data", {}).get("isolation")
                if done.results is not None and not sandbox.isolated(isolation):
                    done.flags.append(f"not isolated: {str(isolation)[:200]}")
                changed = [] if sandbox.isolated(isolation) else snapshot.changes()  # isolated: the kit was read-only to it
                if changed and changed != reported:
                    note = f"the kit's files changed while it was graded ({', '.join(changed[:3])}): check them"
                    done.flags.append(note)
                    for other in running:  # it may have been one of these
                        other.submission.flags.append(note)
                    reported = changed
                if on_done:
                    on_done(done)
                if progress:
                    progress.step(done)
    finally:
        for job in running:
            sweep.kill_tree(job.pid)
        sweep.sweep()
        shutil.rmtree(scratch_root, ignore_errors=True)
    return [graded[s.name] for s in submissions]


def _wait(running: list[Job]) -> None:
    """Read whatever the grading processes sent, until one finishes or a deadline comes."""
    nearest = min(job.deadline for job in running)
    open_fds = [job.results_fd for job in running if not job.eof]
    timeout = max(0.0, min(nearest - time.monotonic(), 0.2))
    readable = select.select(open_fds, [], [], timeout)[0] if open_fds else (time.sleep(timeout) or [])
    for job in running:
        if job.results_fd in readable:
            while True:
                try:
                    chunk = os.read(job.results_fd, 1 << 20)
                except BlockingIOError:
                    break
                except OSError:
                    chunk = b""
                if not chunk:
                    job.eof = True
                    break
                if len(job.data) < RESULTS_CAP:
                    job.data += chunk
        if job.status is None:
            try:
                pid, status = os.waitpid(job.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = job.pid, -1
            if pid == job.pid:
                job.status = status


def _finish(job: Job, settings: GradeSettings, timed_out: bool) -> Graded:
    from embedlab.handle import sweep

    if job.status is None:
        sweep.kill_tree(job.pid)
        try:
            _, job.status = os.waitpid(job.pid, 0)
        except ChildProcessError:
            job.status = -1  # not ours to know: its results are not accepted
    os.close(job.results_fd)
    one = Graded(job.submission.name, "graded", flags=list(job.submission.flags), seconds=time.monotonic() - job.started)
    log = job.scratch.parent / f"{job.scratch.name}.log"
    try:
        if timed_out:
            one.status, one.reason = "timeout", f"stopped after {settings.timeout:g} s"
            return one
        results = parse_results(bytes(job.data))
        if results is None:
            one.status = "error" if job.data else "crashed"
            tail = _last_lines(_tail(log))
            one.reason = ("the grading process sent unreadable results" if job.data else "") or tail or f"the grading process ended ({job.status})"
            return one
        if not exited_as_it_says(results, job.status):
            one.status = "error"
            one.reason = f"the grading process did not end by itself as its results say ({_ended(job.status)}): they were not accepted"
            return one
        one.results = results
        one.score, one.max_score = float(results["score"]), float(results["max_score"])
        one.exercises = {
            name: float(info.get("score", 0))
            for name, info in results.get("extra_data", {}).get("exercises", {}).items()
            if isinstance(info, dict) and not info.get("live")
        }
        printed = results.get("extra_data", {}).get("printed_bytes", 0)
        if isinstance(printed, (int, float)) and printed > OUTPUT_FLAGGED:
            one.flags.append(f"printed {printed / 1e6:.1f} MB")
        one.reason = _first_problem(results)
        return one
    finally:
        shutil.rmtree(job.scratch, ignore_errors=True)
        log.unlink(missing_ok=True)


def exited_as_it_says(results: dict, status: int | None) -> bool:
    """Results count only from a grading process that exited by itself with pytest's status for
    them: 0 when every scored test passed, 1 otherwise (a killed one, or a pipe someone else wrote
    into, never)."""
    if status is None or status < 0 or not os.WIFEXITED(status):
        return False
    code = os.WEXITSTATUS(status)
    scored = [t for t in results["tests"] if isinstance(t, dict) and isinstance(t.get("max_score"), (int, float)) and t["max_score"] > 0]
    passed = all(t.get("status") == "passed" for t in scored)
    return (code == 0 and passed) or (code == 1 and not passed)


def _ended(status: int | None) -> str:
    from embedlab.handle.process import describe_status

    return "its status is unknown" if status is None or status < 0 else describe_status(status)


def _tail(path: Path, size: int = 64 * 1024) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _first_problem(results: dict) -> str:
    for test in results.get("tests", []):
        if not isinstance(test, dict):
            continue
        status = test.get("extra_data", {}).get("embedlab_status")
        if status in ("failed", "not started") and "live" not in test.get("tags", []):
            return f"{test.get('name')}: {str(test.get('output', '')).splitlines()[0][:160] if test.get('output') else ''}"
    return ""


def _last_lines(output: str, count: int = 3) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])[:300]


class Rows:
    """Each finished row goes to the gradebook and its results file at once, so a runner that is
    killed leaves what it graded (in the order it finished; the final gradebook is in the class's)."""

    def __init__(self, out: Path, results_dir: Path, names: dict[str, str], every_test: Callable[[], dict | None]) -> None:
        self.out, self.results_dir, self.names = out, results_dir, names
        self._catalog, self._every_test, self._asked = every_test, None, False
        self.done: list[Graded] = []

    def every_test(self) -> dict | None:
        if not self._asked:
            self._asked, self._every_test = True, self._catalog()
        return self._every_test

    def add(self, one: Graded) -> None:
        data = results_json(one, self.every_test() if one.results is None else None)
        one.max_score = one.max_score or float(data.get("max_score") or 0)
        _write_now(self.results_dir / self.names[one.name], (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        self.done.append(one)
        partial = self.out.with_name(f".{self.out.name}.partial")
        write_gradebook(partial, self.done)
        os.replace(partial, self.out)


def _write_now(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
