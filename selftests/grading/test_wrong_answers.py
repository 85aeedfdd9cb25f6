"""A grader is only as good as the wrong answers it catches.

A generated class — one plausible mistake per submission, correct variants, and accidents (a hang,
an exit at import, a syntax error, an import of the solutions, megabytes of output, a process
that kills itself, edited tests, an empty folder) — is graded with `embedlab grade --jobs 2`, as
an instructor would. Each mistake must fail the test named for it, on every cassette set, with a
message that says why; each correct variant must get full marks on every cassette set; the
accidents cost only their own submission, and nothing of the instructor's changes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, SETS, run_cli
from .submissions import MISTAKES, VARIANTS, build

ACCIDENTS = {"hangs-forever", "exits-at-import", "syntax-error", "imports-the-solutions", "prints-megabytes"}
KILLS_ITSELF = "import os\n\n\ndef cosine(a, b):\n    os._exit(0)\n"


def snapshot() -> dict[str, str]:
    """The instructor's files that grading must never touch, by content."""
    files = [p for top in ("tests", "cassettes", "exercises", "solutions") for p in (ROOT / top).rglob("*")]
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file() and "__pycache__" not in p.parts}


def grade_class(folder: Path, cassettes: str) -> tuple[dict[str, dict], dict[str, dict]]:
    out = folder.parent / f"grades-{cassettes}.csv"
    done = run_cli(
        # 10 s a call: a correct top_k that copies 100,000 × 384 float32 rows to float64 needs more than 3
        # on a busy 2-core machine
        "grade", str(folder), f"--out={out}", "--jobs=2", "--test-timeout=10", "--timeout=120", f"--cassettes={cassettes}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    results_dir = out.with_name(out.stem + "-results")
    results = {name: json.loads((results_dir / f"{name}.json").read_text()) for name in rows}
    return rows, results


@pytest.fixture(scope="module")
def default_class(tmp_path_factory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("class") / "submissions"
    for mistake in MISTAKES:
        build(folder / mistake.name, ROOT / "solutions", {mistake.file: mistake.source})
    for variant in VARIANTS:
        build(folder / f"variant-{variant.name}", ROOT / "solutions", variant.changes)
    build(folder / "reference", ROOT / "solutions", {})
    build(folder / "kills-itself", ROOT / "solutions", {"similarity.py": KILLS_ITSELF})
    edited = build(folder / "edited-tests", ROOT / "solutions", {})
    shutil.copytree(ROOT / "tests", edited / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (edited / "tests" / "test_1_embed.py").write_text("def test_everything():\n    pass\n")
    (folder / "empty").mkdir()
    before = snapshot()
    graded = grade_class(folder, SETS[0])
    assert snapshot() == before, "grading the class changed the instructor's files"
    return graded


@pytest.fixture(scope="module")
def other_sets(tmp_path_factory) -> dict[str, tuple[dict, dict]]:
    graded = {}
    for name in SETS[1:]:
        folder = tmp_path_factory.mktemp(f"class-{name}") / "submissions"
        for variant in VARIANTS:
            build(folder / f"variant-{variant.name}", ROOT / "solutions", variant.changes)
        for mistake in MISTAKES:
            if mistake.name not in ACCIDENTS:  # the accidents are the grader's business, set by set alike
                build(folder / mistake.name, ROOT / "solutions", {mistake.file: mistake.source})
        build(folder / "reference", ROOT / "solutions", {})
        graded[name] = grade_class(folder, name)
    return graded


def test_there_are_two_cassette_sets_of_different_models():
    assert len(SETS) >= 2, SETS
    models = {json.loads((ROOT / "cassettes" / s / "manifest.json").read_text())["model"] for s in SETS}
    assert len(models) == len(SETS)


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_each_mistake_fails_its_test_with_a_reason(default_class, other_sets, mistake):
    check_caught(*default_class, mistake)
    if mistake.name not in ACCIDENTS:
        for rows, results in other_sets.values():  # on every set: no mistake survives on one model's numbers
            check_caught(rows, results, mistake)


def check_caught(rows: dict, results: dict, mistake) -> None:
    tests = results[mistake.name]["tests"]
    caught = [t for t in tests if mistake.test in t["extra_data"]["nodeid"]]
    assert caught, f"no test matches {mistake.test!r}"
    for test in caught:
        assert test["extra_data"]["embedlab_status"] == "failed", test
        assert mistake.says in test["output"], test["output"]
    assert float(rows[mistake.name]["score"]) < float(rows[mistake.name]["max_score"])


@pytest.mark.parametrize("variant", ["reference", *(f"variant-{v.name}" for v in VARIANTS)])
def test_correct_variants_get_full_marks_on_every_set(default_class, other_sets, variant):
    for name, (rows, results) in [(SETS[0], default_class), *other_sets.items()]:
        row = rows[variant]
        failing = [t["name"] + ": " + t["output"] for t in results[variant]["tests"] if t.get("status") != "passed" and "live" not in t["tags"]]
        assert not failing, (name, failing)
        assert row["status"] == "graded" and row["score"] == row["max_score"], (name, row)


def test_accidents_cost_only_their_own_submission(default_class):
    rows, results = default_class
    killed = rows["kills-itself"]  # os._exit in cosine costs cosine's tests (and what calls it), nothing else
    assert killed["status"] == "graded" and float(killed["cosine"]) == 0 and float(killed["embed"]) > 0
    assert "ended the whole process" in killed["reason"]
    assert rows["empty"]["status"] == "empty"
    assert "imports solutions" in rows["imports-the-solutions"]["flags"]
    assert "ships edited tests (test_1_embed.py" in rows["edited-tests"]["flags"]
    assert rows["edited-tests"]["score"] == rows["edited-tests"]["max_score"]  # graded with our tests
    assert "printed" in rows["prints-megabytes"]["flags"]
    hung = rows["hangs-forever"]
    assert hung["status"] == "graded" and float(hung["embed"]) > 0 and float(hung["batch_vs_loop"]) == 0
    exited = rows["exits-at-import"]
    assert exited["status"] == "graded" and float(exited["cosine"]) > 0
    # every submission has its row and its results.json, whatever happened to it
    assert len(rows) == len(MISTAKES) + len(VARIANTS) + 4
