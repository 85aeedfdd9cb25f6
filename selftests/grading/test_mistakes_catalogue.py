"""The mistakes catalogue's files are real Python that says what it expects (embedlab.dev.catalogue)."""

from __future__ import annotations

import ast

from embedlab import course
from embedlab.dev import catalogue

from .conftest import ROOT


def test_every_mistake_file_parses_and_names_its_exercise_file_and_test():
    found = catalogue.mistakes(ROOT)
    names = course.load(ROOT / course.FILENAME)
    assert len(found) >= 3 * len(names.exercises)
    for mistake in found:
        where = f"{catalogue.MISTAKES_DIR}/{mistake.exercise}/{mistake.name}.py"
        assert names.get(mistake.exercise) is not None, f"{where}: no exercise {mistake.exercise!r} in course.toml"
        assert mistake.file in names.files, f"{where}: file {mistake.file!r} is no exercise's file"
        if mistake.parses:
            ast.parse((ROOT / where).read_text(encoding="utf-8"), filename=where)  # the whole file: header and code
        else:
            try:
                ast.parse(mistake.source)
            except SyntaxError:
                continue
            raise AssertionError(f"{where} says 'parses: no' but its code parses")


def test_every_variant_file_parses():
    for name, changes in catalogue.variants(ROOT).items():
        for file, source in changes.items():
            ast.parse(source, filename=f"{name}/{file}")
