"""How much a grading run costs beyond the floor any grading run must pay.

Times, in the same environment and paired — each round runs all three, in a rotating order, so
a busy moment of the machine hits every row alike:
  - the full offline grading of the solutions (`pytest --solutions --live=off`),
  - the full offline grading of the stubs (`pytest --live=off`),
  - the floor: one trivial pytest test that imports what any grading run must (openai, numpy,
    vcrpy, python-dotenv),
and prints each row's median and the median of its per-round ratio to the floor. Goal: <= 1.25x.
The learner's code runs in a worker process (embedlab.handle.learner), so both grading rows include
starting it.

    python benchmarks/bench_grading.py [--runs 9] [--part section]

`--part NAME` also times the solutions graded on that part of the course alone (course.toml's
`part`: `section` is the course section's six exercises), so a figure stays comparable with one
measured before the course grew.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.25


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--part", help="also grade the solutions on this part of course.toml alone")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBED_"))}
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory() as scratch:
        floor_dir = Path(scratch)
        (floor_dir / "test_floor.py").write_text("import dotenv, numpy, openai, vcr\n\n\ndef test_floor():\n    pass\n")
        commands = {
            "floor: one trivial test importing openai, numpy, vcrpy, dotenv": ([*pytest, "-c", os.devnull, "--rootdir", scratch, "test_floor.py"], floor_dir),
            "grading the solutions (offline)": ([*pytest, "--solutions", "--live=off"], ROOT),
            "grading the stubs (offline)": ([*pytest, "--live=off"], ROOT),
        }
        if args.part:
            sys.path.insert(0, str(ROOT))
            from embedlab import course

            names_in_part = {e.name for e in course.load(ROOT / "course.toml").exercises if e.part == args.part}
            files = sorted({f for name, f in course.tested_exercises(ROOT / "tests").items() if name in names_in_part})
            commands[f"grading the solutions, part {args.part!r} alone"] = ([*pytest, "--solutions", "--live=off", *files], ROOT)
        names = list(commands)
        for command, cwd in commands.values():
            timed(command, cwd, env)  # warm the file cache
        times: dict[str, list[float]] = {name: [] for name in names}
        for round_number in range(args.runs):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                command, cwd = commands[name]
                times[name].append(timed(command, cwd, env))
    floor = names[0]
    print(f"{args.runs} paired rounds, {os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    print(f"{'run':<64} {'median s':>9} {'x floor':>8}")
    worst = 0.0
    for name in names:
        ratio = statistics.median(t / f for t, f in zip(times[name], times[floor]))
        worst = max(worst, ratio) if name != floor else worst
        print(f"{name:<64} {statistics.median(times[name]):>9.2f} {ratio:>7.2f}x")
    print(f"goal: <= {GOAL}x the floor — {'met' if worst <= GOAL else 'NOT met'} ({worst:.2f}x)")


if __name__ == "__main__":
    main()
