"""Grade a whole class offline: `embedlab grade SUBMISSIONS --out grades.csv [--jobs N] [--timeout S]`.

Each folder in SUBMISSIONS is one learner's work: their `exercises/` folder, or a full copy of the
kit, or just the exercise files. Each is graded with *your* tests and cassettes — never the
submission's copies — offline, in its own process with a time limit, from a scratch copy of its
exercise files. One submission that hangs, crashes, exits or prints without end gets its own grade
and a reason; the rest of the class is graded regardless.

This is isolation against accidents, not a sandbox against a hostile student: the code runs with
your user's rights.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

EXERCISE_FILES = ("embed.py", "similarity.py", "challenges.py")
EXERCISES = ("embed", "cosine", "rank", "confirm_intuition", "self_similarity", "batch_vs_loop")
IMPORTS_SOLUTIONS = re.compile(r"^\s*(from\s+solutions\b|import\s+solutions\b)", re.MULTILINE)
OUTPUT_KEPT = 64 * 1024  # the tail of a submission's output read for the reason column
OUTPUT_FLAGGED = 1024 * 1024  # more than this is flagged


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="a folder with one sub-folder per submission")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the gradebook CSV (default: grades.csv)")
    parser.add_argument("--results", type=Path, help="where each submission's results.json goes (default: next to --out)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: one per core)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one submission may take in all (default 120)")
    parser.add_argument("--test-timeout", type=float, default=5.0, help="seconds one test may take (default 5)")
    parser.add_argument("--cassettes", metavar="NAME", help="the cassette set to grade against (default: the kit's)")


@dataclass
class Submission:
    name: str
    folder: Path
    exercises: Path | None  # the folder holding its exercise files, if it has any
    flags: list[str] = field(default_factory=list)


@dataclass
class Graded:
    name: str
    status: str  # graded | timeout | crashed | empty
    score: float = 0.0
    max_score: float = 0.0
    exercises: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0
    results: dict | None = None


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    root = kit.find_root()
    if not args.submissions.is_dir():
        print(f"embedlab grade: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    submissions = find_submissions(args.submissions, root)
    if not submissions:
        print(f"embedlab grade: no submissions in {args.submissions}", file=sys.stderr)
        return 2
    results_dir = args.results or args.out.with_name(args.out.stem + "-results")
    results_dir.mkdir(parents=True, exist_ok=True)
    settings = GradeSettings(root, args.cassettes, args.timeout, args.test_timeout)
    graded = grade_all(submissions, settings, jobs=max(1, args.jobs), progress=Progress(len(submissions)))
    write_gradebook(args.out, graded)
    for one in graded:
        (results_dir / f"{_safe(one.name)}.json").write_text(json.dumps(results_json(one), indent=2) + "\n", encoding="utf-8")
    print(summary(graded, args.out, results_dir))
    return 0


def find_submissions(folder: Path, kit_root: Path) -> list[Submission]:
    found = []
    for entry in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        exercises = entry / "exercises" if (entry / "exercises").is_dir() else entry
        if not any((exercises / name).is_file() for name in EXERCISE_FILES):
            exercises = None
        submission = Submission(entry.name, entry, exercises)
        submission.flags.extend(inspect(submission, kit_root))
        found.append(submission)
    return found


def inspect(submission: Submission, kit_root: Path) -> list[str]:
    """Integrity flags, read from the files: imports of the solutions, edited copies of the tests."""
    flags = []
    if submission.exercises is not None:
        for path in sorted(submission.exercises.rglob("*.py")):
            if IMPORTS_SOLUTIONS.search(path.read_text(encoding="utf-8", errors="replace")):
                flags.append(f"imports solutions ({path.relative_to(submission.folder)})")
                break
    theirs = submission.folder / "tests"
    if theirs.is_dir():
        edited = [
            p.name
            for p in sorted(theirs.glob("*.py"))
            if not (kit_root / "tests" / p.name).is_file() or _sha256(p) != _sha256(kit_root / "tests" / p.name)
        ]
        if edited:
            flags.append(f"ships edited tests ({', '.join(edited)}; graded with yours)")
    return flags


@dataclass(frozen=True)
class GradeSettings:
    kit_root: Path
    cassettes: str | None
    timeout: float
    test_timeout: float


# Imported once by the fork server, so each submission's process starts warm: a fresh interpreter
# would spend most of a grading run importing these. Nothing of embedlab.common (it reads .env).
PRELOAD = ["numpy", "yaml", "httpx2", "openai", "vcr", "pytest", "_pytest.python", "_pytest.terminal", "embedlab.plugin"]
SECRET_PREFIXES = ("OPENAI_", "EMBED_", "GITHUB_")
FILE_LIMIT = 256 * 1024 * 1024  # no submission fills the disk


@dataclass
class _Job:
    submission: Submission
    scratch: Path
    process: multiprocessing.process.BaseProcess
    deadline: float
    started: float


def grade_all(submissions: list[Submission], settings: GradeSettings, *, jobs: int, progress: Progress | None = None) -> list[Graded]:
    """Grade every submission, `jobs` at a time, each in its own process with a deadline."""
    for name in [k for k in os.environ if k.startswith(SECRET_PREFIXES)]:
        del os.environ[name]  # before the fork server starts: no submission sees a key
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")  # `jobs` processes share the cores; no thread pools on top
    context = _context()
    pending, running, graded = list(reversed(submissions)), [], {}
    while pending or running:
        while pending and len(running) < jobs:
            submission = pending.pop()
            if submission.exercises is None:
                graded[submission.name] = Graded(submission.name, "empty", flags=list(submission.flags), reason="no exercise files found")
                if progress:
                    progress.step(graded[submission.name])
                continue
            running.append(_start(context, submission, settings))
        if not running:
            continue
        now = time.monotonic()
        multiprocessing.connection.wait([job.process.sentinel for job in running], timeout=max(0.0, min(j.deadline for j in running) - now))
        for job in list(running):
            timed_out = time.monotonic() >= job.deadline
            if job.process.is_alive() and not timed_out:
                continue
            running.remove(job)
            graded[job.submission.name] = _finish(job, settings, timed_out)
            if progress:
                progress.step(graded[job.submission.name])
    return [graded[s.name] for s in submissions]


def _context():
    """A fork server with the heavy imports done, where the platform has one; else plain spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _start(context, submission: Submission, settings: GradeSettings) -> _Job:
    scratch = Path(tempfile.mkdtemp(prefix="embedlab-grade-"))
    shutil.copytree(submission.exercises, scratch / "exercises", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    kit = settings.kit_root
    arguments = [
        "-q", "-p", "no:cacheprovider", f"--rootdir={kit}", "-c", str(kit / "pyproject.toml"), str(kit / "tests"),
        f"--exercises-dir={scratch / 'exercises'}", "--live=off",
        f"--grade-json={scratch / 'results.json'}", f"--grade-timeout={settings.test_timeout}",
    ]  # fmt: skip
    if settings.cassettes:
        arguments.append(f"--cassettes={settings.cassettes}")
    process = context.Process(target=_grade_here, args=(arguments, str(scratch)), daemon=True)
    started = time.monotonic()
    process.start()
    return _Job(submission, scratch, process, started + settings.timeout, started)


def _grade_here(arguments: list[str], scratch: str) -> None:
    """In the submission's own process: its own session, output to a file, then pytest."""
    if hasattr(os, "setsid"):
        os.setsid()  # a process group of its own, killed whole on timeout
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    except (ImportError, ValueError, OSError):
        pass
    os.chdir(scratch)
    output = os.open(os.path.join(scratch, "output.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(output, 1)
    os.dup2(output, 2)
    import pytest

    code = pytest.main(arguments)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def _finish(job: _Job, settings: GradeSettings, timed_out: bool) -> Graded:
    process = job.process
    if process.is_alive() or timed_out:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the learner's strays too
        process.kill()
    process.join()
    one = Graded(job.submission.name, "graded", flags=list(job.submission.flags), seconds=time.monotonic() - job.started)
    try:
        output_file = job.scratch / "output.txt"
        size = output_file.stat().st_size if output_file.exists() else 0
        if size > OUTPUT_FLAGGED:
            one.flags.append(f"printed {size / 1e6:.1f} MB")
        results = job.scratch / "results.json"
        if timed_out:
            one.status, one.reason = "timeout", f"stopped after {settings.timeout:g} s"
        elif results.is_file() and process.exitcode in (0, 1):
            one.results = json.loads(results.read_text(encoding="utf-8"))
            one.score, one.max_score = one.results["score"], one.results["max_score"]
            one.exercises = {
                name: info["score"] for name, info in one.results["extra_data"]["exercises"].items() if not info["live"]
            }
            one.reason = _first_problem(one.results)
        else:
            one.status = "crashed"
            one.reason = _last_lines(_tail(output_file)) or f"the grading process exited with {process.exitcode}"
    finally:
        shutil.rmtree(job.scratch, ignore_errors=True)
    return one


def _tail(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - OUTPUT_KEPT))
        return handle.read().decode("utf-8", errors="replace")


def _first_problem(results: dict) -> str:
    for test in results.get("tests", []):
        status = test.get("extra_data", {}).get("embedlab_status")
        if status in ("failed", "not started") and "live" not in test.get("tags", []):
            return f"{test['name']}: {test['output'].splitlines()[0][:160]}"
    return ""


def _last_lines(output: str, count: int = 3) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])[:300]


