"""`embedlab grade --shard K/N` and `--merge`: a class graded on several machines gets the gradebook
and results files that one machine gives it, byte for byte; a set of parts with a hole in it is
refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, run_cli
from .submissions import build


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("shards")
    klass = base / "class"
    build(klass / "alice", ROOT / "solutions", {})
    build(klass / "bob", ROOT / "exercises", {})
    build(klass / "carol", ROOT / "solutions", {"similarity.py": "def cosine(a, b):\n    return 1.0\n"})
    (klass / "dave").mkdir()
    shutil.copy(ROOT / "solutions" / "embed.py", klass / "dave" / "embed.py")  # just one file, no folder
    (klass / "eve").mkdir()  # nothing handed in
    single = run_cli("grade", str(klass), "--out", str(base / "single" / "grades.csv"), "--jobs", "2")
    assert single.returncode == 0, single.stdout + single.stderr
    for k in (1, 2, 3):
        part = run_cli("grade", str(klass), "--shard", f"{k}/3", "--out", str(base / "parts" / f"shard-{k}" / "grades.csv"), "--jobs", "2")
        assert part.returncode == 0, part.stdout + part.stderr
    return {"base": base, "single": base / "single", "parts": base / "parts"}


def test_the_shards_are_disjoint_shares_of_the_class(graded):
    names = []
    for k in (1, 2, 3):
        rows = (graded["parts"] / f"shard-{k}" / "grades.csv").read_text().splitlines()[1:]
        names.append([row.split(",")[0] for row in rows])
    assert names == [["alice", "dave"], ["bob", "eve"], ["carol"]]


def test_merged_shards_are_what_one_machine_writes(graded, tmp_path):
    done = run_cli("grade", "--merge", str(graded["parts"]), "--out", str(tmp_path / "grades.csv"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "grades.csv").read_text() == (graded["single"] / "grades.csv").read_text()
    ours = {p.name: p.read_bytes() for p in (tmp_path / "grades-results").iterdir()}
    theirs = {p.name: p.read_bytes() for p in (graded["single"] / "grades-results").iterdir()}
    assert ours == theirs and len([n for n in ours if n.endswith(".json")]) == 5 and ".gitignore" in ours
    rows = {line.split(",")[0]: line.split(",")[1:4] for line in (tmp_path / "grades.csv").read_text().splitlines()[1:]}
    assert rows["alice"] == ["graded", "95", "95"] and rows["bob"] == ["graded", "0", "95"]
    assert rows["dave"] == ["graded", "14", "95"]  # just embed.py, with no __init__.py: graded, not the kit's stub
    assert rows["eve"] == ["empty", "0", "95"]  # every test listed at 0, out of the class's points


def test_a_missing_or_doubled_shard_is_refused(graded, tmp_path):
    parts = graded["parts"]
    missing = run_cli("grade", "--merge", str(parts / "shard-1"), str(parts / "shard-3"), "--out", str(tmp_path / "a.csv"))
    assert missing.returncode == 2 and "missing 2/3" in missing.stderr
    twice = tmp_path / "copy"
    shutil.copytree(parts / "shard-1", twice)
    doubled = run_cli("grade", "--merge", str(parts), str(twice), "--out", str(tmp_path / "b.csv"))
    assert doubled.returncode == 2 and "given twice" in doubled.stderr
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()
