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
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

EXERCISE_FILES = ("embed.py", "similarity.py", "challenges.py")
EXERCISES = ("embed", "cosine", "rank", "confirm_intuition", "self_similarity", "batch_vs_loop")
IMPORTS_SOLUTIONS = re.compile(r"^\s*(from\s+solutions\b|import\s+solutions\b)", re.MULTILINE)
OUTPUT_KEPT = 64 * 1024  # the tail of a submission's output kept for the reason column
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


def grade_all(submissions: list[Submission], settings: GradeSettings, *, jobs: int, progress: Progress | None = None) -> list[Graded]:
    graded: dict[str, Graded] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grade_one, s, settings): s for s in submissions}
        for future in as_completed(futures):
            submission = futures[future]
            try:
                one = future.result()
            except Exception as err:  # noqa: BLE001 - a grader fault costs this submission only
                one = Graded(submission.name, "crashed", flags=list(submission.flags), reason=f"grader error: {err}")
            graded[submission.name] = one
            if progress:
                progress.step(one)
    return [graded[s.name] for s in submissions]


def grade_one(submission: Submission, settings: GradeSettings) -> Graded:
    """Grade one submission in a scratch folder, in its own process group, within the time limit."""
    if submission.exercises is None:
        return Graded(submission.name, "empty", flags=list(submission.flags), reason="no exercise files found")
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="embedlab-grade-"))
    try:
        shutil.copytree(submission.exercises, scratch / "exercises", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
        results = scratch / "results.json"
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--rootdir={settings.kit_root}", "-c", str(settings.kit_root / "pyproject.toml"),
            str(settings.kit_root / "tests"),
            f"--exercises-dir={scratch / 'exercises'}", "--live=off",
            f"--grade-json={results}", f"--grade-timeout={settings.test_timeout}",
        ]  # fmt: skip
        if settings.cassettes:
            command.append(f"--cassettes={settings.cassettes}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBED_", "GITHUB_"))}
        code, output, size, timed_out = _run_limited(command, scratch, env, settings.timeout)
        one = Graded(submission.name, "graded", flags=list(submission.flags), seconds=time.monotonic() - started)
        if size > OUTPUT_FLAGGED:
            one.flags.append(f"printed {size / 1e6:.1f} MB")
        if timed_out:
            one.status, one.reason = "timeout", f"stopped after {settings.timeout:g} s"
        elif results.is_file() and code in (0, 1):
            one.results = json.loads(results.read_text(encoding="utf-8"))
            one.score, one.max_score = one.results["score"], one.results["max_score"]
            one.exercises = {
                name: info["score"] for name, info in one.results["extra_data"]["exercises"].items() if not info["live"]
            }
            one.reason = _first_problem(one.results)
        else:
            one.status, one.reason = "crashed", _last_lines(output) or f"the grading process exited with {code}"
        return one
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_limited(command: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int | None, str, int, bool]:
    """Run with a time limit, in a new process group killed whole on timeout; keep the output's tail."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    tail = bytearray()
    size = 0

    def drain() -> None:
        nonlocal size
        assert process.stdout is not None
        for chunk in iter(lambda: process.stdout.read(65536), b""):
            size += len(chunk)
            tail.extend(chunk)
            del tail[:-OUTPUT_KEPT]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the learner's strays too
        except ProcessLookupError:
            pass
        process.wait()
        reader.join(timeout=5)
    return process.returncode, tail.decode("utf-8", errors="replace"), size, timed_out


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