def write_gradebook(path: Path, graded: list[Graded]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "status", "score", "max_score", *EXERCISES, "flags", "reason"])
        possible = max((g.max_score for g in graded), default=0)
        for one in graded:
            writer.writerow(
                [
                    one.name,
                    one.status,
                    f"{one.score:g}",
                    f"{(one.max_score or possible):g}",
                    *(f"{one.exercises.get(name, 0):g}" for name in EXERCISES),
                    "; ".join(one.flags),
                    one.reason,
                ]
            )


def results_json(one: Graded) -> dict:
    """The submission's Gradescope results.json; for a timeout or crash, one failing entry saying why."""
    if one.results is not None:
        data = dict(one.results)
    else:
        data = {"score": 0, "tests": [], "visibility": "visible", "output": f"{one.status}: {one.reason}"}
    data.setdefault("extra_data", {})
    data["extra_data"] = {**data["extra_data"], "status": one.status, "flags": one.flags, "reason": one.reason}
    return data


def summary(graded: list[Graded], out: Path, results_dir: Path) -> str:
    counts: dict[str, int] = {}
    for one in graded:
        counts[one.status] = counts.get(one.status, 0) + 1
    scored = [g for g in graded if g.status == "graded"]
    mean = sum(g.score for g in scored) / len(scored) if scored else 0.0
    possible = max((g.max_score for g in graded), default=0)
    lines = [
        f"{len(graded)} submissions: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
        f"mean score of the graded ones: {mean:.1f}/{possible:g}",
    ]
    flagged = [g for g in graded if g.flags]
    if flagged:
        lines.append("flagged: " + "; ".join(f"{g.name} ({', '.join(g.flags)})" for g in flagged))
    lines.append(f"gradebook: {out}   results: {results_dir}/")
    return "\n".join(lines)


class Progress:
    """A progress bar on stderr (a line per submission when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.tty = sys.stderr.isatty()

    def step(self, one: Graded) -> None:
        self.done += 1
        if self.tty:
            filled = round(30 * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'-' * (30 - filled)}] {self.done}/{self.total} {one.name[:30]:<30}")
            if self.done == self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(f"[{self.done}/{self.total}] {one.name}: {one.status} {one.score:g}\n")
        sys.stderr.flush()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "submission"
