"""`embedlab dev check` and `embedlab dev new` (embedlab/dev/): the real course passes its own check;
a broken copy of it fails, naming the gap; a new exercise is written whole, and the check then says
what is still missing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from embedlab.dev import catalogue

from .conftest import ROOT, SETS, run_cli

COURSE = ("exercises", "solutions", "tests", "cassettes", str(catalogue.MISTAKES_DIR))
COURSE_FILES = ("conftest.py", "course.toml", "pyproject.toml")


def copy_course(destination: Path) -> Path:
    for name in COURSE:
        shutil.copytree(ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in COURSE_FILES:
        shutil.copy(ROOT / name, destination / name)
    return destination


def dev_check(root: Path):
    return run_cli("dev", "check", f"--root={root}", cwd=root)


def test_the_course_passes_its_own_check():
    done = dev_check(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the solutions pass on every cassette set" in done.stdout


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _answered_stub(kit: Path) -> None:
    shutil.copy(kit / "solutions" / "embed.py", kit / "exercises" / "embed.py")


def _no_solution(kit: Path) -> None:
    text = (kit / "solutions" / "similarity.py").read_text(encoding="utf-8")
    (kit / "solutions" / "similarity.py").write_text(text.replace("def rank(", "def rank_all("), encoding="utf-8")


def _no_hint(kit: Path) -> None:
    text = (kit / "course.toml").read_text(encoding="utf-8")
    start = text.index("hint = ", text.index('name = "cosine"'))
    end = text.index('"""', text.index('"""', start) + 3) + 3
    (kit / "course.toml").write_text(text[:start] + 'hint = " "' + text[end:], encoding="utf-8")


def _no_points(kit: Path) -> None:
    path = kit / "tests" / "test_2_similarity.py"
    text = path.read_text(encoding="utf-8")
    first = re.search(r"\n[ ]*@pytest\.mark\.points\([^)]*\)", text)
    assert first, "no points marker to take away"
    path.write_text(text[: first.start()] + text[first.end() :], encoding="utf-8")


def _two_mistakes(kit: Path) -> None:
    for path in sorted((kit / catalogue.MISTAKES_DIR / "classify").glob("*.py"))[2:]:
        path.unlink()


def _undeclared_part(kit: Path) -> None:
    _edit(kit / "course.toml", 'beyond = "Beyond the section"\n', "")


def _a_set_lacks_requests(kit: Path) -> None:
    (kit / "cassettes" / SETS[-1] / "test_1_embed.yaml").unlink()


GAPS = {
    "a stub that does not raise": (_answered_stub, "the stub embed in exercises/embed.py does more than raise NotImplementedError"),
    "a missing solution": (_no_solution, "exercise 'rank': solutions/similarity.py has no solution rank"),
    "a missing hint": (_no_hint, "exercise 2 needs 'hint'"),
    "a test module without points": (_no_points, "tests/test_2_similarity.py::"),
    "fewer than three mistakes": (_two_mistakes, "exercise 'classify' has 2 mistake(s) in selftests/grading/mistakes/classify/"),
    "a part not declared": (_undeclared_part, "has part 'beyond', which [parts] does not declare"),
    "a cassette set that lacks a test's requests": (_a_set_lacks_requests, f"cassette set {SETS[-1]!r} lacks the requests of tests/test_1_embed.py::"),
}


@pytest.mark.parametrize("gap", GAPS)
def test_a_gap_fails_the_check_naming_it(tmp_path, gap):
    kit = copy_course(tmp_path / "kit")
    breaks, named = GAPS[gap]
    breaks(kit)
    done = dev_check(kit)
    assert done.returncode == 1, done.stdout + done.stderr
    assert named in done.stdout, done.stdout + done.stderr
    if gap == "a test module without points":
        assert "has no points" in done.stdout


def test_dev_new_writes_an_exercise_and_the_check_says_what_is_missing(tmp_path):
    kit = copy_course(tmp_path / "kit")
    done = run_cli("dev", "new", "lengths", "--part", "beyond", f"--root={kit}", cwd=kit)
    assert done.returncode == 0, done.stdout + done.stderr
    test = next((kit / "tests").glob("test_*_lengths.py"))
    for path in (kit / "exercises" / "lengths.py", kit / "solutions" / "lengths.py", test):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    assert 'raise NotImplementedError(hint("lengths"))' in (kit / "exercises" / "lengths.py").read_text()
    assert "@pytest.mark.points(1)" in test.read_text()
    mistake = next((kit / catalogue.MISTAKES_DIR / "lengths").glob("*.py"))
    assert catalogue.read_mistake(mistake).test in test.read_text()
    checked = dev_check(kit)
    assert checked.returncode == 1
    assert "exercise 'lengths' has 1 mistake(s)" in checked.stdout, checked.stdout + checked.stderr
    for extra in ("a", "b"):  # with three mistakes, what is left is recording the new requests
        shutil.copy(mistake, mistake.with_name(f"lengths-{extra}.py"))
    checked = dev_check(kit)
    assert checked.returncode == 1
    assert f"cassette set {SETS[0]!r} lacks the requests of tests/{test.name}::test_returns_the_length_of_each_vector" in checked.stdout
    again = run_cli("dev", "new", "lengths", "--part", "beyond", f"--root={kit}", cwd=kit)
    assert again.returncode == 2 and "lists an exercise 'lengths' already" in again.stderr
    other = run_cli("dev", "new", "other", "--part", "nowhere", f"--root={kit}", cwd=kit)
    assert other.returncode == 2 and "part 'nowhere' is not declared" in other.stderr
