"""Grading a class: a generated class of 40 submissions graded with --jobs 1 and --jobs 2.

The class mixes correct answers, partly wrong ones (one plausible mistake each), untouched stubs
and hanging ones. Prints submissions per second for each --jobs, the speed-up, and the cost of
one submission inside the class against one standalone grading run.
Goals: --jobs 2 at least 1.6x faster than --jobs 1; per-submission cost at most 1.5x standalone.
With --baseline REF, the same class is also graded by the kit as it was at git REF (exported to a
temporary folder and put first on PYTHONPATH), in the same run, and the ratio is printed: the
worker process must not make a submission slower than the grader before it (goal <= 1.0x).

    python benchmarks/bench_classroom.py [--size 40] [--hanging 2] [--baseline 59d7280]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selftests.grading.submissions import MISTAKES, VARIANTS, build  # noqa: E402

HANG = "def batch_vs_loop(texts, *, client=None, model=None):\n    while True:\n        pass\n"
TEST_TIMEOUT = 2


def generate(folder: Path, size: int, hanging: int) -> None:
    kinds = []
    for i in range(size):
        if i < hanging:
            kinds.append(("hanging", {"challenges.py": HANG}, "solutions"))
        elif i % 4 == 0:
            kinds.append(("stub", {}, "exercises"))
        elif i % 4 == 1:
            variant = VARIANTS[i % len(VARIANTS)]
            kinds.append((f"correct-{variant.name}", variant.changes, "solutions"))
        else:
            mistake = [m for m in MISTAKES if m.name not in ("hangs-forever", "prints-megabytes")][i % (len(MISTAKES) - 2)]
            kinds.append((f"wrong-{mistake.name}", {mistake.file: mistake.source}, "solutions"))
    for i, (kind, changes, source) in enumerate(kinds):
        build(folder / f"{i:02d}-{kind}", ROOT / source, changes)


def grade(folder: Path, jobs: int, out: Path, env: dict[str, str], kit: Path = ROOT) -> float:
    command = [sys.executable, "-m", "embedlab", "grade", str(folder), f"--out={out}", f"--jobs={jobs}", f"--test-timeout={TEST_TIMEOUT}"]
    started = time.perf_counter()
    subprocess.run(command, cwd=kit, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def export(ref: str, into: Path) -> Path:
    """The kit as it was at git `ref`, in `into` (no worktree left behind)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def standalone(env: dict[str, str], runs: int = 5) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--solutions", "--live=off"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--hanging", type=int, default=2)
    parser.add_argument("--baseline", metavar="REF", help="also grade the class with the kit at this git ref, side by side")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBED_"))}
    scratch = Path(tempfile.mkdtemp(prefix="embedlab-bench-"))
    try:
        folder = scratch / "class"
        generate(folder, args.size, args.hanging)
        one = standalone(env)
        timings, baseline = {}, {}
        old = export(args.baseline, scratch / "baseline") if args.baseline else None
        for jobs in (1, 2):  # alternate new and old, so a busy moment hits both
            timings[jobs] = grade(folder, jobs, scratch / f"grades-{jobs}.csv", env)
            if old is not None:
                baseline[jobs] = grade(folder, jobs, scratch / f"old-{jobs}.csv", {**env, "PYTHONPATH": str(old)}, kit=old)
        with (scratch / "grades-1.csv").open() as handle:
            statuses = [row["status"] for row in csv.DictReader(handle)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    n = args.size
    print(f"{n} submissions ({args.hanging} hanging, test timeout {TEST_TIMEOUT} s), {os.cpu_count()} cores")
    print(f"standalone grading run (median of 5): {one:.2f} s")
    for jobs, seconds in timings.items():
        print(f"--jobs {jobs}: {seconds:6.1f} s  {n / seconds:5.2f} submissions/s  {seconds / n:5.2f} s per submission")
    speedup = timings[1] / timings[2]
    # The hanging ones pay their time limit by design (once: later calls fail at once); the cost
    # is judged on the others.
    hang_cost = args.hanging * TEST_TIMEOUT
    per_submission = (timings[1] - hang_cost) / (n - args.hanging)
    print(f"speed-up of --jobs 2: {speedup:.2f}x (goal >= 1.6x) — {'met' if speedup >= 1.6 else 'NOT met'}")
    print(
        f"per-submission cost (--jobs 1, without the hanging ones' time limits): {per_submission:.2f} s = "
        f"{per_submission / one:.2f}x standalone (goal <= 1.5x) — {'met' if per_submission / one <= 1.5 else 'NOT met'}"
    )
    print(f"statuses: {', '.join(f'{s}: {statuses.count(s)}' for s in sorted(set(statuses)))}")
    for jobs, seconds in baseline.items():
        ratio = timings[jobs] / seconds
        print(
            f"--jobs {jobs} against the kit at {args.baseline}: {timings[jobs]:.1f} s vs {seconds:.1f} s = {ratio:.2f}x "
            f"(goal <= 1.0x; the old kit waited out each hanging test) — {'met' if ratio <= 1.0 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
