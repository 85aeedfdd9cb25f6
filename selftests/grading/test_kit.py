"""The kit's promises about itself: the integrity manifest is current and catches edits, the
README's two commands are the ones CI runs, and nothing imports the solutions behind the tests'
back."""

from __future__ import annotations

import re
import shutil

from embedlab.instructor import integrity

from .conftest import ROOT, run_cli


def test_the_integrity_manifest_is_current():
    done = run_cli("integrity", "check")
    assert done.returncode == 0, done.stdout + "\n(after changing tests or cassettes: embedlab integrity write)"


def test_the_integrity_check_catches_an_edited_test_or_cassette(tmp_path):
    copy = tmp_path / "kit"
    for name in ("tests", "cassettes"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "course.toml", integrity.MANIFEST):
        shutil.copy(ROOT / name, copy / name)
    assert integrity.check(copy) == []
    (copy / "tests" / "test_1_embed.py").write_text("def test_free_points():\n    pass\n")
    (copy / "cassettes" / "extra.yaml").write_text("{}\n")
    assert integrity.check(copy) == ["changed: tests/test_1_embed.py", "not in the manifest: cassettes/extra.yaml"]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_the_readme_gives_two_commands_and_ci_runs_the_second():
    grade, selftest = readme_commands()
    assert grade.endswith(".venv/bin/pytest") and "pip install -e ." in grade
    assert selftest in (ROOT / ".ci" / "run").read_text()


def test_tests_never_import_the_solutions():
    for path in (ROOT / "tests").glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+solutions\b", path.read_text(), re.M), path
