"""README and docs/learners.md show the exercise table that course.toml renders, and README stays a
front door: editing the catalogue without `python -m embedlab.course --readme` is caught here."""

from __future__ import annotations

import shutil

from embedlab import course

from .conftest import ROOT


def test_the_exercise_tables_are_rendered_from_course_toml():
    assert course.stale_tables(ROOT) == [], "after editing course.toml: python -m embedlab.course --readme"


def test_an_edited_catalogue_is_caught_and_regenerated(tmp_path):
    for name in ("course.toml", "README.md", "docs/learners.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises", ignore=shutil.ignore_patterns("__pycache__"))
    text = (tmp_path / "course.toml").read_text(encoding="utf-8")
    head, *entries = text.split("[[exercises]]")
    (tmp_path / "course.toml").write_text(head + "[[exercises]]".join(["", *reversed(entries)]), encoding="utf-8")
    assert course.stale_tables(tmp_path) == list(course.TABLE_FILES)
    assert course.write_tables(tmp_path) == list(course.TABLE_FILES)
    assert course.stale_tables(tmp_path) == []
    assert "`classify`" in (tmp_path / "README.md").read_text(encoding="utf-8").split("`embed`")[0]


def test_the_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    for page in ("docs/learners.md", "docs/instructors.md", "docs/design.md", "docs/server.md", "benchmarks/RESULTS.md"):
        assert f"]({page})" in readme and (ROOT / page).is_file(), page
