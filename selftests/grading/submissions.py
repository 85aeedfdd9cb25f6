"""A generated class: the reference solutions with one plausible learner mistake each, and with
correct variants that a fair grader must accept.

The mistakes are files, `mistakes/<exercise>/<name>.py`, each with the test it must fail and the
words it must be told in its docstring; the variants are `variants/<name>/<file>`. Both are read
by `embedlab.dev.catalogue`, which `embedlab dev check` uses too.

Each submission is the solutions/ folder with some functions swapped for the learner's version
(by name, through the AST, so the catalog survives edits elsewhere in the files).
"""

from __future__ import annotations

import ast
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from embedlab import course
from embedlab.dev import catalogue

ROOT = Path(__file__).resolve().parents[2]  # the kit, as a submission that goes looking would find it


@dataclass(frozen=True)
class Mistake:
    """A wrong answer, the test that must catch it, and words its message must contain."""

    name: str
    file: str  # exercises file, e.g. "similarity.py"
    source: str  # replacement function(s); `None`-free module code is appended as is
    test: str  # part of the failing test's node id
    says: str  # part of the failure message


@dataclass(frozen=True)
class Variant:
    """A correct answer written differently: it must get full marks on every cassette set."""

    name: str
    changes: dict[str, str] = field(default_factory=dict)  # file -> replacement function(s)


def f(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def _course_order(exercise: str) -> int:
    return course.load(ROOT / course.FILENAME).index(exercise)


MISTAKES = [
    Mistake(m.name, m.file, m.source, m.test, m.says)
    for m in sorted(catalogue.mistakes(ROOT), key=lambda m: (_course_order(m.exercise), m.name))
]

VARIANTS = [Variant(name, changes) for name, changes in catalogue.variants(ROOT).items()]


def build(destination: Path, solutions: Path, changes: dict[str, str]) -> Path:
    """A submission folder holding exercises/: the solutions with `changes` swapped in."""
    exercises = destination / "exercises"
    shutil.copytree(solutions, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    for file, source in changes.items():
        path = exercises / file
        path.write_text(swap(path.read_text(encoding="utf-8"), source), encoding="utf-8")
    return destination


def swap(module: str, replacement: str) -> str:
    """Replace the module's functions named in `replacement` by its versions; other code is appended."""
    try:
        new = ast.parse(replacement)
    except SyntaxError:
        return module + "\n" + replacement  # a deliberately broken file
    names = {node.name for node in new.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    lines = module.splitlines(keepends=True)
    for node in sorted(
        (n for n in ast.parse(module).body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names),
        key=lambda n: n.lineno,
        reverse=True,
    ):
        del lines[node.lineno - 1 : node.end_lineno]
    kept = "".join(lines)
    if not names:  # module-level code (an import, an exit): it runs at import, first
        return replacement + kept
    return kept.rstrip("\n") + "\n\n\n" + replacement
