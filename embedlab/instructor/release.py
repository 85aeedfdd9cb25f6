"""Write the learner's repository: `embedlab release OUT [--grader OWNER/REPO@REF]`.

OUT is what learners get — a GitHub Classroom template to push, or a folder to zip for an LMS: the
stubs (`exercises/`), the grading tests and cassettes with their `integrity.sha256` (so `pytest`
grades offline on the learner's machine exactly as here), the `embedlab` package itself (the
plugin, the hints, `embedlab serve`: `pip install -e .` in OUT needs nothing else),
`docs/learners.md` copied whole (with the pictures it shows) under a short README.md that points
to it and says how pushes are graded, `.env.example`, and two workflows: `grade.yml`, a thin
caller, and the reusable `embedlab-grade.yml` it calls in the grader repository at the pinned ref.

Never in OUT: `solutions/`, the kit's own selftests, benchmarks, CI, the kit's README and its
other docs (instructors, design, server). Before anything is written every exercise function is checked
to be a stub (and any other function the same code as in solutions/, like each file's `main`), so
a working copy in which someone answered an exercise is refused instead of shipped.

The grader repository (`--grader`) holds the tests, cassettes and grader that decide each push's
grade, at a ref you pin: the repository you push this release to (it holds no solutions, so it can
be public) or your kit if the learners' workflow runs may read it. Either way the learner's own
copies of the tests are not used: `embedlab autograde` flags them when they differ.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
from pathlib import Path

COPIED_FILES = ("conftest.py", "course.toml", "integrity.sha256", ".env.example", ".gitignore")
COPIED_FOLDERS = ("tests", "cassettes", "embedlab")
LEARNERS = Path("docs/learners.md")  # shipped whole: what the learners read
REUSABLE = Path(".github/workflows/embedlab-grade.yml")
CALLER = Path(".github/workflows/grade.yml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


class ReleaseError(Exception):
    pass


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the folder to write: new, or empty but for .git")
    parser.add_argument(
        "--grader",
        type=grader_ref,
        metavar="OWNER/REPO@REF",
        help="for GitHub Classroom: the repository whose tests, cassettes and grader grade each push, at a "
        "pinned tag or commit (usually where you push this release, e.g. my-course/embeddings@v1); "
        "without it, a release to zip for an LMS, with no workflows",
    )


def grader_ref(text: str) -> tuple[str, str]:
    repository, _, ref = text.partition("@")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository) or not re.fullmatch(r"[A-Za-z0-9_./-]+", ref):
        raise argparse.ArgumentTypeError(f"{text!r}: expected OWNER/REPO@REF, e.g. my-course/embeddings@v1")
    return repository, ref


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    repository, ref = args.grader or (None, None)
    try:
        from embedlab import course

        root = kit.find_root()
        course.checked(root)  # a catalogue that disagrees with the kit stops here, in one sentence
        written = write_release(root, args.out, repository, ref)
    except ReleaseError as err:
        print(f"embedlab release: {err}")
        return 2
    print(f"wrote the learner release to {args.out}/ ({len(written)} files, no solutions)")
    if repository is None:
        print("no --grader: no workflows; zip it for your LMS, and grade what learners hand in with `embedlab grade`")
        return 0
    print(f"each push is graded by {repository}/{REUSABLE.as_posix()} at {ref}, with the tests and cassettes there")
    print("next: push it, tag it with the ref if the grader is this repository, and make it the assignment's template (docs/instructors.md)")
    return 0


def write_release(root: Path, out: Path, repository: str | None, ref: str | None) -> list[Path]:
    """Write the release into `out`; the files written, relative to it. Without a grader
    repository (a release to zip for an LMS) it has no workflows."""
    if not (root / "solutions").is_dir():
        raise ReleaseError(f"{root} has no solutions/: run this in the instructor's kit, not in a release")
    if out.exists() and any(p.name != ".git" for p in out.iterdir()):
        raise ReleaseError(f"{out} is not empty: choose a new folder, or empty it (a .git folder may stay)")
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise ReleaseError(f"{out} is inside the kit: choose a folder outside it")
    exercises = sorted((root / "exercises").glob("*.py"))
    found = [said for path in exercises if (said := _answered_in(path, root / "solutions" / path.name))]
    if found:
        raise ReleaseError(f"exercises/ holds answers, not stubs: {'; '.join(found)}. Restore the stubs first (git checkout exercises/)")
    learners = (root / LEARNERS).read_text(encoding="utf-8")
    if re.search(r"\bsolutions\b", learners):
        raise ReleaseError(f"{LEARNERS.as_posix()} mentions the solutions: it ships to learners as it is, so reword it")
    readme = learner_readme(learners, repository, ref)

    out.mkdir(parents=True, exist_ok=True)
    (out / "exercises").mkdir()
    for path in exercises:
        shutil.copyfile(path, out / "exercises" / path.name)
    for name in COPIED_FILES:
        shutil.copyfile(root / name, out / name)
    for name in COPIED_FOLDERS:
        shutil.copytree(root / name, out / name, ignore=IGNORED)
    (out / LEARNERS).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / LEARNERS, out / LEARNERS)  # whole, as it is: what learners read
    for image in dict.fromkeys(re.findall(r"\]\(([\w./-]+\.png)\)", learners)):  # the pictures it shows, beside it
        source = (root / LEARNERS).parent / image
        if source.is_file() and (root / LEARNERS).parent.resolve() in source.resolve().parents:
            (out / LEARNERS).parent.joinpath(image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, (out / LEARNERS).parent / image)
    if repository is not None:
        (out / REUSABLE).parent.mkdir(parents=True)
        shutil.copyfile(root / REUSABLE, out / REUSABLE)
        (out / CALLER).write_text(caller_workflow(repository, ref), encoding="utf-8")
    (out / "README.md").write_text(readme, encoding="utf-8")
    (out / "pyproject.toml").write_text(learner_pyproject((root / "pyproject.toml").read_text(encoding="utf-8")), encoding="utf-8")

    from embedlab.instructor import integrity

    problems = integrity.check(out)
    if problems:
        raise ReleaseError(f"the release's tests or cassettes do not match integrity.sha256 ({problems[0]}): run `embedlab integrity write` in the kit")
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and ".git" not in p.relative_to(out).parts[:1])


# -- what the learner gets -----------------------------------------------------------------------


def _answered_in(exercise: Path, solution: Path) -> str:
    """'similarity.py: cosine and rank are the answers of solutions/' — what is answered in one
    file, said by what it is: the same as solutions/, or written otherwise; "" for a file of stubs."""
    answered = answered_functions(exercise, solution)
    if not answered:
        return ""
    theirs = _bodies(solution) if solution.is_file() else {}
    mine = _bodies(exercise)
    same = [n for n in answered if n in theirs and mine[n] == theirs[n]]  # bodies compare by their AST
    other = [n for n in answered if n not in same]
    parts = []
    for names, what in ((same, "the answers of solutions/, copied" if len(same) > 1 else "the answer of solutions/, copied"),
                        (other, "answered (they do more than raise NotImplementedError)" if len(other) > 1 else "answered (it does more than raise NotImplementedError)")):  # fmt: skip
        if names:
            parts.append(f"{_and(names)} {'are' if len(names) > 1 else 'is'} {what}")
    return f"{exercise.name}: {'; '.join(parts)}"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def answered_functions(exercise: Path, solution: Path) -> list[str]:
    """The functions of an exercise file that give an answer away: a function or class the learner
    writes (the catalogue's `functions`, see `embedlab.course`) that is not the stub, or other code
    that differs from the same function in solutions/ (each file's `main` is the same in both).
    A class is a stub when every method only raises NotImplementedError."""
    from embedlab import course

    written = {f for e in course.load().exercises for f in e.functions}
    theirs = _bodies(solution) if solution.is_file() else {}
    answered = []
    for name, body in _bodies(exercise).items():
        if name in written:
            if not all(_is_stub(one) for one in (body.methods if isinstance(body, _Class) else [body])):
                answered.append(name)
        elif name in theirs and body != theirs[name]:
            answered.append(name)
    return answered


def _is_stub(body: list[ast.stmt]) -> bool:
    return len(body) == 1 and isinstance(body[0], ast.Raise) and "NotImplementedError" in ast.dump(body[0])


def _bodies(path: Path) -> dict[str, list[ast.stmt]]:
    """Each top-level function's body, without its docstring, as AST (compared by `ast.dump`);
    a class as the bodies of its methods."""
    bodies: dict[str, list[ast.stmt]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bodies[node.name] = _Dumped(_without_docstring(node))
        elif isinstance(node, ast.ClassDef):
            methods = [_Dumped(_without_docstring(n)) for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            bodies[node.name] = _Class(methods)
    return bodies


def _without_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[ast.stmt]:
    return node.body[1:] if ast.get_docstring(node) is not None else node.body


class _Class(list):
    """A class: its methods' bodies, in order (compared as a whole)."""

    @property
    def methods(self) -> list:
        return list(self)


class _Dumped(list):
    """A body that compares by its AST dump (positions aside)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and [ast.dump(s) for s in self] == [ast.dump(s) for s in other]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # unhashable, as a class with __eq__ is


def learner_readme(learners: str, repository: str | None, ref: str | None) -> str:
    """The release's README.md: the course's title, the learner's command (the first ```bash block
    of docs/learners.md, read, not rewritten), a pointer to docs/learners.md, which the release
    holds whole, and a word on how pushes are graded."""
    title = learners.splitlines()[0].removeprefix("# ") if learners.strip() else "embedlab"
    block = re.search(r"```bash\n(.*?)```", learners, re.S)
    command = f"```bash\n{block.group(1)}```\n\n" if block else ""
    grade = (
        """Your instructor grades the `exercises/` you hand in with their own copy of the tests and
cassettes: `tests/`, `cassettes/` and `embedlab/` are here so that `pytest` grades your work on
your machine exactly as they will. Edited copies change only your own runs.
"""
        if repository is None
        else f"""Each push to this repository is graded on GitHub by the **Autograding Tests** workflow
(`.github/workflows/grade.yml`), with your instructor's copy of the tests and cassettes
({repository} at `{ref}`), never the ones in this repository: `tests/`, `cassettes/` and
`embedlab/` are here so that `pytest` grades your work on your machine exactly as the workflow
will. Edited copies change only your own runs, and are flagged. The run's summary shows the same
table as `pytest`, and `results.json` is attached to it. Leave `.github/` as it is: your
instructor sees every change to it.
"""
    )
    return f"""# {title}

**On a fresh machine (Python 3.10+), from this folder, install and grade your exercises:**

{command}Everything else — the exercises, reading the result, watch mode, the map, running your code
against a real endpoint — is in [docs/learners.md](docs/learners.md).

## Your grade

{grade}"""


def learner_pyproject(text: str) -> str:
    """The kit's pyproject.toml without the `dev` extra: the selftests it installs for do not ship."""
    kept = re.sub(r"\n# The kit's own tests\.\ndev = \[\n.*?\n\]\n", "\n", text, flags=re.S)
    if kept == text:
        kept = re.sub(r"\ndev = \[\n.*?\n\]\n", "\n", text, flags=re.S)
    return kept


def caller_workflow(repository: str, ref: str) -> str:
    return f"""# Grades this repository's exercises/ on every push with your instructor's tests and cassettes
# ({repository} at {ref}), not the copies here, and reports the points (job summary, results.json,
# GitHub Classroom). Written by `embedlab release`: leave it as it is.
name: Autograding Tests

on:
  push:
  workflow_dispatch:

permissions:
  contents: read
  actions: read

jobs:
  run-autograding-tests:
    if: github.actor != 'github-classroom[bot]'
    uses: {repository}/{REUSABLE.as_posix()}@{ref}
    with:
      grader-repository: {repository}
      grader-ref: {ref}
    secrets:
      # Only for a private grader repository (your instructor's docs/instructors.md); empty otherwise.
      grader-token: ${{{{ secrets.EMBEDLAB_GRADER_TOKEN }}}}
"""
