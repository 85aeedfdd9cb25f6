"""`embedlab watch` in a real pseudo-terminal: from "not started" to "10 of 10 done" by edits alone,
with the keys h (hint), l (list) and q (quit). The exercises are a temporary copy of the stubs;
the watcher is killed at the end whatever happens."""

from __future__ import annotations

import shutil
import sys

import pytest

from .conftest import ROOT, clean_env

pexpect = pytest.importorskip("pexpect", reason="the watch test needs the dev extra (pexpect)")


def test_watch_takes_a_learner_from_not_started_to_done(tmp_path):
    exercises = tmp_path / "exercises"
    shutil.copytree(ROOT / "exercises", exercises, ignore=shutil.ignore_patterns("__pycache__"))
    child = pexpect.spawn(
        sys.executable, ["-m", "embedlab", "watch", "--exercises-dir", str(exercises)],
        cwd=str(ROOT), env=clean_env(), dimensions=(40, 100), encoding="utf-8", timeout=60,
    )  # fmt: skip
    try:
        child.expect("0 of 10 exercises done")
        child.expect("quit")
        child.send("h")
        child.expect("Hint for embed:")
        child.expect("quit")
        shutil.copy(ROOT / "solutions" / "embed.py", exercises / "embed.py")
        child.expect("1 of 10 exercises done")
        child.expect(r"embed passes! Next: cosine\.")
        child.expect("quit")
        child.send("l")
        child.expect(r"> not started\s+cosine")
        child.expect("quit")
        shutil.copy(ROOT / "solutions" / "similarity.py", exercises / "similarity.py")
        child.expect("2 of 10|3 of 10")
        child.expect("cosine, rank pass")
        shutil.copy(ROOT / "solutions" / "challenges.py", exercises / "challenges.py")
        child.expect("6 of 10 exercises done")
        child.expect("batch_vs_loop pass")
        shutil.copy(ROOT / "solutions" / "applications.py", exercises / "applications.py")
        child.expect("10 of 10 exercises done")
        child.expect("classify pass")
        child.expect("All exercises are done")
        child.expect("quit")
        child.send("q")
        child.expect(pexpect.EOF, timeout=20)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
