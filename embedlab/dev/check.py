"""`embedlab dev check`: the course against its tree, as Rustlings' `dev check` holds `info.toml`
against its exercises. Each gap is one sentence naming the file, exercise, test or set:

- the catalogue itself (`course.toml`: names, files, parts declared in `[parts]`, hints, every
  exercise graded by a test, every test's exercise listed);
- a stub in exercises/ that does more than raise NotImplementedError, or a function the catalogue
  lists that a file lacks; a solution file or function missing from solutions/;
- stray files in exercises/ or solutions/ that no exercise names;
- a grading test without `@pytest.mark.points` (on it, its class or its module);
- an exercise with fewer than three mistakes in `selftests/grading/mistakes/<exercise>/`, a
  mistake file that cannot be read, a folder there that is no exercise;
- then, only when all of the above hold: the reference solutions graded against every cassette
  set (`pytest tests --solutions --cassettes=SET`): a test they do not pass names the set, the
  test and why (a request the set lacks: record it with `embedlab record`).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from embedlab import course as catalogue
from embedlab.dev import catalogue as mistakes_catalogue

MIN_MISTAKES = 3


def static_gaps(root: Path) -> list[str]:
    """Every gap that reading the tree shows, in the course's order."""
    try:
        course = catalogue.parse(root / catalogue.FILENAME)
        course.check(root)
    except catalogue.CourseError as err:
        return [str(err)]
    gaps: list[str] = []
    gaps += _stub_and_solution_gaps(root, course)
    gaps += _stray_files(root, course)
    gaps += _tests_without_points(root)
    gaps += _mistake_gaps(root, course)
    return gaps


def _functions(path: Path) -> dict[str, ast.AST]:
    return {n.name: n for n in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _raises_not_implemented(node: ast.AST) -> bool:
    """A function whose body (after its docstring) only raises NotImplementedError; a class each of
    whose methods does."""
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return bool(methods) and all(_raises_not_implemented(m) for m in methods)
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body  # type: ignore[attr-defined]  # node is a function here: it has a body
    return len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.dump(body[0])


def _stub_and_solution_gaps(root: Path, course: catalogue.Course) -> list[str]:
    gaps = []
    for exercise in course.exercises:
        for folder in ("exercises", "solutions"):
            path = root / folder / exercise.file
            if not path.is_file():
                gaps.append(f"exercise {exercise.name!r}: {folder}/{exercise.file} is missing")
                continue
            try:
                defined = _functions(path)
            except SyntaxError as err:
                gaps.append(f"{folder}/{exercise.file} is not valid Python (line {err.lineno}): {err.msg}")
                continue
            for function in exercise.functions:
                if function not in defined:
                    what = "stub" if folder == "exercises" else "solution"
                    gaps.append(f"exercise {exercise.name!r}: {folder}/{exercise.file} has no {what} {function}")
                elif folder == "exercises" and not _raises_not_implemented(defined[function]):
                    gaps.append(
                        f"exercise {exercise.name!r}: the stub {function} in exercises/{exercise.file} does more than "
                        f"raise NotImplementedError(hint({exercise.name!r})): a learner would start from an answer"
                    )
    return list(dict.fromkeys(gaps))


def _stray_files(root: Path, course: catalogue.Course) -> list[str]:
    gaps = []
    for folder in ("exercises", "solutions"):
        for path in sorted((root / folder).glob("*.py")):
            if path.name != "__init__.py" and path.name not in course.files:
                gaps.append(f"{folder}/{path.name} is no exercise's file in {catalogue.FILENAME}: add its entry or remove it")
    return gaps


def _marks(decorators: list[ast.expr]) -> set[str]:
    names = set()
    for node in decorators:
        call = node.func if isinstance(node, ast.Call) else node
        if isinstance(call, ast.Attribute):
            names.add(call.attr)
    return names


def _module_marks(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            value = node.value
            return _marks(list(value.elts) if isinstance(value, (ast.List, ast.Tuple)) else [value])
    return set()


def _tests_without_points(root: Path) -> list[str]:
    """Each grading test (marked with an exercise) that no `points` marker reaches."""
    gaps = []
    for path in sorted((root / "tests").glob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError as err:
            gaps.append(f"tests/{path.name} is not valid Python (line {err.lineno}): {err.msg}")
            continue
        module = _module_marks(tree)
        tests: list[tuple[str, set[str]]] = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                tests.append((node.name, module | _marks(node.decorator_list)))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                around = module | _marks(node.decorator_list)
                tests += [
                    (f"{node.name}::{f.name}", around | _marks(f.decorator_list))
                    for f in node.body
                    if isinstance(f, ast.FunctionDef) and f.name.startswith("test")
                ]
        unscored = [name for name, marks in tests if "exercise" in marks and "points" not in marks]
        if unscored:
            more = f" (and {len(unscored) - 1} more)" if len(unscored) > 1 else ""
            gaps.append(f"tests/{path.name}::{unscored[0]}{more} has no points: mark each grading test with @pytest.mark.points(n)")
    return gaps


def _mistake_gaps(root: Path, course: catalogue.Course) -> list[str]:
    folder = root / mistakes_catalogue.MISTAKES_DIR
    try:
        found = mistakes_catalogue.mistakes(root)
    except mistakes_catalogue.CatalogueError as err:
        return [str(err)]
    gaps = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        if course.get(path.name) is None:
            gaps.append(f"{mistakes_catalogue.MISTAKES_DIR}/{path.name}/ is no exercise of {catalogue.FILENAME}")
    for exercise in course.exercises:
        count = sum(m.exercise == exercise.name for m in found)
        if count < MIN_MISTAKES:
            gaps.append(
                f"exercise {exercise.name!r} has {count} mistake(s) in {mistakes_catalogue.MISTAKES_DIR}/{exercise.name}/; "
                f"write at least {MIN_MISTAKES}, each a wrong answer its tests must catch"
            )
    return gaps


def cassette_gaps(root: Path, sets: list[str] | None = None) -> list[str]:
    """The reference solutions against each cassette set: every scored test they do not pass."""
    library = root / "cassettes"
    names = sets or sorted(p.parent.name for p in library.glob("*/manifest.json"))
    if not names:
        return ["cassettes/ holds no set (a folder with a manifest.json): record one with `embedlab record`"]
    gaps = []
    for name in names:
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "results.json"
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "EMBED_", "PYTEST_"))}
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "tests", "--solutions", f"--cassettes={name}", "--live=off", "-q",
                 "-p", "no:cacheprovider", f"--grade-json={report}"],
                cwd=root, env=env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            if not report.is_file():
                tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
                gaps.append(f"cassette set {name!r}: the solutions could not be graded against it ({tail[0]})")
                continue
            results = json.loads(report.read_text(encoding="utf-8"))
        for test in results.get("tests", []):
            extra = test.get("extra_data", {})
            if extra.get("embedlab_status") in ("passed", "skipped") or "live" in test.get("tags", []):
                continue
            message = " ".join(str(test.get("output", "")).split())
            if "record" in message or "cannot answer" in message:
                gaps.append(f"cassette set {name!r} lacks the requests of {extra.get('nodeid')}: {message}")
            else:
                gaps.append(f"solutions/ fail {extra.get('nodeid')} on cassette set {name!r}: {message}")
    return gaps


def check(root: Path, run_solutions: bool = True) -> list[str]:
    """Every gap: the tree's first; the solutions run against the cassettes only when it has none."""
    gaps = static_gaps(root)
    if gaps or not run_solutions:
        return gaps
    return cassette_gaps(root)
