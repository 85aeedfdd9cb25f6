"""How many wrong programs the grading catches: a mutation score of `solutions/`.

mutmut (https://github.com/boxed/mutmut) makes the mutants: every change its operators make to
the solutions (an operator flipped, a number or string changed, an argument dropped, a `break`
made a `continue`, …), one mutant per change. Each mutant is graded the way a learner's code is —
the kit's own pytest grading, offline, on a cassette set — on the tests of the exercise it
changed (its function's exercise; for a helper, every exercise of its file). A mutant is *killed*
when at least one of those tests fails; otherwise it *survived*. It is run on every cassette set:
a mutant killed on one model's numbers and not the other's is a check that leans on that model.

A surviving mutant either earns a check or is listed, with why it is equivalent (it behaves
exactly as the solution under the contract), in `benchmarks/equivalent_mutants.txt`, one line a
mutant: `ID  why`. The figure that counts is the survivors that file does not explain.

    pip install -e ".[dev,mutation]"
    python benchmarks/bench_grading_strength.py [--sets all] [--jobs 2] [--only FILE.py]

Prints killed / survived per exercise and set, then each unexplained survivor as a diff.
Grading ~600 mutants on two sets takes about half an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = Path(__file__).with_name("equivalent_mutants.txt")
NOT_GRADED = {"main"}  # the files' demo entry points: no contract, no test
DEMO_LINES = ('__name__ == "__main__"', "run_script(main)")  # the module-level lines that start the demo


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    function: str
    exercises: tuple[str, ...]
    source: str
    diff: str


def exercises_of(course: dict) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each exercise's file, and each file's exercises, from course.toml."""
    by_name = {e["name"]: e["file"] for e in course["exercises"]}
    by_file: dict[str, list[str]] = {}
    for name, file in by_name.items():
        by_file.setdefault(file, []).append(name)
    return by_name, by_file


def mutants(solutions: Path, course: dict) -> list[Mutant]:
    """Every mutant mutmut makes of the solutions, each a whole file's source."""
    from mutmut.mutation.file_mutation import create_mutations  # the optional `mutation` extra

    by_name, by_file = exercises_of(course)
    found: list[Mutant] = []
    seen: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as home:  # mutmut reads its configuration from the working folder
        Path(home, "pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["solutions"]\n')
        shutil.copytree(solutions, Path(home, "solutions"))
        cwd = os.getcwd()
        os.chdir(home)
        try:
            for path in sorted(Path("solutions").glob("*.py")):
                original = path.read_text()
                module, mutations, *_ = create_mutations(str(path), original)
                for mutation in mutations:
                    outer = mutation.contained_by_top_level_function
                    function = outer.name.value if outer is not None else "<module>"
                    if function in NOT_GRADED:
                        continue
                    source = module.deep_replace(mutation.original_node, mutation.mutated_node).code
                    if source == original:
                        continue
                    diff = "\n".join(
                        line for line in difflib.unified_diff(original.splitlines(), source.splitlines(), lineterm="", n=0)
                        if line[:1] in "+-" and line[:3] not in ("+++", "---")
                    )
                    if any(line in diff for line in DEMO_LINES):
                        continue
                    key = f"{path.name}\0{function}\0{diff}"
                    seen[key] = seen.get(key, 0) + 1  # one change made at two places with the same text
                    digest = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()[:10]
                    chosen = (function,) if function in by_name else tuple(by_file.get(path.name, ()))
                    found.append(Mutant(f"{path.name}:{function}:{digest}", path.name, function, chosen, source, diff))
        finally:
            os.chdir(cwd)
    return found


def grade(mutant: Mutant, cassettes: str, scratch: Path) -> bool:
    """True when the kit's grading fails at least one test of the mutant's exercises."""
    folder = scratch / f"{cassettes}-{mutant.id.replace(':', '-')}"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / mutant.file).write_text(mutant.source)
    results = folder / "results.json"
    command = [
        sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "--live=off",
        f"--exercises-dir={folder}", f"--cassettes={cassettes}", f"--grade-json={results}",
        "-k", " or ".join(mutant.exercises),
    ]  # fmt: skip
    try:
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    except subprocess.TimeoutExpired:
        return True  # a grading run that never ends fails the learner too
    if not results.is_file():
        return True
    tests = json.loads(results.read_text())["tests"]
    return any(t.get("status") == "failed" for t in tests)


def explained() -> dict[str, str]:
    lines = EQUIVALENT.read_text().splitlines() if EQUIVALENT.is_file() else []
    return dict(line.split(None, 1) for line in lines if line.strip() and not line.startswith("#"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="all", help="cassette sets, comma-separated (default: every set)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", help="mutate this solution file only (e.g. similarity.py)")
    args = parser.parse_args()
    course = tomllib.loads((ROOT / "course.toml").read_text())
    sets = sorted(p.name for p in (ROOT / "cassettes").iterdir() if (p / "manifest.json").is_file()) if args.sets == "all" else args.sets.split(",")
    found = [m for m in mutants(ROOT / "solutions", course) if args.only in (None, m.file)]
    reasons = explained()
    print(f"{len(found)} mutants of solutions/ (mutmut's operators), graded on {', '.join(sets)}")
    survivors: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for cassettes in sets:
            killed = dict(zip(found, pool.map(lambda m: grade(m, cassettes, Path(scratch)), found)))
            print(f"\n{cassettes}:\n  {'exercise':<18} {'mutants':>7} {'killed':>7} {'survived':>8} {'equivalent':>10}")
            for exercise in sorted({m.exercises[0] if len(m.exercises) == 1 else m.file for m in found}):
                mine = [m for m in found if (m.exercises[0] if len(m.exercises) == 1 else m.file) == exercise]
                alive = [m for m in mine if not killed[m]]
                print(f"  {exercise:<18} {len(mine):>7} {len(mine) - len(alive):>7} {len(alive):>8} {sum(m.id in reasons for m in alive):>10}")
                for m in alive:
                    survivors.setdefault(m.id, []).append(cassettes)
    by_id = {m.id: m for m in found}
    unexplained = [i for i in survivors if i not in reasons]
    print(f"\n{len(survivors)} survived on some set; {len(survivors) - len(unexplained)} listed as equivalent; {len(unexplained)} unexplained")
    for i in unexplained:
        print(f"\n{i} (survived on {', '.join(survivors[i])}):\n{by_id[i].diff}")
    stale = [i for i in reasons if i not in by_id]
    if stale:
        print(f"\n{len(stale)} lines of {EQUIVALENT.name} name no mutant of today's solutions: {', '.join(stale)}")


if __name__ == "__main__":
    main()
