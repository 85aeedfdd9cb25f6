"""How much a grading run costs beyond the floor any grading run must pay.

Times, in the same environment, the median of several runs of:
  - the full offline grading of the solutions (`pytest --solutions --live=off`),
  - the full offline grading of the stubs (`pytest --live=off`),
  - the floor: one trivial pytest test that imports what any grading run must (openai, numpy, vcrpy),
and prints each against the floor. Goal: <= 1.5x.

    python benchmarks/bench_grading.py [--runs 7]
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
GOAL = 1.5


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def median_of(runs: int, command: list[str], cwd: Path, env: dict[str, str]) -> float:
    timed(command, cwd, env)  # warm the file cache
    return statistics.median(timed(command, cwd, env) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBED_"))}
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory() as scratch:
        floor_dir = Path(scratch)
        (floor_dir / "test_floor.py").write_text("import numpy, openai, vcr\n\n\ndef test_floor():\n    pass\n")
        floor = median_of(args.runs, [*pytest, "-c", os.devnull, "--rootdir", scratch, "test_floor.py"], floor_dir, env)
    rows = [("floor: one trivial test importing openai, numpy, vcrpy", floor)]
    rows.append(("grading the solutions (offline)", median_of(args.runs, [*pytest, "--solutions", "--live=off"], ROOT, env)))
    rows.append(("grading the stubs (offline)", median_of(args.runs, [*pytest, "--live=off"], ROOT, env)))
    print(f"median of {args.runs} runs, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'run':<58} {'seconds':>8} {'x floor':>8}")
    for name, seconds in rows:
        print(f"{name:<58} {seconds:>8.2f} {seconds / floor:>7.2f}x")
    worst = max(seconds for _, seconds in rows[1:]) / floor
    print(f"goal: <= {GOAL}x the floor — {'met' if worst <= GOAL else 'NOT met'} ({worst:.2f}x)")


if __name__ == "__main__":
    main()
