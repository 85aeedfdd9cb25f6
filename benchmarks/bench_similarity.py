"""The similarity report of a big class: `embedlab similarity` on a generated class of 300.

Each learner's files start from the kit's reference solutions (so the class shares far more than a
real one: a hard case for the fingerprint index) and are made their own: some functions left as
the stub, the others with random lines dropped, random statements of their own added, names
changed and the functions shuffled. A few pairs copy one another (renamed, reordered). Prints the
time of each phase, the pairs scored, the marked pairs found, and the page's size.
Goal: 300 submissions in seconds (under 10 s on the course machines' two cores), not minutes.

    python benchmarks/bench_similarity.py [--size 300] [--copies 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embedlab import course  # noqa: E402
from embedlab.instructor import similarity  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "delta", "rows", "cols", "total", "item", "value", "best", "score", "vec", "data", "count"]


def functions(source: str) -> tuple[str, list[str]]:
    """A module's head (everything before its first function or class) and each top-level function's source."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    nodes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    head = "".join(lines[: nodes[0].lineno - 1]) if nodes else source
    return head, ["".join(lines[n.lineno - 1 : n.end_lineno]) for n in nodes]


def statement(rng: random.Random, indent: str) -> str:
    """A random line of 'own code': names, calls and numbers in a random shape."""
    a, b, c = rng.sample(WORDS, 3)
    shapes = [
        f"{a} = {b}({c}, {rng.randint(0, 99)}) + {rng.random():.3f}",
        f"if {a} > {rng.randint(1, 9)}:\n{indent}    {b}.append({c} * {rng.randint(2, 7)})",
        f"for {a} in range({rng.randint(1, 50)}):\n{indent}    {b} += {a} ** {rng.randint(2, 3)}",
        f"{a}, {b} = {c}[{rng.randint(0, 5)}:], {c}[:{rng.randint(1, 5)}]",
        f"assert {a} != {b}, {c}",
        f"{a} = [{b} for {b} in {c} if {b} % {rng.randint(2, 9)}]",
    ]
    return indent + rng.choice(shapes) + "\n"


def own_version(function: str, rng: random.Random) -> str:
    lines = function.splitlines(keepends=True)
    out = [lines[0]]
    for line in lines[1:]:
        if rng.random() < 0.6:
            continue
        out.append(line)
        if rng.random() < 0.8:
            indent = line[: len(line) - len(line.lstrip())] or "    "
            out.append(statement(rng, indent))
    return "".join(out)


def learner(stub: str, solution: str, rng: random.Random) -> tuple[str, list[str]]:
    """A learner's file (its head, its functions): the head kept, each function theirs or the stub."""
    head, mine = functions(solution)
    _, stubs = functions(stub)
    chosen = []
    for i, function in enumerate(mine):
        if rng.random() < 0.15 and i < len(stubs):
            chosen.append(stubs[i])
        else:
            chosen.append(own_version(function, rng))
    rng.shuffle(chosen)
    return head, chosen


def disguise(head: str, mine: list[str], rng: random.Random) -> str:
    """The same functions in another order, each under a comment of its own."""
    mine = mine[:]
    rng.shuffle(mine)
    return head + "\n\n".join(f"# my own work\n{f}" for f in mine)


def generate(folder: Path, size: int, copies: int, seed: int) -> None:
    rng = random.Random(seed)
    catalogue = course.load(ROOT / course.FILENAME)
    made: dict[tuple[int, str], tuple[str, list[str]]] = {}
    for i in range(size):
        exercises = folder / f"learner-{i:03d}" / "exercises"
        exercises.mkdir(parents=True)
        for file in catalogue.files:
            stub = (ROOT / "exercises" / file).read_text(encoding="utf-8")
            solution = (ROOT / "solutions" / file).read_text(encoding="utf-8")
            if i % 2 and i // 2 < copies:  # learner 2j+1 hands in learner 2j's files, disguised
                code = disguise(*made[(i - 1, file)], rng)
            else:
                made[(i, file)] = learner(stub, solution, rng)
                code = made[(i, file)][0] + "\n\n".join(made[(i, file)][1])
            (exercises / file).write_text(code, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "class"
        generate(folder, args.size, args.copies, args.seed)
        import copydetect  # noqa: F401 (imported before the clock starts, as the command has it by then)

        started = time.perf_counter()
        report = similarity.compare_class(folder, ROOT)
        compared = time.perf_counter()
        page = similarity.write(Path(scratch) / "out", report)
        written = time.perf_counter()
        pairs = sum(f.count for f in report.files)
        sharing = sum(len(f.pairs) for f in report.files)
        planted = {(f"learner-{2 * i:03d}", f"learner-{2 * i + 1:03d}") for i in range(args.copies)}
        found = {(p.a, p.b) for f in report.files for p in f.marked}
        print(f"class: {args.size} submissions, {sum(len(f.compared) for f in report.files)} files, {pairs:,} pairs ({sharing:,} sharing a fingerprint)")
        for phase, seconds in report.seconds.items():
            print(f"  {phase:<12} {seconds:6.2f} s")
        print(f"compare: {compared - started:.2f} s   write page and CSV: {written - compared:.2f} s   total: {written - started:.2f} s")
        print(f"marked: {sum(len(f.marked) for f in report.files)} pairs; planted copies found in some file: {len(planted & found)} of {len(planted)}; "
              f"other marked pairs: {len(found - planted)}")
        print(f"page: {page.stat().st_size / 1e6:.2f} MB   CSV: {page.with_name(similarity.CSV_NAME).stat().st_size / 1e6:.2f} MB")
        for result in report.files:
            print(f"  {result.file:<16} median {result.median:.3f}  MAD {result.mad:.3f}  threshold {result.threshold:.3f}  marked {len(result.marked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
