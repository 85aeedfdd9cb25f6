"""The tools that keep the kit's code tidy, run as selftests so `pytest selftests` stays CI's one
command: ruff's lint and format check and mypy on embedlab/ (configured in pyproject.toml), and
every `noqa` or `type: ignore` left in embedlab/ saying why."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: it is in the dev extra (pip install -e '.[dev]')")
    return str(found)


def _run(*argv: str) -> None:
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"`{' '.join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))}` found:\n{done.stdout[-6000:]}{done.stderr[-2000:]}"


def test_ruff_lint():
    _run(_tool("ruff"), "check", "--no-cache", "embedlab")


def test_ruff_format():
    _run(_tool("ruff"), "format", "--check", "--no-cache", "embedlab")


@pytest.mark.xfail(reason="issue 27, item 7: mypy still finds 55 errors in embedlab/ (mostly None not narrowed); not strict, so it shows XPASS once they are fixed", strict=False)
def test_mypy():
    _run(_tool("mypy"), "--no-incremental", "--cache-dir", "/dev/null")


BARE = re.compile(r"#\s*(noqa(:\s*[A-Z0-9, ]+)?|type:\s*ignore(\[[^\]]*\])?)\s*$")


def test_every_noqa_says_why():
    bare = []
    for path in sorted((ROOT / "embedlab").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BARE.search(line):
                bare.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not bare, "a noqa or type: ignore without its reason:\n" + "\n".join(bare)
